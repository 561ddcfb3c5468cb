package fxa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrJWE reports a keys_jwe that is not a compact ECDH-ES + A256GCM JWE we can open.
var ErrJWE = errors.New("fxa: bad keys_jwe")

// DecryptJWE opens the compact JWE (alg ECDH-ES, enc A256GCM) that the OAuth flow
// returns as keys_jwe, with the ephemeral P-256 key the client made for the request. The
// plaintext maps each scope to its JWK (for oldsync, "k" is kSync).
func DecryptJWE(compact string, priv *ecdh.PrivateKey) ([]byte, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 5 || parts[1] != "" {
		return nil, fmt.Errorf("%w: want 5 parts and no encrypted key", ErrJWE)
	}
	b64 := base64.RawURLEncoding
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrJWE, err)
	}
	var hdr struct {
		Alg, Enc string
		Epk      struct{ Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr.Alg != "ECDH-ES" || hdr.Enc != "A256GCM" || hdr.Epk.Crv != "P-256" {
		return nil, fmt.Errorf("%w: want ECDH-ES, A256GCM and a P-256 key", ErrJWE)
	}
	x, err1 := b64.DecodeString(hdr.Epk.X)
	y, err2 := b64.DecodeString(hdr.Epk.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("%w: epk", ErrJWE)
	}
	epk, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("%w: epk: %v", ErrJWE, err)
	}
	z, err := priv.ECDH(epk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWE, err)
	}
	// Concat KDF (RFC 7518 §4.6.2), one round of SHA-256 for a 256-bit key.
	h := sha256.New()
	h.Write([]byte{0, 0, 0, 1})
	h.Write(z)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(hdr.Enc)))
	h.Write(n[:])
	h.Write([]byte(hdr.Enc))
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0}) // empty apu and apv
	binary.BigEndian.PutUint32(n[:], 256)
	h.Write(n[:])
	cek := h.Sum(nil)

	iv, err1 := b64.DecodeString(parts[2])
	ct, err2 := b64.DecodeString(parts[3])
	tag, err3 := b64.DecodeString(parts[4])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("%w: base64", ErrJWE)
	}
	block, _ := aes.NewCipher(cek)
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWE, err)
	}
	plain, err := gcm.Open(nil, iv, append(ct, tag...), []byte(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWE, err)
	}
	return plain, nil
}
