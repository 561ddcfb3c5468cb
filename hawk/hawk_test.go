package hawk_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/fixtures"
	"github.com/syncctl/syncctl/hawk"
)

func vector8a(t *testing.T) (hawk.Artifacts, []byte) {
	v := fixtures.Load().Hawk8a
	u, _ := url.Parse(v.URL)
	a := hawk.Target("GET", u)
	a.TS, a.Nonce, a.Ext = v.TS, v.Nonce, v.Ext
	return a, []byte(v.Key)
}

func TestSpecExampleGET(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Hawk8a
	a, key := vector8a(t)
	if got := a.Normalized(); got != v.GetNormalized {
		t.Errorf("normalized = %q", got)
	}
	if got := a.MAC(key); got != v.GetMac {
		t.Errorf("mac = %s, want %s", got, v.GetMac)
	}
	if got := hawk.Header(v.ID, key, &a); got != v.GetHeader {
		t.Errorf("header = %s\nwant     %s", got, v.GetHeader)
	}
}

func TestSpecExamplePOSTWithPayloadHash(t *testing.T) {
	t.Parallel()
	v := fixtures.Load().Hawk8a
	a, key := vector8a(t)
	a.Method = "POST"
	a.Hash = hawk.PayloadHash(v.PostContentType+"; charset=utf-8", []byte(v.PostBody))
	if a.Hash != v.PostHash {
		t.Errorf("hash = %s, want %s", a.Hash, v.PostHash)
	}
	if got := hawk.Header(v.ID, key, &a); got != v.PostHeader {
		t.Errorf("header = %s\nwant     %s", got, v.PostHeader)
	}
}

func TestParseReadsWhatHeaderWrites(t *testing.T) {
	t.Parallel()
	a := hawk.Artifacts{TS: 1, Nonce: `n"o\nce`, Method: "GET", Resource: "/", Host: "h", Port: 80, Ext: `e"x`}
	at, err := hawk.Parse(hawk.Header(`i"d`, []byte("k"), &a))
	if err != nil || at.ID != `i"d` || at.Nonce != `n"o\nce` || at.Ext != `e"x` || at.MAC != a.MAC([]byte("k")) {
		t.Errorf("%+v %v", at, err)
	}
	for _, bad := range []string{``, `Basic x`, `Hawk id="a"`, `Hawk id="a", ts="1", nonce="n", mac="m", zz="1"`, `Hawk id="a, ts="1"`, `Hawk id=a`} {
		if _, err := hawk.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestVerifierRejectsBadMACStaleTimestampAndReplay(t *testing.T) {
	t.Parallel()
	now := time.Unix(1353832234, 0)
	v := hawk.NewVerifier(time.Minute, func() time.Time { return now })
	a, key := vector8a(t)
	req := hawk.Request{Method: "GET", Resource: a.Resource, Host: a.Host, Port: a.Port}
	at, _ := hawk.Parse(hawk.Header("dh37fgj492je", key, &a))
	if err := v.Verify(at, req, key); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	if err := v.Verify(at, req, key); !errors.Is(err, hawk.ErrReplay) {
		t.Errorf("replay: %v", err)
	}
	other := req
	other.Method = "POST"
	if err := v.Verify(at, other, key); !errors.Is(err, hawk.ErrBadMAC) {
		t.Errorf("other method: %v", err)
	}
	now = now.Add(2 * time.Minute)
	a.Nonce = "fresh"
	at, _ = hawk.Parse(hawk.Header("dh37fgj492je", key, &a))
	if err := v.Verify(at, req, key); !errors.Is(err, hawk.ErrStale) {
		t.Errorf("stale: %v", err)
	}
}

func TestVerifierChecksAPayloadHashWhenSent(t *testing.T) {
	t.Parallel()
	v := hawk.NewVerifier(time.Minute, func() time.Time { return time.Unix(100, 0) })
	a := hawk.Artifacts{TS: 100, Nonce: "n", Method: "PUT", Resource: "/x", Host: "h", Port: 80, Hash: hawk.PayloadHash("application/json", []byte(`{}`))}
	at, _ := hawk.Parse(hawk.Header("id", []byte("k"), &a))
	err := v.Verify(at, hawk.Request{Method: "PUT", Resource: "/x", Host: "h", Port: 80, ContentType: "application/json", Body: []byte(`{"x":1}`)}, []byte("k"))
	if !errors.Is(err, hawk.ErrBadHash) {
		t.Errorf("tampered body: %v", err)
	}
}

// The replay cache is bounded whatever clients send: a nonce over MaxNonceLength is
// refused, a key is a hash (so a long token id costs nothing), entries leave once their
// window has passed, and at the ceiling the oldest go first.
func TestTheReplayCacheIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	v := hawk.NewVerifier(time.Minute, func() time.Time { return now })
	v.MaxNonces = 1000
	key := []byte("key")
	send := func(nonce string) error {
		a := hawk.Artifacts{TS: now.Unix(), Nonce: nonce, Method: "GET", Resource: "/", Host: "h", Port: 80}
		at, err := hawk.Parse(hawk.Header(strings.Repeat("i", 4096), key, &a))
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(at, hawk.Request{Method: "GET", Resource: "/", Host: "h", Port: 80}, key)
	}
	if err := send(strings.Repeat("n", hawk.MaxNonceLength+1)); !errors.Is(err, hawk.ErrMalformed) {
		t.Errorf("a %d-byte nonce: %v", hawk.MaxNonceLength+1, err)
	}
	if err := send(strings.Repeat("n", hawk.MaxNonceLength)); err != nil {
		t.Errorf("a %d-byte nonce: %v", hawk.MaxNonceLength, err)
	}
	for i := range 5000 {
		if err := send(fmt.Sprint("nonce-", i)); err != nil {
			t.Fatal(err)
		}
	}
	st := v.Stats()
	if st.Size > 1000 || st.Evicted < 4000 || st.Refused != 1 {
		t.Errorf("after 5001 nonces under a ceiling of 1000: %+v", st)
	}
	if err := send("nonce-4999"); !errors.Is(err, hawk.ErrReplay) {
		t.Errorf("a replay of the newest nonce: %v", err)
	}
	now = now.Add(2*time.Minute + time.Second)
	if err := send("later"); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.Size != 1 {
		t.Errorf("two windows later, %d nonces are still held", st.Size)
	}
}

// Firefox's computeHAWK vectors (services/crypto/tests/unit/test_utils_hawk.js): an
// international host name is signed in its punycode form, an upper-case one in lower case.
func TestInternationalAndUpperCaseHostsAsFirefoxSignsThem(t *testing.T) {
	t.Parallel()
	key := []byte("2983d45yun89q")
	for _, tc := range []struct{ url, host, mac string }{
		{"http://ëxample.net/path", "xn--xample-ova.net", "pILiHl1q8bbNQIdaaLwAFyaFmDU70MGehFuCs3AA5M0="},
		{"http://example.net/path", "example.net", "S3f8E4hAURAqJxOlsYugkPZxLoRYrClgbSQ/3FmKMbY="},
		{"http://EXAMPLE.NET/path", "example.net", "S3f8E4hAURAqJxOlsYugkPZxLoRYrClgbSQ/3FmKMbY="},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		a := hawk.Target("POST", u)
		a.TS, a.Nonce = 1353809207, "Ygvqdz"
		if a.Host != tc.host || a.MAC(key) != tc.mac {
			t.Errorf("%s: host %q mac %s, want %q %s", tc.url, a.Host, a.MAC(key), tc.host, tc.mac)
		}
	}
}
