package crypto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/syncctl/syncctl/wbo"
)

// Keys is the content of crypto/keys: the default bulk key bundle and optional
// per-collection bundles. It is encrypted with the Sync Key Bundle.
type Keys struct {
	Default     *KeyBundle
	Collections map[string]*KeyBundle
}

// The location of the bulk keys on the server.
const (
	KeysCollection = "crypto"
	KeysID         = "keys"
)

// GenerateKeys makes a new default bundle; rnd may be nil for crypto/rand.
func GenerateKeys(rnd io.Reader) (*Keys, error) {
	kb, err := RandomKeyBundle(rnd)
	if err != nil {
		return nil, err
	}
	return &Keys{Default: kb, Collections: map[string]*KeyBundle{}}, nil
}

// For returns the bundle that encrypts a collection: its own, else the default.
func (k *Keys) For(collection string) *KeyBundle {
	if kb, ok := k.Collections[collection]; ok {
		return kb
	}
	return k.Default
}

type keysJSON struct {
	Default     [2]string            `json:"default"`
	Collections map[string][2]string `json:"collections"`
	Collection  string               `json:"collection"`
	ID          string               `json:"id"`
}

func pair(kb *KeyBundle) [2]string {
	return [2]string{base64.StdEncoding.EncodeToString(kb.enc[:]), base64.StdEncoding.EncodeToString(kb.mac[:])}
}

func unpair(p [2]string) (*KeyBundle, error) {
	enc, err1 := base64.StdEncoding.DecodeString(p[0])
	mac, err2 := base64.StdEncoding.DecodeString(p[1])
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: key is not base64", ErrMalformedPayload)
	}
	return NewKeyBundle(enc, mac)
}

// Cleartext is the crypto/keys cleartext in the field order Firefox writes:
// {"default":[…],"collections":{…},"collection":"crypto","id":"keys"}.
func (k *Keys) Cleartext() []byte {
	j := keysJSON{Default: pair(k.Default), Collections: map[string][2]string{}, Collection: KeysCollection, ID: KeysID}
	names := make([]string, 0, len(k.Collections))
	for name := range k.Collections {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		j.Collections[name] = pair(k.Collections[name])
	}
	b, _ := json.Marshal(j) // cannot fail: plain strings and maps of strings
	return b
}

// ParseKeys reads a crypto/keys cleartext.
func ParseKeys(cleartext []byte) (*Keys, error) {
	var j keysJSON
	if err := json.Unmarshal(cleartext, &j); err != nil {
		return nil, fmt.Errorf("%w: crypto/keys: %v", ErrMalformedPayload, err)
	}
	def, err := unpair(j.Default)
	if err != nil {
		return nil, fmt.Errorf("crypto/keys default: %w", err)
	}
	k := &Keys{Default: def, Collections: make(map[string]*KeyBundle, len(j.Collections))}
	for name, p := range j.Collections {
		if k.Collections[name], err = unpair(p); err != nil {
			return nil, fmt.Errorf("crypto/keys %s: %w", name, err)
		}
	}
	return k, nil
}

// Record encrypts the keys with the Sync Key Bundle into the crypto/keys record.
func (k *Keys) Record(syncBundle *KeyBundle, rnd io.Reader) (wbo.Record, error) {
	return syncBundle.EncryptRecord(wbo.Record{ID: KeysID, Payload: k.Cleartext()}, rnd)
}

// DecryptKeys opens the crypto/keys record with the Sync Key Bundle. ErrHMACMismatch here
// means the Sync Key (kB) is wrong: never regenerate keys on it.
func DecryptKeys(rec wbo.Record, syncBundle *KeyBundle) (*Keys, error) {
	clear, err := syncBundle.DecryptRecord(rec)
	if err != nil {
		return nil, err
	}
	return ParseKeys(clear.Payload)
}
