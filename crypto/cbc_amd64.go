//go:build amd64 && !purego

package crypto

import (
	"crypto/aes"

	"golang.org/x/sys/cpu"
)

// aesNI is an AES-256 key's two schedules, as AES-NI takes them: enc the round keys in
// order, dec in reverse with the middle thirteen through InvMixColumns.
type aesNI struct {
	enc, dec [15 * aes.BlockSize]byte
}

//go:noescape
func expandEncKeys256(key *[32]byte, enc *[15 * aes.BlockSize]byte)

//go:noescape
func expandDecKeys256(key *[32]byte, dec *[15 * aes.BlockSize]byte)

//go:noescape
func cbcEncryptAESNI(enc *[15 * aes.BlockSize]byte, iv *[aes.BlockSize]byte, buf *byte, n int)

//go:noescape
func cbcDecryptAESNI(dec *[15 * aes.BlockSize]byte, iv *[aes.BlockSize]byte, buf *byte, n int)

// newAESNI returns the AES-NI CBC for key where the CPU has AES-NI, else nil (the
// block-by-block cbcEncrypt and cbcDecrypt are used).
func newAESNI(key *[KeySize]byte) *aesNI {
	if !cpu.X86.HasAES {
		return nil
	}
	k := new(aesNI)
	expandEncKeys256(key, &k.enc)
	expandDecKeys256(key, &k.dec)
	return k
}

// encrypt is AES-256-CBC encryption in place over whole blocks.
func (k *aesNI) encrypt(iv *[aes.BlockSize]byte, buf []byte) {
	if len(buf) == 0 {
		return
	}
	cbcEncryptAESNI(&k.enc, iv, &buf[0], len(buf)&^(aes.BlockSize-1))
}

// decrypt is AES-256-CBC decryption in place over whole blocks, eight at once.
func (k *aesNI) decrypt(iv *[aes.BlockSize]byte, buf []byte) {
	if len(buf) == 0 {
		return
	}
	cbcDecryptAESNI(&k.dec, iv, &buf[0], len(buf)&^(aes.BlockSize-1))
}
