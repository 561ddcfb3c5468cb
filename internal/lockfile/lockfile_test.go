package lockfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestASecondHolderWaitsUntilTheFirstReleases(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "profile.lock")
	first, err := Acquire(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	var told int
	_, err = Acquire(ctx, path, func(pid int) { told = pid })
	var busy *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &busy) {
		t.Fatalf("second Acquire while held: %v", err)
	}
	if told != os.Getpid() || busy.PID != os.Getpid() {
		t.Errorf("holder reported as %d / %d, want %d", told, busy.PID, os.Getpid())
	}

	got := make(chan error, 1)
	go func() {
		l, err := Acquire(context.Background(), path, nil)
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	time.Sleep(2 * pollEvery)
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if err := first.Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
}
