//go:build !linux

package main

// echoOff does nothing here: term.ReadPassword turns echo off itself, once it runs.
func echoOff(int) (func(), error) { return func() {}, nil }
