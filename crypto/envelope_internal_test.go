package crypto

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// decryptByParse is Decrypt without the shortcut for envelopes as written: the verdict
// splitAsWritten must not change.
func (kb *KeyBundle) decryptByParse(payload []byte) ([]byte, error) {
	ct, iv, mac, err := splitPayload(payload)
	if err != nil {
		return nil, err
	}
	return kb.open(nil, ct, iv, mac, false)
}

// signed is an envelope with ciphertext text ct (which need not be base64) and a MAC
// over it that verifies: what only a holder of the key can make.
func signed(kb *KeyBundle, ct, iv string) string {
	var sum [32]byte
	kb.hmacOf([]byte(ct), &sum)
	return `{"ciphertext":"` + ct + `","IV":"` + iv + `","hmac":"` + hex.EncodeToString(sum[:]) + `"}`
}

// Envelopes that the quotes alone would split, and that are not JSON or not what they
// seem, get the JSON parse's verdict: a line break in the base64 (which the decoder
// would skip), an escape, a control byte, bytes beyond ASCII, and the members in
// another order or spaced.
func TestEnvelopesAsWrittenGetTheParsesVerdict(t *testing.T) {
	kb, _ := RandomKeyBundle(nil)
	good, err := kb.Encrypt([]byte(`{"id":"abc"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, iv, mac, ok := splitAsWritten(good)
	if !ok {
		t.Fatalf("seal's own envelope %s is not split as written", good)
	}
	c, v := string(ct), string(iv)
	cases := map[string]string{
		"as sealed":             string(good),
		"line break in the ct":  signed(kb, c[:8]+"\n"+c[8:], v),
		"CR in the ct":          signed(kb, c[:8]+"\r"+c[8:], v),
		"line break in the IV":  signed(kb, c, v[:4]+"\n"+v[4:]),
		"escaped slash":         signed(kb, strings.Replace(c, "/", `\/`, 1), v),
		"escaped quote":         signed(kb, c[:8]+`\"`+c[8:], v),
		"control byte":          signed(kb, c[:8]+"\x01"+c[8:], v),
		"beyond ASCII":          signed(kb, c[:8]+"é"+c[8:], v),
		"invalid UTF-8":         signed(kb, c[:8]+"\xff"+c[8:], v),
		"not base64":            signed(kb, c[:8]+"!"+c[8:], v),
		"IV first":              `{"IV":"` + v + `","ciphertext":"` + c + `","hmac":"` + string(mac) + `"}`,
		"spaced":                `{"ciphertext": "` + c + `", "IV": "` + v + `", "hmac": "` + string(mac) + `"}`,
		"quote in the hmac":     `{"ciphertext":"` + c + `","IV":"` + v + `","hmac":"` + string(mac) + `","x":"y"}`,
		"hmac of another":       `{"ciphertext":"` + c + `","IV":"` + v + `","hmac":"` + strings.Repeat("0", 64) + `"}`,
		"uppercase hmac":        `{"ciphertext":"` + c + `","IV":"` + v + `","hmac":"` + strings.ToUpper(string(mac)) + `"}`,
		"trailing bytes":        string(good) + " ",
		"a second IV in the ct": signed(kb, c+`","IV":"`+v, v),
		"empty":                 `{"ciphertext":"","IV":"","hmac":""}`,
		"the head and the tail": envHead + envTail,
		"no hmac member":        `{"ciphertext":"` + c + `","IV":"` + v + `"}`,
	}
	for name, payload := range cases {
		got, gerr := kb.Decrypt([]byte(payload))
		want, werr := kb.decryptByParse([]byte(payload))
		if string(got) != string(want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("%s: %q (%v), the parse gives %q (%v)", name, got, gerr, want, werr)
		}
	}
	if _, err := kb.Decrypt([]byte(cases["line break in the ct"])); !errors.Is(err, ErrMalformedPayload) {
		t.Errorf("a line break in the ciphertext: %v, want ErrMalformedPayload", err)
	}
}

// FuzzEnvelopeAsWritten: Decrypt gives the JSON parse's cleartext and error for any
// payload. The seeds verify, so that mutations explore what passes the MAC too.
func FuzzEnvelopeAsWritten(f *testing.F) {
	kb, _ := NewKeyBundle(make([]byte, 32), make([]byte, 32))
	good, _ := kb.Encrypt([]byte(`{"id":"abc","x":1}`), nil)
	f.Add(good)
	ct, iv, _, _ := splitAsWritten(good)
	f.Add([]byte(signed(kb, string(ct[:4])+"\n"+string(ct[4:]), string(iv))))
	f.Add([]byte(signed(kb, string(ct), string(iv[:3])+`\/`+string(iv[3:]))))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, gerr := kb.Decrypt(payload)
		want, werr := kb.decryptByParse(payload)
		if string(got) != string(want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("%q: %q (%v), the parse gives %q (%v)", payload, got, gerr, want, werr)
		}
	})
}
