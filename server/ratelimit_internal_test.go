package server

import (
	"fmt"
	"testing"
	"time"
)

// A flood of addresses, or one address returning after each window, keeps the limiter
// within its bound.
func TestTheFailureLimiterIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newFailureLimiter(3, time.Minute, func() time.Time { return now })
	for i := range 3 * maxLimiterKeys {
		l.fail(fmt.Sprint("addr-", i))
	}
	if len(l.keys) > maxLimiterKeys {
		t.Errorf("%d keys held, the bound is %d", len(l.keys), maxLimiterKeys)
	}
	for range 1000 {
		now = now.Add(61 * time.Second)
		l.fail("returning")
		if l.wait("returning") != 0 {
			t.Fatal("one failure a window held the address back")
		}
	}
	for range 3 {
		l.fail("guesser")
	}
	if l.wait("guesser") <= 0 {
		t.Error("three failures in a minute did not hold the address back")
	}
}
