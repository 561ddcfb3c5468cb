//go:build amd64 && !purego

package jsonscan

import "golang.org/x/sys/cpu"

//go:noescape
func plainRunAVX2(p *byte, n int) int

var haveAVX2 = cpu.X86.HasAVX2

// plainRunWide is the count of plain bytes at data[i:], 32 at a time with AVX2: it
// stops at the first byte that is not plain or fewer than 32 bytes before the end.
// ok is false where the CPU has no AVX2 (nothing was counted).
func plainRunWide(data []byte, i int) (n int, ok bool) {
	if !haveAVX2 {
		return 0, false
	}
	if len(data)-i < 32 {
		return 0, true
	}
	return plainRunAVX2(&data[i], len(data)-i), true
}
