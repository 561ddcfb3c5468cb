package fxa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/crypto/hkdf"
)

// Web Push message encryption (RFC 8291 over RFC 8188's aes128gcm), which Firefox
// Accounts device commands use end to end: a sent tab is encrypted to the receiving
// device's P-256 key and auth secret, as Firefox's PushCrypto does.

// ErrWebPush: a Web Push message that does not open (wrong key, or damaged).
var ErrWebPush = errors.New("fxa: a Web Push message that does not open")

const webPushRecordSize = 4096

// webPushKeys derives the content key and nonce (RFC 8291 §3.3-3.4, RFC 8188 §2.2).
func webPushKeys(shared, authSecret, uaPublic, asPublic, salt []byte) (cek, nonce []byte) {
	info := append(append([]byte("WebPush: info\x00"), uaPublic...), asPublic...)
	ikm := make([]byte, 32)
	io.ReadFull(hkdf.New(sha256.New, shared, authSecret, info), ikm)
	prk := hkdf.Extract(sha256.New, ikm, salt)
	cek, nonce = make([]byte, 16), make([]byte, 12)
	io.ReadFull(hkdf.Expand(sha256.New, prk, []byte("Content-Encoding: aes128gcm\x00")), cek)
	io.ReadFull(hkdf.Expand(sha256.New, prk, []byte("Content-Encoding: nonce\x00")), nonce)
	return cek, nonce
}

// encryptWebPush encrypts plaintext (one record) to a receiver's public key (65-byte
// uncompressed P-256) and auth secret; eph and salt are fresh when nil.
func encryptWebPush(plaintext, uaPublic, authSecret []byte, eph *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, err
	}
	if eph == nil {
		if eph, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	if salt == nil {
		salt = make([]byte, 16)
		rand.Read(salt)
	}
	if len(plaintext)+1+16 > webPushRecordSize {
		return nil, errors.New("fxa: a Web Push message is at most one 4 KB record here")
	}
	shared, err := eph.ECDH(ua)
	if err != nil {
		return nil, err
	}
	asPublic := eph.PublicKey().Bytes()
	cek, nonce := webPushKeys(shared, authSecret, uaPublic, asPublic, salt)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	out := append([]byte{}, salt...)
	out = binary.BigEndian.AppendUint32(out, webPushRecordSize)
	out = append(out, byte(len(asPublic)))
	out = append(out, asPublic...)
	return gcm.Seal(out, nonce, append(append([]byte{}, plaintext...), 2), nil), nil // 2: the last record
}

// decryptWebPush opens a one-record message with the receiver's private key.
func decryptWebPush(msg []byte, ua *ecdh.PrivateKey, authSecret []byte) ([]byte, error) {
	if len(msg) < 21 {
		return nil, ErrWebPush
	}
	salt, idlen := msg[:16], int(msg[20])
	if len(msg) < 21+idlen+17 {
		return nil, ErrWebPush
	}
	as, err := ecdh.P256().NewPublicKey(msg[21 : 21+idlen])
	if err != nil {
		return nil, ErrWebPush
	}
	shared, err := ua.ECDH(as)
	if err != nil {
		return nil, ErrWebPush
	}
	cek, nonce := webPushKeys(shared, authSecret, ua.PublicKey().Bytes(), as.Bytes(), salt)
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, msg[21+idlen:], nil)
	if err != nil || len(plain) == 0 || plain[len(plain)-1] != 2 {
		return nil, ErrWebPush
	}
	return plain[:len(plain)-1], nil
}
