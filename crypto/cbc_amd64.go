//go:build amd64 && !purego

package crypto

import (
	"crypto/aes"

	"golang.org/x/sys/cpu"
)

// aesDecKeys is an AES-256 key's decryption schedule, as AESDEC takes it: the round keys
// in reverse, the middle thirteen through InvMixColumns.
type aesDecKeys [15 * aes.BlockSize]byte

//go:noescape
func expandDecKeys256(key *[32]byte, dec *aesDecKeys)

//go:noescape
func cbcDecryptAESNI(dec *aesDecKeys, iv *[aes.BlockSize]byte, buf *byte, n int)

// newCBCDecrypter returns the eight-blocks-at-once decrypter for key where the CPU has
// AES-NI, else nil (the block-by-block cbcDecrypt is used).
func newCBCDecrypter(key *[KeySize]byte) *aesDecKeys {
	if !cpu.X86.HasAES {
		return nil
	}
	dec := new(aesDecKeys)
	expandDecKeys256(key, dec)
	return dec
}

// decrypt is AES-256-CBC decryption in place over whole blocks.
func (d *aesDecKeys) decrypt(iv *[aes.BlockSize]byte, buf []byte) {
	if len(buf) == 0 {
		return
	}
	cbcDecryptAESNI(d, iv, &buf[0], len(buf)&^(aes.BlockSize-1))
}
