package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the size of each half of a key bundle.
const KeySize = 32

// KeyBundle is a pair of keys: one for AES-256-CBC, one for HMAC-SHA256. It is safe for
// concurrent use.
type KeyBundle struct {
	enc, mac [KeySize]byte
	block    cipher.Block
	ni       *aesNI    // CBC with AES-NI where the CPU has it (nil: block by block)
	macs     sync.Pool // of *macState keyed with mac; hmac.New costs several allocations
}

// NewKeyBundle builds a bundle from its two 32-byte keys.
func NewKeyBundle(encKey, hmacKey []byte) (*KeyBundle, error) {
	if len(encKey) != KeySize || len(hmacKey) != KeySize {
		return nil, fmt.Errorf("%w: want %d+%d bytes, got %d+%d", ErrBadKeyLength, KeySize, KeySize, len(encKey), len(hmacKey))
	}
	kb := &KeyBundle{}
	copy(kb.enc[:], encKey)
	copy(kb.mac[:], hmacKey)
	block, err := aes.NewCipher(kb.enc[:])
	if err != nil {
		return nil, err
	}
	kb.block = block
	kb.ni = newAESNI(&kb.enc)
	kb.macs.New = func() any { return &macState{h: hmac.New(sha256.New, kb.mac[:])} }
	return kb, nil
}

// RandomKeyBundle makes a new bundle from 64 random bytes; rnd may be nil for crypto/rand.
func RandomKeyBundle(rnd io.Reader) (*KeyBundle, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [2 * KeySize]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("crypto: random key: %w", err)
	}
	return NewKeyBundle(b[:KeySize], b[KeySize:])
}

// EncryptionKey returns a copy of the AES key.
func (kb *KeyBundle) EncryptionKey() []byte { return append([]byte(nil), kb.enc[:]...) }

// HMACKey returns a copy of the HMAC key.
func (kb *KeyBundle) HMACKey() []byte { return append([]byte(nil), kb.mac[:]...) }

// Equal reports whether two bundles hold the same keys.
func (kb *KeyBundle) Equal(o *KeyBundle) bool {
	return kb != nil && o != nil && hmac.Equal(kb.enc[:], o.enc[:]) && hmac.Equal(kb.mac[:], o.mac[:])
}

// Fingerprint is a short, non-secret name for the bundle: the first 8 bytes of
// SHA-256(enc || hmac) in hex. It lets a user compare keys between devices.
func (kb *KeyBundle) Fingerprint() string {
	h := sha256.New()
	h.Write(kb.enc[:])
	h.Write(kb.mac[:])
	return fmt.Sprintf("%x", h.Sum(nil)[:8])
}

// macState is a keyed HMAC and the buffer its sum is written to: a caller's array
// handed to hash.Hash.Sum, an interface method, would escape to the heap, one
// allocation per record.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func (kb *KeyBundle) hmacOf(data []byte, out *[sha256.Size]byte) {
	s := kb.macs.Get().(*macState)
	s.h.Reset()
	s.h.Write(data)
	*out = [sha256.Size]byte(s.h.Sum(s.sum[:0]))
	kb.macs.Put(s)
}

// oldsyncInfo is the HKDF info that turns an FxA kB into the Sync Key Bundle.
const oldsyncInfo = "identity.mozilla.com/picl/v1/oldsync"

// SyncKeyBundle derives the Sync Key Bundle from an FxA kB (Sync 1.5):
// HKDF-SHA256(kB, salt empty, info "identity.mozilla.com/picl/v1/oldsync", 64 bytes).
func SyncKeyBundle(kB []byte) (*KeyBundle, error) {
	if len(kB) != 32 {
		return nil, fmt.Errorf("%w: kB is %d bytes, want 32", ErrBadKeyLength, len(kB))
	}
	okm := make([]byte, 2*KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, kB, nil, []byte(oldsyncInfo)), okm); err != nil {
		return nil, err
	}
	return NewKeyBundle(okm[:KeySize], okm[KeySize:])
}

// KSyncKeyBundle splits a 64-byte scoped key (kSync, the JWK "k" of the oldsync scope).
func KSyncKeyBundle(kSync []byte) (*KeyBundle, error) {
	if len(kSync) != 2*KeySize {
		return nil, fmt.Errorf("%w: kSync is %d bytes, want 64", ErrBadKeyLength, len(kSync))
	}
	return NewKeyBundle(kSync[:KeySize], kSync[KeySize:])
}

// ClientState is SHA-256(kB)[0:16], which the token server uses to tell key generations apart.
func ClientState(kB []byte) []byte {
	sum := sha256.Sum256(kB)
	return sum[:16]
}

// KeyID is the X-KeyID header for the token server: "<keysChangedAt>-<b64url(ClientState)>".
func KeyID(keysChangedAt int64, kB []byte) string {
	return strconv.FormatInt(keysChangedAt, 10) + "-" + base64.RawURLEncoding.EncodeToString(ClientState(kB))
}
