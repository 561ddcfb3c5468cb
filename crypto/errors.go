package crypto

import "errors"

// Errors for keys and payloads. Test with errors.Is; they are wrapped with detail.
var (
	// ErrHMACMismatch: the payload was not written with this key bundle, or was tampered with.
	ErrHMACMismatch = errors.New("crypto: HMAC mismatch")
	// ErrBadPadding: the HMAC verified but the PKCS#7 padding is wrong (a broken writer).
	ErrBadPadding = errors.New("crypto: bad PKCS#7 padding")
	// ErrBadKeyLength: a key is not 32 bytes (or kB/kSync not of their sizes).
	ErrBadKeyLength = errors.New("crypto: bad key length")
	// ErrMalformedPayload: the payload is not the {"ciphertext","IV","hmac"} object, or its
	// fields are not valid base64/hex of the right sizes.
	ErrMalformedPayload = errors.New("crypto: malformed payload")
	// ErrRecordIDMismatch: the cleartext id differs from the envelope id (a record moved
	// between ids by someone holding no key, or a broken writer).
	ErrRecordIDMismatch = errors.New("crypto: record id mismatch")
	// ErrBadSyncKey: a legacy Sync Key that does not decode to 16 bytes.
	ErrBadSyncKey = errors.New("crypto: bad sync key")
)
