// Package wbo is the record envelope of SyncStorage 1.5 (the BSO, formerly WBO): an id, the
// server's modified time, an optional sortindex and ttl, and an opaque payload. Every other
// package moves records in this shape; on the wire the payload is encrypted, inside the
// crypto middleware it is cleartext JSON.
package wbo
