// Package token mints and checks SyncStorage tokens in the tokenlib format that Mozilla's
// tokenserver and syncstorage-rs share: the Hawk id is urlsafe-base64(payload JSON ||
// HMAC-SHA256 signature) and the Hawk key is derived from the id and a master secret, so a
// storage node needs only the secret, no token database. The embedded server's token
// endpoint mints with it and its Hawk check parses with it.
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"golang.org/x/crypto/hkdf"
)

// Errors from Parse. Test with errors.Is.
var (
	ErrMalformed    = errors.New("token: malformed token")
	ErrBadSignature = errors.New("token: bad signature")
	ErrExpired      = errors.New("token: expired")
)

// Payload is the signed content of a token. Unknown fields of tokens minted elsewhere are
// covered by the signature and ignored here.
type Payload struct {
	UID            uint64  `json:"uid"`
	Node           string  `json:"node"`
	Expires        float64 `json:"expires"`
	FxAUID         string  `json:"fxa_uid,omitempty"`
	FxAKID         string  `json:"fxa_kid,omitempty"`
	HashedFxAUID   string  `json:"hashed_fxa_uid,omitempty"`
	HashedDeviceID string  `json:"hashed_device_id,omitempty"`
	Salt           string  `json:"salt"`
}

const (
	signingInfo = "services.mozilla.com/tokenlib/v1/signing"
	deriveInfo  = "services.mozilla.com/tokenlib/v1/derive/"
	sigSize     = sha256.Size
)

// Secret is a master secret with its derived signing key.
type Secret struct {
	master  []byte
	signing []byte
}

// NewSecret derives the signing key from the master secret (its UTF-8 bytes).
func NewSecret(master string) Secret {
	return Secret{master: []byte(master), signing: expand([]byte(master), nil, signingInfo)}
}

func expand(ikm, salt []byte, info string) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, ikm, salt, []byte(info)), out); err != nil {
		panic("token: hkdf: " + err.Error()) // cannot happen for 32 bytes
	}
	return out
}

// SigningKey returns the derived signing key (for tests against published vectors).
func (s Secret) SigningKey() []byte { return append([]byte(nil), s.signing...) }

// Mint signs p and returns the token id and the Hawk key string. An empty salt gets three
// random bytes in hex, as tokenlib does.
func (s Secret) Mint(p Payload) (id, key string, err error) {
	if p.Salt == "" {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", err
		}
		p.Salt = hex.EncodeToString(b[:])
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", "", err
	}
	m := hmac.New(sha256.New, s.signing)
	m.Write(body)
	id = base64.URLEncoding.EncodeToString(m.Sum(body))
	return id, s.DerivedKey(id, p.Salt), nil
}

// DerivedKey is the Hawk key for a token id: urlsafe-base64 (padded) of
// HKDF(master, salt, "services.mozilla.com/tokenlib/v1/derive/"+id). Hawk uses the ASCII
// bytes of this string as the key, not the bytes it encodes.
func (s Secret) DerivedKey(id, salt string) string {
	return base64.URLEncoding.EncodeToString(expand(s.master, []byte(salt), deriveInfo+id))
}

// Parse checks the signature and expiry of a token id and returns its payload and Hawk
// key. checkExpiry is false only where the protocol lets an expired token through
// (GET info/collections).
func (s Secret) Parse(id string, now time.Time, checkExpiry bool) (Payload, string, error) {
	raw, err := base64.URLEncoding.DecodeString(id)
	if err != nil {
		// Some minters drop the padding.
		if raw, err = base64.RawURLEncoding.DecodeString(id); err != nil {
			return Payload{}, "", fmt.Errorf("%w: not urlsafe base64", ErrMalformed)
		}
	}
	if len(raw) <= sigSize {
		return Payload{}, "", fmt.Errorf("%w: too short", ErrMalformed)
	}
	body, sig := raw[:len(raw)-sigSize], raw[len(raw)-sigSize:]
	m := hmac.New(sha256.New, s.signing)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil), sig) {
		return Payload{}, "", ErrBadSignature
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.Salt == "" || math.IsNaN(p.Expires) {
		return Payload{}, "", fmt.Errorf("%w: payload", ErrMalformed)
	}
	if checkExpiry && float64(now.UnixMilli())/1000 >= p.Expires {
		return Payload{}, "", ErrExpired
	}
	return p, s.DerivedKey(id, p.Salt), nil
}
