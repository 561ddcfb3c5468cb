//go:build !amd64 || purego

package crypto

import "crypto/aes"

// aesNI: no AES-NI CBC on this architecture.
type aesNI struct{}

func newAESNI(*[KeySize]byte) *aesNI { return nil }

func (*aesNI) encrypt(*[aes.BlockSize]byte, []byte) { panic("unreachable: newAESNI returned nil") }
func (*aesNI) decrypt(*[aes.BlockSize]byte, []byte) { panic("unreachable: newAESNI returned nil") }
