//go:build !amd64 || purego

package jsonscan

var haveAVX2 = false

// plainRunWide: no vector scan on this architecture.
func plainRunWide([]byte, int) (int, bool) { return 0, false }
