package token_test

import (
	"errors"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/token"
)

// FuzzParse: no token id panics the parser, and none but a signed one is accepted.
func FuzzParse(f *testing.F) {
	v := fixtures.Load().Tokenlib8c
	f.Add(v.TokenID)
	f.Add("")
	f.Add("eyJ1aWQiOjF9")
	s := token.NewSecret(v.MasterSecret)
	now := time.Unix(v.Request1.TS, 0)
	f.Fuzz(func(t *testing.T, id string) {
		p, _, err := s.Parse(id, now, true)
		if err != nil {
			if !errors.Is(err, token.ErrMalformed) && !errors.Is(err, token.ErrBadSignature) && !errors.Is(err, token.ErrExpired) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.UID != 1 { // only the fixture's token carries a valid signature
			t.Fatalf("accepted a forged token: %+v", p)
		}
	})
}
