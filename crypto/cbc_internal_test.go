package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
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

// The eight-blocks-at-once decrypter agrees with the standard library's for fresh keys
// at every length from 0 to 40 blocks (groups of eight, a rest, and both), in place,
// leaving the IV as it was, and past a group boundary the chain is the right ciphertext.
func TestCBCDecrypterMatchesTheStandardLibrary(t *testing.T) {
	t.Parallel()
	for range 50 {
		var key [KeySize]byte
		rand.Read(key[:])
		dec := newCBCDecrypter(&key)
		if dec == nil {
			t.Skip("no AES-NI decrypter on this machine")
		}
		block, err := aes.NewCipher(key[:])
		if err != nil {
			t.Fatal(err)
		}
		for blocks := 0; blocks <= 40; blocks++ {
			plain := make([]byte, blocks*aes.BlockSize)
			var iv [aes.BlockSize]byte
			rand.Read(plain)
			rand.Read(iv[:])
			ivBefore := iv
			ct := make([]byte, len(plain))
			cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(ct, plain)
			got := bytes.Clone(ct)
			dec.decrypt(&iv, got)
			if !bytes.Equal(got, plain) {
				t.Fatalf("%d blocks: the plaintext did not come back", blocks)
			}
			if iv != ivBefore {
				t.Fatalf("%d blocks: the IV was written to", blocks)
			}
		}
	}
}

// A key the published AES-256 vector (FIPS-197, appendix C.3) uses decrypts its
// ciphertext to its plaintext: the schedule is AES's, not merely self-consistent.
func TestCBCDecrypterKnownAnswer(t *testing.T) {
	var key [KeySize]byte
	for i := range key {
		key[i] = byte(i)
	}
	dec := newCBCDecrypter(&key)
	if dec == nil {
		t.Skip("no AES-NI decrypter on this machine")
	}
	ct, _ := hex.DecodeString("8ea2b7ca516745bfeafc49904b496089")
	var iv [aes.BlockSize]byte // a zero IV makes one CBC block plain AES
	dec.decrypt(&iv, ct)
	if got := hex.EncodeToString(ct); got != "00112233445566778899aabbccddeeff" {
		t.Fatalf("decrypted to %s", got)
	}
}

// FuzzCBCDecrypter: for any key, IV and whole blocks, the AES-NI decrypter gives what
// crypto/cipher's CBC decrypter gives.
func FuzzCBCDecrypter(f *testing.F) {
	f.Add(make([]byte, KeySize), make([]byte, aes.BlockSize), make([]byte, 9*aes.BlockSize))
	f.Fuzz(func(t *testing.T, keyBytes, ivBytes, data []byte) {
		if len(keyBytes) < KeySize || len(ivBytes) < aes.BlockSize {
			return
		}
		var key [KeySize]byte
		var iv [aes.BlockSize]byte
		copy(key[:], keyBytes)
		copy(iv[:], ivBytes)
		dec := newCBCDecrypter(&key)
		if dec == nil {
			t.Skip("no AES-NI decrypter on this machine")
		}
		data = data[:len(data)&^(aes.BlockSize-1)]
		block, _ := aes.NewCipher(key[:])
		want := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(want, data)
		got := bytes.Clone(data)
		dec.decrypt(&iv, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: differs from crypto/cipher", len(data))
		}
	})
}
