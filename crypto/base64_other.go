//go:build !amd64 || purego

package crypto

// haveAVX2: no vector decoder on this architecture (or in a purego build).
var haveAVX2 = false

// decodeBase64Wide: the eight-character groups do it all.
func decodeBase64Wide(dst, src []byte) (si, di int) { return 0, 0 }
