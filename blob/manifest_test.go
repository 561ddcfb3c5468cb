package blob

import (
	"errors"
	"testing"
)

func TestDecodeManifest(t *testing.T) {
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
