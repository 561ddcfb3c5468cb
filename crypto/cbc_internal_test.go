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

// The AES-NI CBC agrees with the standard library's both ways, for fresh keys at every
// length from 0 to 40 blocks (for decryption: groups of eight, a rest, and both), in
// place, leaving the IV as it was; past a group boundary the chain is the right
// ciphertext.
func TestAESNIMatchesTheStandardLibrary(t *testing.T) {
	t.Parallel()
	for range 50 {
		var key [KeySize]byte
		rand.Read(key[:])
		ni := newAESNI(&key)
		if ni == nil {
			t.Skip("no AES-NI on this machine")
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
			got := bytes.Clone(plain)
			ni.encrypt(&iv, got)
			if !bytes.Equal(got, ct) {
				t.Fatalf("%d blocks: encryption differs from crypto/cipher's", blocks)
			}
			ni.decrypt(&iv, got)
			if !bytes.Equal(got, plain) {
				t.Fatalf("%d blocks: the plaintext did not come back", blocks)
			}
			if iv != ivBefore {
				t.Fatalf("%d blocks: the IV was written to", blocks)
			}
		}
	}
}

// The key of the published AES-256 vector (FIPS-197, appendix C.3) encrypts its
// plaintext to its ciphertext and back: the schedules are AES's, not merely consistent
// with each other.
func TestAESNIKnownAnswer(t *testing.T) {
	var key [KeySize]byte
	for i := range key {
		key[i] = byte(i)
	}
	ni := newAESNI(&key)
	if ni == nil {
		t.Skip("no AES-NI on this machine")
	}
	buf, _ := hex.DecodeString("00112233445566778899aabbccddeeff")
	var iv [aes.BlockSize]byte // a zero IV makes one CBC block plain AES
	ni.encrypt(&iv, buf)
	if got := hex.EncodeToString(buf); got != "8ea2b7ca516745bfeafc49904b496089" {
		t.Fatalf("encrypted to %s", got)
	}
	ni.decrypt(&iv, buf)
	if got := hex.EncodeToString(buf); got != "00112233445566778899aabbccddeeff" {
		t.Fatalf("decrypted to %s", got)
	}
}

// FuzzAESNI: for any key, IV and whole blocks, the AES-NI CBC gives what crypto/cipher's
// gives, both ways.
func FuzzAESNI(f *testing.F) {
	f.Add(make([]byte, KeySize), make([]byte, aes.BlockSize), make([]byte, 9*aes.BlockSize))
	f.Fuzz(func(t *testing.T, keyBytes, ivBytes, data []byte) {
		if len(keyBytes) < KeySize || len(ivBytes) < aes.BlockSize {
			return
		}
		var key [KeySize]byte
		var iv [aes.BlockSize]byte
		copy(key[:], keyBytes)
		copy(iv[:], ivBytes)
		ni := newAESNI(&key)
		if ni == nil {
			t.Skip("no AES-NI on this machine")
		}
		data = data[:len(data)&^(aes.BlockSize-1)]
		block, _ := aes.NewCipher(key[:])
		want := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(want, data)
		got := bytes.Clone(data)
		ni.decrypt(&iv, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: decryption differs from crypto/cipher", len(data))
		}
		cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(want, data)
		got = bytes.Clone(data)
		ni.encrypt(&iv, got)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: encryption differs from crypto/cipher", len(data))
		}
	})
}
