//go:build !amd64 || purego

package crypto

import "crypto/aes"

// aesDecKeys: no eight-blocks-at-once decrypter on this architecture.
type aesDecKeys struct{}

func newCBCDecrypter(*[KeySize]byte) *aesDecKeys { return nil }

func (*aesDecKeys) decrypt(*[aes.BlockSize]byte, []byte) {
	panic("unreachable: newCBCDecrypter returned nil")
}
