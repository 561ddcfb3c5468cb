// Package storage is a SyncStorage 1.5 client: token exchange (tokenserver or a pre-issued
// Hawk credential), Hawk signing, every endpoint, streamed collection reads that follow
// X-Weave-Next-Offset, batch uploads, and the server's signals as typed values
// (X-Weave-Backoff, Retry-After, X-Weave-Alert, X-Weave-Quota-Remaining, 401, 412, 413,
// 507). It moves records as they are on the wire; the crypto middleware decrypts them.
package storage
