package server

import "testing"

// A pooled body buffer holds what was asked and goes back to the class it came from; a
// small or huge body is not pooled.
func TestBodyBuffersAreClassedBySize(t *testing.T) {
	for _, n := range []int64{0, 100, minPooledBody - 1, minPooledBody, minPooledBody + 1, 1 << 20, 1<<20 + 1, maxPooledBody, maxPooledBody + 1} {
		b := bodyBuffer(n)
		if int64(len(b)) != n {
			t.Fatalf("asked %d, got %d", n, len(b))
		}
		pooled := n >= minPooledBody && n <= maxPooledBody
		if want := int64(minPooledBody) << bodyClass(n); pooled && int64(cap(b)) != want {
			t.Errorf("%d bytes: capacity %d, want %d", n, cap(b), want)
		}
		if !pooled && int64(cap(b)) != n {
			t.Errorf("%d bytes, not pooled: capacity %d", n, cap(b))
		}
		releaseBody(b)
		if again := bodyBuffer(n); int64(len(again)) != n {
			t.Fatalf("asked %d again, got %d", n, len(again))
		}
	}
}
