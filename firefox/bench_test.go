package firefox_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/firefox"
	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// A bookmark as Firefox writes it, about 330 bytes of cleartext.
const benchBookmark = `{"id":"0-P9fabp9vJD","type":"bookmark","title":"Customize Firefox","parentName":"Mozilla Firefox","bmkUri":"http://www.mozilla.com/en-US/firefox/customize/","tags":["firefox","mozilla"],"keyword":null,"description":"Make Firefox yours with add-ons and themes","loadInSidebar":false,"parentid":"HAZiMFYmygep","dateAdded":1326254123650}`

// rawCrypto is the floor of one record's cryptography with the standard library and
// nothing else: HMAC-SHA256 over the base64 ciphertext (keyed once, reset per record) and
// AES-256-CBC over the ciphertext bytes (key schedule done once). No JSON, no base64, no
// allocation.
type rawCrypto struct {
	mac interface {
		Reset()
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	block cipher.Block
	iv    []byte
	ctB64 []byte // as it is in the payload
	ct    []byte // decoded
	buf   []byte
	sum   [sha256.Size]byte
}

func newRawCrypto(b *testing.B, kb *crypto.KeyBundle, payload []byte) *rawCrypto {
	r := &rawCrypto{mac: hmac.New(sha256.New, kb.HMACKey())}
	var err error
	if r.block, err = aes.NewCipher(kb.EncryptionKey()); err != nil {
		b.Fatal(err)
	}
	jsonscan.Object(payload, func(key, value []byte) error {
		s, _ := jsonscan.StringCopy(value)
		switch {
		case jsonscan.Key(key, "ciphertext"):
			r.ctB64 = s
		case jsonscan.Key(key, "IV"):
			r.iv, _ = base64.StdEncoding.DecodeString(string(s))
		}
		return nil
	})
	if r.ct, err = base64.StdEncoding.DecodeString(string(r.ctB64)); err != nil {
		b.Fatal(err)
	}
	r.buf = make([]byte, len(r.ct))
	return r
}

func (r *rawCrypto) decrypt() {
	r.mac.Reset()
	r.mac.Write(r.ctB64)
	r.mac.Sum(r.sum[:0])
	cipher.NewCBCDecrypter(r.block, r.iv).CryptBlocks(r.buf, r.ct)
}

func (r *rawCrypto) encrypt() {
	cipher.NewCBCEncrypter(r.block, r.iv).CryptBlocks(r.buf, r.ct)
	r.mac.Reset()
	r.mac.Write(r.ctB64)
	r.mac.Sum(r.sum[:0])
}

// timed runs fn n times and returns the time per run.
func timed(n int, fn func()) time.Duration {
	start := time.Now()
	for range n {
		fn()
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkTypedBookmarkIn is a bookmark's whole incoming path, from the BSO's JSON as
// the server sends it to a firefox.Bookmark (envelope, HMAC check, AES-CBC, cleartext id
// check, parse keeping every member), against rawCrypto's decrypt of the same record in
// the same run. The goal: ≤ 3×.
func BenchmarkTypedBookmarkIn(b *testing.B) {
	kb, _ := crypto.RandomKeyBundle(nil)
	rec, _ := kb.EncryptRecord(wbo.Record{ID: "0-P9fabp9vJD", SortIndex: wbo.Int(131), Payload: []byte(benchBookmark)}, nil)
	rec.Modified = 1326254123650
	wire := rec.AppendJSON(nil)
	raw := newRawCrypto(b, kb, rec.Payload)
	var typed *firefox.Bookmark
	read := make([]byte, 0, 1024)
	in := func() {
		// As a sync reads it (the crypto middleware over a repository.Lender): the
		// response's bytes are in the client's read buffer, and the record is decoded
		// there; only the cleartext is new memory.
		read = append(read[:0], wire...)
		r, err := wbo.DecodeInPlace(read)
		if err != nil {
			b.Fatal(err)
		}
		if r, err = kb.DecryptRecord(r); err != nil {
			b.Fatal(err)
		}
		if typed, err = firefox.ParseOwned[firefox.Bookmark](r.Payload); err != nil {
			b.Fatal(err)
		}
	}
	measure(b, raw.decrypt, in)
	if typed.BmkURI != "http://www.mozilla.com/en-US/firefox/customize/" || len(typed.Raw.Members()) != 11 {
		b.Fatalf("parsed %+v", typed)
	}
}

// BenchmarkTypedBookmarkOut is the outgoing path: a firefox.Bookmark encoded (over the
// members it was received with), encrypted with a random IV, MACed, and written as the
// BSO's JSON, against rawCrypto's encrypt.
func BenchmarkTypedBookmarkOut(b *testing.B) {
	kb, _ := crypto.RandomKeyBundle(nil)
	rec, _ := kb.EncryptRecord(wbo.Record{ID: "0-P9fabp9vJD", Payload: []byte(benchBookmark)}, nil)
	raw := newRawCrypto(b, kb, rec.Payload)
	bm, err := firefox.Parse[firefox.Bookmark]([]byte(benchBookmark))
	if err != nil {
		b.Fatal(err)
	}
	bm.Title = "Customize Firefox, again"
	buf := make([]byte, 0, 1024)
	out := func() {
		clear, err := firefox.Encode(bm)
		if err != nil {
			b.Fatal(err)
		}
		enc, err := kb.EncryptRecord(wbo.Record{ID: bm.ID, SortIndex: wbo.Int(131), Payload: clear}, nil)
		if err != nil {
			b.Fatal(err)
		}
		buf = enc.AppendJSON(buf[:0])
	}
	measure(b, raw.encrypt, out)
}

// measure alternates batches of the raw work and the typed path, so that both meet the
// same load, and reports each and their ratio.
func measure(b *testing.B, raw, typed func()) {
	const batch = 2000
	var tRaw, tTyped time.Duration
	for b.Loop() {
		tRaw += timed(batch, raw)
		tTyped += timed(batch, typed)
	}
	b.ReportMetric(float64(tRaw.Nanoseconds())/float64(b.N), "raw-ns")
	b.ReportMetric(float64(tTyped.Nanoseconds())/float64(b.N), "typed-ns")
	b.ReportMetric(float64(tTyped)/float64(tRaw), "typed/raw")
	b.ReportMetric(testing.AllocsPerRun(100, typed), "typed-allocs")
	b.ReportMetric(0, "ns/op")
}
