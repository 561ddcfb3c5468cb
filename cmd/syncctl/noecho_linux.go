package main

import "golang.org/x/sys/unix"

// echoOff stops the terminal on fd echoing what is typed, and returns what puts it back.
// askSecret calls it before its question is shown: term.ReadPassword turns echo off only
// once it runs, and a secret typed (or pasted) as soon as the question appeared was
// echoed in between. Only echo changes: lines are still read whole, Ctrl-C still works.
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
