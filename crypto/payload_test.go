package crypto_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/internal/race"
	"github.com/syncctl/syncctl/wbo"
)

// vector5b returns the key bundle and payload of vectors.md §5b.
func vector5b(t testing.TB) (*crypto.KeyBundle, string) {
	t.Helper()
	c := fixtures.Load().Payloads[1]
	kb, err := crypto.NewKeyBundle(fixtures.Hex(c.Enc), fixtures.Hex(c.HMACKey))
	if err != nil {
		t.Fatal(err)
	}
	iv := base64.StdEncoding.EncodeToString(fixtures.Hex(c.IV))
	return kb, `{"ciphertext":"` + c.CiphertextB64 + `","IV":"` + iv + `","hmac":"` + c.HMAC + `"}`
}

func TestDecryptRejectsEveryTamperingWithItsOwnError(t *testing.T) {
	t.Parallel()
	kb, good := vector5b(t)
	c := fixtures.Load().Payloads[1]
	other, _ := crypto.RandomKeyBundle(nil)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := []struct {
		name    string
		kb      *crypto.KeyBundle
		payload string
		want    error
	}{
		{"a flipped ciphertext character", kb, strings.Replace(good, c.CiphertextB64, flip(c.CiphertextB64, 10), 1), crypto.ErrHMACMismatch},
		{"a flipped hmac digit", kb, strings.Replace(good, c.HMAC, "0"+c.HMAC[1:], 1), crypto.ErrHMACMismatch},
		{"an hmac cut short", kb, strings.Replace(good, c.HMAC, c.HMAC[:62], 1), crypto.ErrMalformedPayload},
		{"an hmac that is not hex", kb, strings.Replace(good, c.HMAC, "zz"+c.HMAC[2:], 1), crypto.ErrMalformedPayload},
		{"the wrong key bundle", other, good, crypto.ErrHMACMismatch},
		{"no IV field", kb, strings.Replace(good, `"IV"`, `"iv"`, 1), crypto.ErrMalformedPayload},
		{"not JSON", kb, `ciphertext`, crypto.ErrMalformedPayload},
		{"a JSON array", kb, `[]`, crypto.ErrMalformedPayload},
		{"a duplicate hmac field", kb, strings.TrimSuffix(good, "}") + `,"hmac":"00"}`, crypto.ErrMalformedPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.kb.Decrypt([]byte(tc.payload)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// forge builds a payload with a valid HMAC over arbitrary ciphertext text, so that the
// checks after the HMAC (IV, base64, padding) can be reached.
func forge(kb *crypto.KeyBundle, ctB64, ivB64 string) []byte {
	m := hmac.New(sha256.New, kb.HMACKey())
	m.Write([]byte(ctB64))
	return []byte(`{"ciphertext":"` + ctB64 + `","IV":"` + ivB64 + `","hmac":"` + hex.EncodeToString(m.Sum(nil)) + `"}`)
}

func TestDecryptAfterAValidHMACStillChecksIVBase64AndPadding(t *testing.T) {
	t.Parallel()
	kb, _ := crypto.RandomKeyBundle(nil)
	iv := make([]byte, 16)
	ivB64 := base64.StdEncoding.EncodeToString(iv)
	block, _ := aes.NewCipher(kb.EncryptionKey())
	seal := func(plain []byte) string { // raw CBC, no padding added
		out := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
		return base64.StdEncoding.EncodeToString(out)
	}
	cases := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"a padding byte of 0", forge(kb, seal(bytes.Repeat([]byte{0}, 16)), ivB64), crypto.ErrBadPadding},
		{"a padding byte over 16", forge(kb, seal(bytes.Repeat([]byte{17}, 16)), ivB64), crypto.ErrBadPadding},
		{"truncated padding (4 claimed, 2 present)", forge(kb, seal(append(bytes.Repeat([]byte{'x'}, 14), 2, 4)), ivB64), crypto.ErrBadPadding},
		{"ciphertext that is not base64", forge(kb, "!!!!", ivB64), crypto.ErrMalformedPayload},
		{"ciphertext of a partial block", forge(kb, base64.StdEncoding.EncodeToString(make([]byte, 15)), ivB64), crypto.ErrMalformedPayload},
		{"empty ciphertext", forge(kb, "", ivB64), crypto.ErrMalformedPayload},
		{"an IV that is not base64", forge(kb, seal(bytes.Repeat([]byte{16}, 16)), "@@@@"), crypto.ErrMalformedPayload},
		{"an IV of 8 bytes", forge(kb, seal(bytes.Repeat([]byte{16}, 16)), base64.StdEncoding.EncodeToString(make([]byte, 8))), crypto.ErrMalformedPayload},
		{"an IV of 32 bytes", forge(kb, seal(bytes.Repeat([]byte{16}, 16)), base64.StdEncoding.EncodeToString(make([]byte, 32))), crypto.ErrMalformedPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := kb.Decrypt(tc.payload); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got, err := kb.Decrypt(forge(kb, seal(bytes.Repeat([]byte{16}, 16)), ivB64)); err != nil || len(got) != 0 {
		t.Errorf("a block of pure padding = %q, %v; want empty cleartext", got, err)
	}
}

// The HMAC of storage format 5 does not cover the IV: a changed IV passes it and garbles
// the first cleartext block. DecryptRecord refuses the result, because that block holds
// the start of the cleartext's id.
func TestATamperedIVIsRefusedAtTheRecordLevel(t *testing.T) {
	t.Parallel()
	kb, good := vector5b(t)
	c := fixtures.Load().Payloads[1]
	iv := base64.StdEncoding.EncodeToString(fixtures.Hex(c.IV))
	tampered := []byte(iv)
	tampered[3] ^= 1
	payload := strings.Replace(good, iv, string(tampered), 1)
	if _, err := kb.Decrypt([]byte(payload)); err != nil {
		t.Logf("Decrypt alone: %v", err)
	}
	_, err := kb.DecryptRecord(wbo.Record{ID: "5qRsgXWRJZXr", Payload: []byte(payload)})
	if !errors.Is(err, crypto.ErrMalformedPayload) && !errors.Is(err, crypto.ErrRecordIDMismatch) {
		t.Errorf("err = %v", err)
	}
}

func TestUppercaseHMACIsAcceptedOnRead(t *testing.T) {
	t.Parallel()
	kb, good := vector5b(t)
	c := fixtures.Load().Payloads[1]
	if _, err := kb.Decrypt([]byte(strings.Replace(good, c.HMAC, strings.ToUpper(c.HMAC), 1))); err != nil {
		t.Errorf("uppercase hmac: %v", err)
	}
}

func TestNewKeyBundleRejectsShortKeys(t *testing.T) {
	t.Parallel()
	if _, err := crypto.NewKeyBundle(make([]byte, 16), make([]byte, 32)); !errors.Is(err, crypto.ErrBadKeyLength) {
		t.Errorf("err = %v", err)
	}
	if _, err := crypto.SyncKeyBundle(make([]byte, 31)); !errors.Is(err, crypto.ErrBadKeyLength) {
		t.Errorf("kB: err = %v", err)
	}
	if _, err := crypto.KSyncKeyBundle(make([]byte, 32)); !errors.Is(err, crypto.ErrBadKeyLength) {
		t.Errorf("kSync: err = %v", err)
	}
}

func TestEncryptRoundTripsAnyLengthWithFreshIVs(t *testing.T) {
	t.Parallel()
	kb, _ := crypto.RandomKeyBundle(nil)
	for n := 0; n < 70; n++ {
		clear := bytes.Repeat([]byte{'a'}, n)
		p1, _ := kb.Encrypt(clear, nil)
		p2, _ := kb.Encrypt(clear, nil)
		if bytes.Equal(p1, p2) {
			t.Fatalf("two encryptions of %d bytes are equal: IV reused", n)
		}
		got, err := kb.Decrypt(p1)
		if err != nil || !bytes.Equal(got, clear) {
			t.Fatalf("n=%d: %q, %v", n, got, err)
		}
	}
}

// AppendDecrypt appends after what dst holds, in dst's own memory when it has room (no
// allocation), and leaves dst's contents as they were when the payload does not open;
// both forms of an envelope (as written, and spaced) open alike.
func TestAppendDecryptReusesTheCallersBuffer(t *testing.T) {
	kb, _ := crypto.RandomKeyBundle(nil)
	clear := bytes.Repeat([]byte("0123456789"), 1000)
	payload, _ := kb.Encrypt(clear, nil)
	spaced := bytes.ReplaceAll(payload, []byte(`","`), []byte(`", "`))
	buf := make([]byte, 3, 16<<10)
	copy(buf, "abc")
	for _, p := range [][]byte{payload, spaced} {
		out, err := kb.AppendDecrypt(buf, p)
		if err != nil || string(out[:3]) != "abc" || !bytes.Equal(out[3:], clear) {
			t.Fatalf("%.20s…: %d bytes, %v", p, len(out), err)
		}
		if &out[0] != &buf[0] {
			t.Errorf("%.20s…: a buffer with room was not used", p)
		}
	}
	// (The race detector's instrumentation allocates on its own.)
	if n := testing.AllocsPerRun(20, func() { kb.AppendDecrypt(buf, payload) }); n != 0 && !race.Enabled {
		t.Errorf("%.0f allocations with a buffer that has room", n)
	}
	bad := bytes.Replace(payload, []byte(`"hmac":"`), []byte(`"hmac":"0`), 1)
	bad = append(bad[:len(bad)-3], `"}`...)
	if out, err := kb.AppendDecrypt(buf, bad); !errors.Is(err, crypto.ErrHMACMismatch) || out != nil || string(buf) != "abc" {
		t.Errorf("a forged payload: %q, %v; dst now %q", out, err, buf)
	}
	small := make([]byte, 0, 8)
	if out, err := kb.AppendDecrypt(small, payload); err != nil || !bytes.Equal(out, clear) {
		t.Errorf("a buffer without room: %d bytes, %v", len(out), err)
	}
}

func TestDecryptRecordChecksTheCleartextID(t *testing.T) {
	t.Parallel()
	kb, _ := crypto.RandomKeyBundle(nil)
	rec, _ := kb.EncryptRecord(wbo.Record{ID: "aaaa", Payload: []byte(`{"id":"aaaa","x":1}`)}, nil)
	if _, err := kb.DecryptRecord(rec); err != nil {
		t.Fatal(err)
	}
	rec.ID = "bbbb" // moved to another id by someone without the key
	if _, err := kb.DecryptRecord(rec); !errors.Is(err, crypto.ErrRecordIDMismatch) {
		t.Errorf("err = %v, want ErrRecordIDMismatch", err)
	}
	// application-services writes tombstones without an id
	ts, _ := kb.EncryptRecord(wbo.Record{ID: "cccc", Payload: []byte(`{"deleted":true}`)}, nil)
	if got, err := kb.DecryptRecord(ts); err != nil || !wbo.IsTombstone(got.Payload) {
		t.Errorf("tombstone without id: %v", err)
	}
}

func TestKeysRoundTripWithPerCollectionBundles(t *testing.T) {
	t.Parallel()
	sync, _ := crypto.RandomKeyBundle(nil)
	keys, _ := crypto.GenerateKeys(nil)
	keys.Collections["passwords"], _ = crypto.RandomKeyBundle(nil)
	rec, err := keys.Record(sync, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := crypto.DecryptKeys(rec, sync)
	if err != nil {
		t.Fatal(err)
	}
	if !got.For("passwords").Equal(keys.Collections["passwords"]) || !got.For("bookmarks").Equal(keys.Default) {
		t.Error("bundles differ after a round trip")
	}
	wrong, _ := crypto.RandomKeyBundle(nil)
	if _, err := crypto.DecryptKeys(rec, wrong); !errors.Is(err, crypto.ErrHMACMismatch) {
		t.Errorf("wrong sync key: %v, want ErrHMACMismatch", err)
	}
}
