package blob

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/syncctl/syncctl/crypto"
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
	for _, n := range []int{0, 1, 2, 3, 1000, 65537} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		rec, err := sealChunk(kb, "abc.3", data)
		if err != nil {
			t.Fatal(err)
		}
		clear, err := kb.DecryptRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		var plain struct{ ID, Data string }
		if err := json.Unmarshal(clear.Payload, &plain); err != nil || plain.ID != "abc.3" {
			t.Fatalf("payload is not the JSON it claims: %v", err)
		}
		got, err := openChunk(clear.Payload)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: got %d, %v", n, len(got), err)
		}
	}
}

func FuzzOpenChunk(f *testing.F) {
	f.Add([]byte(`{"id":"a.0","data":"aGVsbG8="}`))
	f.Add([]byte(`{"data":"\u0061GVsbG8="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, err := openChunk(b)
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
	})
}
