package crypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"
)

// Sync 1.1 (pre-FxA) keys: a 16-byte Sync Key shown as 26 "friendly" base32 characters.

// DecodeSyncKey turns a friendly Sync Key ("y-4nkps-6yxav-…", dashes optional) into its
// 16 bytes: drop dashes, map 8→l and 9→o, uppercase, pad, base32-decode.
func DecodeSyncKey(friendly string) ([]byte, error) {
	s := strings.ToUpper(strings.NewReplacer("-", "", "8", "l", "9", "o").Replace(strings.ToLower(friendly)))
	if len(s) != 26 {
		return nil, fmt.Errorf("%w: %d characters, want 26", ErrBadSyncKey, len(s))
	}
	b, err := base32.StdEncoding.DecodeString(s + "======")
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("%w: not base32", ErrBadSyncKey)
	}
	return b, nil
}

// EncodeSyncKey is the inverse of DecodeSyncKey, with the display dashes
// (after characters 1, 6, 11, 16 and 21).
func EncodeSyncKey(key []byte) string {
	s := strings.ToLower(base32.StdEncoding.EncodeToString(key))[:26]
	s = strings.NewReplacer("l", "8", "o", "9").Replace(s)
	return s[:1] + "-" + s[1:6] + "-" + s[6:11] + "-" + s[11:16] + "-" + s[16:21] + "-" + s[21:]
}

var plainAccount = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// SyncUsername maps a Sync 1.1 account to the username used in key derivation: the
// lowercased account if it is plain, else lowercase(base32(sha1(lowercase(account)))).
func SyncUsername(account string) string {
	if plainAccount.MatchString(account) {
		return strings.ToLower(account)
	}
	sum := sha1.Sum([]byte(strings.ToLower(account)))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))
}

// LegacyKeyBundle derives the Sync 1.1 bundle: HKDF-Expand only, with the Sync Key as PRK
// and info "Sync-AES_256_CBC-HMAC256"+username.
func LegacyKeyBundle(syncKey []byte, username string) (*KeyBundle, error) {
	if len(syncKey) != 16 {
		return nil, fmt.Errorf("%w: %d bytes, want 16", ErrBadSyncKey, len(syncKey))
	}
	info := []byte("Sync-AES_256_CBC-HMAC256" + username)
	h := hmac.New(sha256.New, syncKey)
	h.Write(info)
	h.Write([]byte{1})
	enc := h.Sum(nil)
	h.Reset()
	h.Write(enc)
	h.Write(info)
	h.Write([]byte{2})
	return NewKeyBundle(enc, h.Sum(nil))
}
