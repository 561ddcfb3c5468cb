package crypto_test

import (
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/wbo"
)

// A typical bookmark cleartext, about 300 bytes.
const bookmark = `{"id":"0-P9fabp9vJD","type":"bookmark","title":"Customize Firefox","parentName":"Mozilla Firefox","bmkUri":"http://www.mozilla.com/en-US/firefox/customize/","tags":["firefox","mozilla"],"keyword":null,"description":"Make Firefox yours with add-ons and themes","loadInSidebar":false,"parentid":"HAZiMFYmygep","dateAdded":1326254123650}`

// BenchmarkDecodeDecryptBookmark is the incoming path of one record: the BSO's JSON as the
// server sends it → envelope → HMAC check → AES-CBC → cleartext id check.
func BenchmarkDecodeDecryptBookmark(b *testing.B) {
	kb, _ := crypto.RandomKeyBundle(nil)
	rec, _ := kb.EncryptRecord(wbo.Record{ID: "0-P9fabp9vJD", SortIndex: wbo.Int(131), Payload: []byte(bookmark)}, nil)
	rec.Modified = 1326254123650
	wire := rec.AppendJSON(nil)
	b.SetBytes(int64(len(bookmark)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := wbo.Decode(wire)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kb.DecryptRecord(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptEncodeBookmark is the outgoing path: cleartext → AES-CBC with a random
// IV → HMAC → payload JSON → BSO JSON.
func BenchmarkEncryptEncodeBookmark(b *testing.B) {
	kb, _ := crypto.RandomKeyBundle(nil)
	rec := wbo.Record{ID: "0-P9fabp9vJD", SortIndex: wbo.Int(131), Payload: []byte(bookmark)}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(bookmark)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := kb.EncryptRecord(rec, nil)
		if err != nil {
			b.Fatal(err)
		}
		buf = enc.AppendJSON(buf[:0])
	}
}
