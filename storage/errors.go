package storage

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. An *HTTPError matches the one for its status with errors.Is.
var (
	ErrUnauthorized     = errors.New("storage: unauthorized (401)")
	ErrNotFound         = errors.New("storage: not found (404)")
	ErrConflict         = errors.New("storage: modified by another client (412)")
	ErrTooLarge         = errors.New("storage: request too large (413)")
	ErrOverQuota        = errors.New("storage: over quota")
	ErrUnavailable      = errors.New("storage: server unavailable")
	ErrBackoff          = errors.New("storage: server asked us to back off")
	ErrNodeReassigned   = errors.New("storage: node reassigned; local sync state must be reset")
	ErrCollectionMoved  = errors.New("storage: collection changed while paging")
	ErrBatchUnsupported = errors.New("storage: server does not support batch uploads")
	ErrRecordTooLarge   = errors.New("storage: record larger than the server accepts")
	ErrDecommissioned   = errors.New("storage: service decommissioned (513)")
)

// HTTPError is a non-success answer. WeaveCode is the numeric WEAVE body, or -1.
type HTTPError struct {
	Method, URL string
	Status      int
	WeaveCode   int
	Body        string
	RetryAfter  time.Duration
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.WeaveCode >= 0 {
		msg += fmt.Sprintf(" (WEAVE %d: %s)", e.WeaveCode, weaveText[e.WeaveCode])
	}
	return msg
}

// Is maps statuses to the sentinel errors.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == 401
	case ErrNotFound:
		return e.Status == 404
	case ErrConflict:
		return e.Status == 412
	case ErrTooLarge:
		return e.Status == 413 || e.WeaveCode == 17
	case ErrOverQuota:
		return e.Status == 507 || e.WeaveCode == 14
	case ErrUnavailable:
		return e.Status == 503 || e.Status == 502 || e.Status == 504 || e.Status == 409 || e.Status == 429
	case ErrDecommissioned:
		return e.Status == 513
	}
	return false
}

var weaveText = map[int]string{
	0: "unknown", 1: "illegal method/protocol", 6: "JSON parse failure", 8: "invalid record",
	13: "invalid collection", 14: "over quota", 16: "client upgrade required", 17: "size limit exceeded",
}

func parseWeaveCode(body []byte) int {
	n, err := strconv.Atoi(strings.TrimSpace(string(body)))
	if err != nil || len(body) > 8 {
		return -1
	}
	return n
}

// BackoffError says the server asked for no requests until Until. It matches ErrBackoff
// and, when it came with a 503, ErrUnavailable.
type BackoffError struct {
	Until time.Time
	Cause error
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("storage: server asked for no requests until %s", e.Until.Format(time.RFC3339))
}

func (e *BackoffError) Is(target error) bool { return target == ErrBackoff }
func (e *BackoffError) Unwrap() error        { return e.Cause }
