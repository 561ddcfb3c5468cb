package jsonscan_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/syncctl/syncctl/internal/jsonscan"
)

// BenchmarkObject scans a BSO as the server sends one: a blob chunk's (a megabyte of
// base64 in an escaped envelope) and a bookmark's (~700 bytes).
func BenchmarkObject(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"chunk", 1 << 20}, {"bookmark", 330}} {
		ct := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a, 0xc3, 0x17}, c.size/3))
		bso := []byte(`{"id":"0-P9fabp9vJD","modified":1326254123.65,"payload":"{\"ciphertext\":\"` + ct +
			`\",\"IV\":\"GX8L37AAb2FZJMzIoXlX8w==\",\"hmac\":\"b1e6c18ac30deb70236bc0d65a46f7a4dce3b8b0e02cf92182b914e3afa5eebc\"}","sortindex":131}`)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(bso)))
			for b.Loop() {
				if err := jsonscan.Object(bso, func(k, v []byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
