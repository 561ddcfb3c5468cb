package token_test

import (
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/hawk"
	"github.com/syncctl/syncctl/token"
)

func TestSyncstorageRsFixtureValidates(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Tokenlib8c
	s := token.NewSecret(v.MasterSecret)
	if got := hex.EncodeToString(s.SigningKey()); got != v.SigningSecret {
		t.Errorf("signing key = %s", got)
	}
	now := time.Unix(v.Request1.TS, 0)
	p, key, err := s.Parse(v.TokenID, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if key != v.DerivedSecret || p.UID != 1 || p.Salt != "2b307b" || p.Node != "http://localhost:5000" || p.FxAKID != "de697ad66d845b2873c9d7e13b8971af" {
		t.Errorf("payload %+v key %s", p, key)
	}
	verifier := hawk.NewVerifier(time.Minute, func() time.Time { return now })
	for _, r := range []fixtures.HawkRequest{v.Request1, v.Request2} {
		u, _ := url.Parse(r.URL)
		a := hawk.Target(r.Method, u)
		a.TS, a.Nonce = r.TS, r.Nonce
		if got := a.MAC([]byte(key)); got != r.Mac {
			t.Errorf("%s mac = %s, want %s", r.Method, got, r.Mac)
		}
		at, _ := hawk.Parse(hawk.Header(v.TokenID, []byte(key), &a))
		if err := verifier.Verify(at, hawk.Request{Method: r.Method, Resource: a.Resource, Host: a.Host, Port: a.Port}, []byte(key)); err != nil {
			t.Errorf("%s: %v", r.Method, err)
		}
	}
}

func TestSyncstorageRsFixtureNegativeCases(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Tokenlib8c
	s := token.NewSecret(v.MasterSecret)
	now := time.Unix(v.Request1.TS, 0)
	r := v.Request1
	u, _ := url.Parse(r.URL)
	base := hawk.Target(r.Method, u)
	base.TS, base.Nonce = r.TS, r.Nonce
	_, key, _ := s.Parse(v.TokenID, now, true)

	// Token-level rejections.
	tampered := v.TokenID[:len(v.TokenID)-32] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, _, err := s.Parse(tampered, now, true); !errors.Is(err, token.ErrBadSignature) && !errors.Is(err, token.ErrMalformed) {
		t.Errorf("tampered id: %v", err)
	}
	if _, _, err := token.NewSecret(v.Negative.WrongSecret).Parse(v.TokenID, now, true); !errors.Is(err, token.ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, _, err := s.Parse(v.TokenID, time.Unix(1884968439, 0), true); !errors.Is(err, token.ErrExpired) {
		t.Errorf("now = expires: %v", err)
	}
	if _, _, err := s.Parse(v.TokenID, time.Unix(1884968439, 0), false); err != nil {
		t.Errorf("expiry waived (info/collections): %v", err)
	}

	// Request-level rejections: each changes one thing the MAC covers.
	verifier := hawk.NewVerifier(100*365*24*time.Hour, func() time.Time { return now })
	good := hawk.Request{Method: base.Method, Resource: base.Resource, Host: base.Host, Port: base.Port}
	header := func(a hawk.Artifacts) hawk.Attributes {
		at, _ := hawk.Parse(hawk.Header(v.TokenID, []byte(key), &a))
		return at
	}
	cases := map[string]func() (hawk.Attributes, hawk.Request){
		"a published wrong mac": func() (hawk.Attributes, hawk.Request) {
			at := header(base)
			at.MAC = v.Negative.BadMac
			return at, good
		},
		"another nonce": func() (hawk.Attributes, hawk.Request) {
			at := header(base)
			at.Nonce = v.Negative.BadNonce
			return at, good
		},
		"another ts":         func() (hawk.Attributes, hawk.Request) { at := header(base); at.TS = "1536198978"; return at, good },
		"method POST":        func() (hawk.Attributes, hawk.Request) { r := good; r.Method = "POST"; return header(base), r },
		"another path":       func() (hawk.Attributes, hawk.Request) { r := good; r.Resource += "?x=1"; return header(base), r },
		"host localhost.com": func() (hawk.Attributes, hawk.Request) { r := good; r.Host = v.Negative.BadHost; return header(base), r },
		"port 5001":          func() (hawk.Attributes, hawk.Request) { r := good; r.Port = v.Negative.BadPort; return header(base), r },
	}
	for name, c := range cases {
		at, req := c()
		if err := verifier.Verify(at, req, []byte(key)); !errors.Is(err, hawk.ErrBadMAC) {
			t.Errorf("%s: %v, want ErrBadMAC", name, err)
		}
	}
}

func TestMintedTokensParseWithTheSameSecretOnly(t *testing.T) {
	t.Parallel()
	s := token.NewSecret("our secret")
	id, key, err := s.Mint(token.Payload{UID: 42, Node: "http://127.0.0.1:8000", Expires: float64(time.Now().Add(time.Hour).Unix())})
	if err != nil {
		t.Fatal(err)
	}
	p, key2, err := s.Parse(id, time.Now(), true)
	if err != nil || p.UID != 42 || key2 != key || len(p.Salt) != 6 {
		t.Errorf("%+v %v", p, err)
	}
	if _, _, err := token.NewSecret("other").Parse(id, time.Now(), true); !errors.Is(err, token.ErrBadSignature) {
		t.Errorf("other secret: %v", err)
	}
	if _, _, err := s.Parse("!!", time.Now(), true); !errors.Is(err, token.ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}
