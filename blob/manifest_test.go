package blob

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/wbo"
)

func TestDecodeManifest(t *testing.T) {
	t.Parallel()
	good := `{"id":"x","size":10,"chunks":2,"chunkSize":8}`
	if m, err := decodeManifest([]byte(good), "x"); err != nil || m.Chunks != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := decodeManifest([]byte(`{"id":"x","size":0,"chunks":0,"chunkSize":8}`), "x"); err != nil {
		t.Fatalf("empty blob: %v", err)
	}
	for _, bad := range []string{
		`{"id":"y","size":10,"chunks":2,"chunkSize":8}`,          // another blob's
		`{"id":"x","size":10,"chunks":9000000000,"chunkSize":8}`, // a count that does not fit
		`{"id":"x","size":-1,"chunks":0,"chunkSize":8}`,          // negative
		`{"id":"x","size":10,"chunks":2,"chunkSize":0}`,          // no chunk size
		`{"id":"x","size":10,"chunks":3,"chunkSize":8}`,          // one chunk too many
		`[]`, `{"id":"x","size":"10"}`,
	} {
		if _, err := decodeManifest([]byte(bad), "x"); !errors.Is(err, ErrMAC) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"id":"x","size":10,"chunks":2,"chunkSize":8}`), "x")
	f.Fuzz(func(t *testing.T, b []byte, id string) {
		m, err := decodeManifest(b, id)
		if err != nil {
			if !errors.Is(err, ErrMAC) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Chunks < 0 || m.Size < 0 || m.ChunkSize <= 0 || int64(m.Chunks-1)*int64(m.ChunkSize) >= max(m.Size, 1) && m.Chunks > 0 {
			t.Fatalf("accepted %+v", m)
		}
	})
}

func TestChunkRoundTrip(t *testing.T) {
	t.Parallel()
	kb, err := crypto.NewKeyBundle(make([]byte, 32), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 200<<10)
	rand.Read(random)
	text := bytes.Repeat([]byte("a line of a log file, much like the one before it\n"), 4000)
	reused := new(chunkBuf)
	for _, data := range [][]byte{nil, {1}, {1, 2}, []byte("abc"), random[:1000], random[:65537], random, text, random[:3000], text[:5000]} {
		var zbuf []byte
		rec, err := sealChunk(kb, "abc.3", data, &zbuf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := openChunk(kb, rec, len(data), nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d, %v", len(data), len(got), err)
		}
		// The same in a buffer that held every chunk before it, the failed ones too.
		if got, err := openChunk(kb, rec, len(data), reused); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes in a reused buffer: got %d, %v", len(data), len(got), err)
		}
		// One base64 layer: the payload is 4/3 of the content and a little (less for text).
		if limit := len(data)*4/3 + 200; len(rec.Payload) > limit {
			t.Fatalf("%d bytes of content took a %d-byte payload", len(data), len(rec.Payload))
		}
		// Another record's id, a shorter limit, a changed IV: not this chunk.
		if _, err := openChunk(kb, wbo.Record{ID: "abc.4", Payload: rec.Payload}, len(data), nil); !errors.Is(err, ErrMAC) {
			t.Fatalf("a chunk under another id: %v", err)
		}
		if len(data) > 0 {
			if _, err := openChunk(kb, rec, len(data)-1, reused); !errors.Is(err, ErrMAC) {
				t.Fatalf("a chunk over the manifest's size: %v", err)
			}
		}
		var env map[string]string
		json.Unmarshal(rec.Payload, &env)
		iv, _ := base64.StdEncoding.DecodeString(env["IV"])
		iv[5] ^= 1
		env["IV"] = base64.StdEncoding.EncodeToString(iv)
		moved, _ := json.Marshal(env)
		if _, err := openChunk(kb, wbo.Record{ID: "abc.3", Payload: moved}, len(data), nil); !errors.Is(err, ErrMAC) {
			t.Fatalf("a chunk with a changed IV: %v", err)
		}
	}
	// The text compressed: far less than its size.
	var zbuf []byte
	rec, _ := sealChunk(kb, "abc.3", text, &zbuf)
	if len(rec.Payload) > len(text)/4 {
		t.Fatalf("%d bytes of text took %d", len(text), len(rec.Payload))
	}
	// What version 1 wrote is still read.
	old, err := sealChunkV1(kb, "abc.3", random[:5000])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := openChunk(kb, old, 5000, nil); err != nil || !bytes.Equal(got, random[:5000]) {
		t.Fatalf("a version 1 chunk: %d bytes, %v", len(got), err)
	}
	if _, err := openChunk(kb, wbo.Record{ID: "abc.4", Payload: old.Payload}, 5000, nil); !errors.Is(err, ErrMAC) {
		t.Fatalf("a version 1 chunk under another id: %v", err)
	}
}

func FuzzOpenChunk(f *testing.F) {
	f.Add([]byte(`{"id":"a.0","data":"aGVsbG8="}`))
	f.Add([]byte(`{"data":"\u0061GVsbG8="}`))
	f.Add([]byte("SCC2\x03a.0\x00hello"))
	f.Add(append([]byte("SCC2\x03a.0\x01"), zenc.EncodeAll(bytes.Repeat([]byte("hello "), 100), nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 && b[0] == '{' {
			data, err := openChunkV1(b, 1<<20)
			if err != nil {
				if !errors.Is(err, ErrMAC) {
					t.Fatalf("untyped error %v", err)
				}
				return
			}
			var plain struct{ Data string }
			if json.Unmarshal(b, &plain) == nil && plain.Data != "" {
				want, derr := base64.StdEncoding.DecodeString(plain.Data)
				if derr == nil && !bytes.Equal(want, data) {
					t.Fatalf("disagrees with encoding/json: %q vs %q", data, want)
				}
			}
			return
		}
		data, err := parseChunkV2(b, "a.0", 1000, nil)
		if err != nil {
			if !errors.Is(err, ErrMAC) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(data) > 1000 {
			t.Fatalf("%d bytes out of a chunk of at most 1000", len(data))
		}
	})
}

// sealChunkV1 is what version 1 wrote, kept for the tests that old data stays readable.
func sealChunkV1(kb *crypto.KeyBundle, id string, data []byte) (wbo.Record, error) {
	var p bytes.Buffer
	p.WriteString(`{"id":"` + id + `","data":"`)
	p.WriteString(base64.StdEncoding.EncodeToString(data))
	p.WriteString(`"}`)
	return kb.EncryptRecord(wbo.Record{ID: id, Payload: p.Bytes()}, nil)
}
