package main

import (
	"errors"
	"net"
	"syscall"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/fxa"
	"github.com/syncctl/syncctl/storage"
)

// exitCodeOf maps an error to the documented exit codes: 3 for authentication (a wrong
// secret or sync key), 4 for a server that is away or asked us to back off.
func exitCodeOf(err error) int {
	var coded *codedError
	var netErr *net.OpError
	switch {
	case errors.As(err, &coded):
		return coded.code
	case errors.Is(err, storage.ErrUnauthorized), errors.Is(err, engine.ErrWrongSyncKey), errors.Is(err, engine.ErrLoggedOut),
		errors.Is(err, fxa.ErrInvalidToken):
		return exitAuth
	case errors.Is(err, storage.ErrBackoff), errors.Is(err, storage.ErrUnavailable), errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &netErr):
		return exitUnavailable
	case isUsageError(err):
		return exitUsage
	}
	return exitError
}
