// Package server is the embedded SyncStorage 1.5 server behind `syncctl serve`: every
// endpoint of the storage API, the batch upload API, a tokenserver-compatible token
// endpoint, and Hawk auth with tokenlib tokens derived from one master secret, as
// syncstorage-rs does. Data lives in SQLite (WAL). Every write is one transaction at one
// timestamp, and writes are serialized so a user's timestamps strictly increase.
//
// It follows syncstorage-rs wherever the spec is silent; README.md lists where it chose
// the spec instead.
package server
