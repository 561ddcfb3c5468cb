package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/fxa"
	"github.com/syncctl/syncctl/storage"
)

// exitCodeOf maps an error to the documented exit codes: 2 for usage, 3 for
// authentication (a wrong secret or sync key), 4 for a server that cannot be reached,
// is failing over, or asked us to back off; 1 for everything else.
func exitCodeOf(err error) int {
	var coded *codedError
	if errors.As(err, &coded) {
		return coded.code
	}
	switch {
	case errors.Is(err, storage.ErrUnauthorized), errors.Is(err, engine.ErrWrongSyncKey), errors.Is(err, engine.ErrLoggedOut),
		errors.Is(err, fxa.ErrInvalidToken):
		return exitAuth
	case unreachable(err):
		return exitUnavailable
	case strings.HasPrefix(err.Error(), "unknown command"):
		return exitUsage
	}
	return exitError
}

// unreachable is an error that says the server is away, going away, or asked for a
// pause, whatever moment of a request it struck at: refused, reset, cut mid-body, not in
// DNS, timed out, 503 or backoff.
func unreachable(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.Is(err, storage.ErrBackoff), errors.Is(err, storage.ErrUnavailable):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	case errors.As(err, &urlErr) && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return false
}

// explain turns the errors people meet into one line that says what happened in their
// terms, without Go types, URLs with tokens in them, or HTTP jargon where a word does.
func explain(err error) string {
	var h *hinted
	if errors.As(err, &h) {
		return h.Error()
	}
	var backoff *storage.BackoffError
	var httpErr *storage.HTTPError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case errors.As(err, &backoff):
		return fmt.Sprintf("the server asked for no requests until %s: try again then", backoff.Until.Local().Format("15:04:05 MST"))
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot find the server %q (DNS: %s): check the address and the network", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach the server at %s: nothing is listening there", hostOf(err))
	case unreachable(err) && !errors.As(err, &httpErr) && (errors.As(err, &urlErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Sprintf("the connection to %s broke off (%s): the server is down or restarting", hostOf(err), innermost(err))
	case errors.As(err, &httpErr):
		what := httpErr.Method + " " + pathOf(httpErr.URL)
		switch {
		case httpErr.Status == 404:
			return fmt.Sprintf("not on the server (%s)", what)
		case httpErr.Status >= 500:
			return fmt.Sprintf("the server failed: %d %s (%s)", httpErr.Status, statusText(httpErr.Status), what)
		}
		return fmt.Sprintf("the server refused the request: %d %s (%s)", httpErr.Status, statusText(httpErr.Status), what)
	}
	return err.Error()
}

func statusText(code int) string {
	if s := strings.ToLower(http.StatusText(code)); s != "" {
		return s
	}
	return "error"
}

// pathOf is a storage URL's path below the user's node (/storage/bookmarks/x), never
// its host or query.
func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "a request"
	}
	p := u.Path
	if i := strings.Index(p, "/storage/"); i >= 0 {
		return p[i:]
	}
	if i := strings.Index(p, "/info/"); i >= 0 {
		return p[i:]
	}
	return p
}

func hostOf(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			return u.Host
		}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Addr != nil {
		return opErr.Addr.String()
	}
	return "the server"
}

func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// exitBackoff is the error for a command refused because the server asked for a pause.
func backoffUntil(until time.Time) error { return &storage.BackoffError{Until: until} }

// hinted is an error explained in a person's terms, with what to do around it, that
// keeps its cause for the exit code.
type hinted struct {
	before, after string
	err           error
}

func (h *hinted) Error() string { return h.before + explain(h.err) + h.after }
func (h *hinted) Unwrap() error { return h.err }
