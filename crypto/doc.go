// Package crypto implements storage format 5, the encryption of Firefox Sync records:
// key bundles (an AES-256 key and an HMAC-SHA256 key) derived from an FxA kB, a scoped kSync
// or a legacy Sync Key; payload encryption to {"ciphertext","IV","hmac"}; and the crypto/keys
// record that holds the bulk keys. The crypto middleware calls it for every record that
// passes, so decryption verifies the HMAC before it touches the ciphertext.
package crypto
