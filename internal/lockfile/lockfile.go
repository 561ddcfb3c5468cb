// Package lockfile is an advisory lock on a file, held by one process at a time, so
// that two processes never work on the same local state at once (two `syncctl sync` on
// one profile). The operating system releases it when the process ends, however it ends,
// so a crash leaves no stale lock behind.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrBusy: another process holds the lock, and went on holding it until the wait ended.
var ErrBusy = errors.New("lockfile: held by another process")

// BusyError says who holds the lock, where the system tells.
type BusyError struct {
	Path string
	PID  int // 0 when unknown
}

func (e *BusyError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is held by process %d", e.Path, e.PID)
	}
	return e.Path + " is held by another process"
}

// Unwrap makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Unwrap() error { return ErrBusy }

// Lock is a held lock.
type Lock struct{ f *os.File }

// pollEvery is how often a waiting Acquire tries again.
const pollEvery = 50 * time.Millisecond

// Acquire takes the lock at path, creating the file, waiting while another process holds
// it until ctx ends (then a *BusyError). onWait, if set, is called once when the wait
// begins, with the holder's process id (0 if unknown).
func Acquire(ctx context.Context, path string, onWait func(pid int)) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	waited := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lockfile: %s: %w", path, err)
		}
		if ok {
			// Who holds it, for the message another process may show.
			f.Truncate(0)
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return &Lock{f: f}, nil
		}
		if !waited && onWait != nil {
			onWait(holder(path))
		}
		waited = true
		select {
		case <-ctx.Done():
			f.Close()
			return nil, &BusyError{Path: path, PID: holder(path)}
		case <-time.After(pollEvery):
		}
	}
}

// holder reads the process id the holder wrote.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Release lets the lock go.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}
