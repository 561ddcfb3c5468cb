package fxa

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/syncctl/syncctl/crypto"
)

// Firefox Accounts devices and device commands: the account's device list, and Send Tab
// (the open-uri command), which is how Firefox sends and receives tabs today (it ignores
// the Sync clients engine's old displayURI command).

// CommandOpenURI is the Send Tab command.
const CommandOpenURI = "https://identity.mozilla.com/cmd/open-uri"

// ErrNoSendTab: the device publishes no Send Tab keys (not signed in to Sync, or too old).
var ErrNoSendTab = errors.New("fxa: the device cannot receive tabs")

// Device is a device of the account, as /account/devices lists it.
type Device struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Type              string            `json:"type"`
	IsCurrentDevice   bool              `json:"isCurrentDevice"`
	AvailableCommands map[string]string `json:"availableCommands"`
}

func (c *Client) session(cr *Credentials) (*TokenCredentials, error) {
	tok, err := hex.DecodeString(cr.SessionToken)
	if err != nil || len(tok) != 32 {
		return nil, fmt.Errorf("%w: no session token", ErrInvalidToken)
	}
	creds := DeriveToken(tok, "sessionToken")
	return &creds, nil
}

// Devices lists the account's devices.
func (c *Client) Devices(ctx context.Context, cr *Credentials) ([]Device, error) {
	creds, err := c.session(cr)
	if err != nil {
		return nil, err
	}
	var out []Device
	return out, c.call(ctx, "GET", "/account/devices", nil, creds, &out)
}

// sendTabKeys are a device's Send Tab keys, as it publishes them encrypted with the
// account's oldsync key (so that the FxA server cannot read them).
type sendTabKeys struct {
	PublicKey  string `json:"publicKey"`
	AuthSecret string `json:"authSecret"`
}

// b64 decodes base64url with or without padding (Firefox writes it without).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// SendTab sends a tab to a device, end to end encrypted as Firefox does: the payload
// {"entries":[{"title","url"}]} encrypted with Web Push to the keys the device published
// under the oldsync key (syncKey), then the open-uri command through FxA.
func (c *Client) SendTab(ctx context.Context, cr *Credentials, syncKey *crypto.KeyBundle, to Device, title, url string) error {
	bundle, ok := to.AvailableCommands[CommandOpenURI]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSendTab, to.Name)
	}
	clear, err := syncKey.Decrypt([]byte(bundle))
	if err != nil {
		return fmt.Errorf("fxa: %s's Send Tab keys: %w", to.Name, err)
	}
	var keys sendTabKeys
	if err := json.Unmarshal(clear, &keys); err != nil {
		return fmt.Errorf("fxa: %s's Send Tab keys: %w", to.Name, err)
	}
	pub, err1 := b64(keys.PublicKey)
	auth, err2 := b64(keys.AuthSecret)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("fxa: %s's Send Tab keys: %w", to.Name, err)
	}
	body, _ := json.Marshal(map[string]any{"entries": []map[string]string{{"title": title, "url": url}}})
	msg, err := encryptWebPush(body, pub, auth, nil, nil)
	if err != nil {
		return err
	}
	creds, err := c.session(cr)
	if err != nil {
		return err
	}
	return c.call(ctx, "POST", "/account/devices/invoke_command", map[string]any{
		"command": CommandOpenURI, "target": to.ID, "ttl": 86400,
		"payload": map[string]string{"encrypted": base64.RawURLEncoding.EncodeToString(msg)},
	}, creds, nil)
}

// SendTabKeys makes a device's Send Tab keys: the private key it keeps, and the
// availableCommands value it publishes (the public key and auth secret, encrypted with
// the oldsync key as Firefox does).
func SendTabKeys(syncKey *crypto.KeyBundle) (priv *ecdh.PrivateKey, authSecret []byte, published string, err error) {
	if priv, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
		return nil, nil, "", err
	}
	authSecret = make([]byte, 16)
	rand.Read(authSecret)
	clear, _ := json.Marshal(sendTabKeys{PublicKey: base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()),
		AuthSecret: base64.RawURLEncoding.EncodeToString(authSecret)})
	enc, err := syncKey.Encrypt(clear, nil)
	return priv, authSecret, string(enc), err
}

// ReceiveTab opens an open-uri command's payload ({"encrypted": …}) with the receiving
// device's keys and returns the tab it sends (the current entry, else the last).
func ReceiveTab(payload []byte, priv *ecdh.PrivateKey, authSecret []byte) (title, url string, err error) {
	var p struct{ Encrypted string }
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrWebPush, err)
	}
	msg, err := b64(p.Encrypted)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrWebPush, err)
	}
	clear, err := decryptWebPush(msg, priv, authSecret)
	if err != nil {
		return "", "", err
	}
	var data struct {
		Current *int
		Entries []struct{ Title, URL string }
	}
	if err := json.Unmarshal(clear, &data); err != nil || len(data.Entries) == 0 {
		return "", "", fmt.Errorf("%w: no entries", ErrWebPush)
	}
	i := len(data.Entries) - 1
	if data.Current != nil && *data.Current >= 0 && *data.Current < len(data.Entries) {
		i = *data.Current
	}
	return data.Entries[i].Title, data.Entries[i].URL, nil
}

// RegisterDevice registers (or updates) the session's device, with the commands it can
// receive (CommandOpenURI → the value SendTabKeys published).
func (c *Client) RegisterDevice(ctx context.Context, cr *Credentials, name, kind string, commands map[string]string) (Device, error) {
	creds, err := c.session(cr)
	if err != nil {
		return Device{}, err
	}
	var d Device
	err = c.call(ctx, "POST", "/account/device", map[string]any{"name": name, "type": kind, "availableCommands": commands}, creds, &d)
	return d, err
}
