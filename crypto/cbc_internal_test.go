package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

// The hand-written CBC agrees with the standard library's, both ways, at every length
// from one block to 64.
func TestCBCMatchesTheStandardLibrary(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for blocks := 1; blocks <= 64; blocks++ {
		plain := make([]byte, blocks*aes.BlockSize)
		iv := make([]byte, aes.BlockSize)
		rand.Read(plain)
		rand.Read(iv)
		ivBefore := bytes.Clone(iv)

		want := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(want, plain)
		got := bytes.Clone(plain)
		cbcEncrypt(block, iv, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d blocks: encryption differs from crypto/cipher's", blocks)
		}
		cbcDecrypt(block, iv, got)
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d blocks: decryption did not give the plaintext back", blocks)
		}
		if !bytes.Equal(iv, ivBefore) {
			t.Fatalf("%d blocks: the IV was written to", blocks)
		}
	}
}
