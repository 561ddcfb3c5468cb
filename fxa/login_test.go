package fxa_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/fixtures/fxaserver"
	"github.com/syncctl/syncctl/fxa"
)

var totpSecret = []byte("12345678901234567890")

func double(t *testing.T) (*fxaserver.Server, *fxa.Client) {
	t.Helper()
	srv, err := fxaserver.New(
		fxaserver.Account{Email: "plain@example.org", Password: "pässwörd", KeyRotation: 1510726317123},
		fxaserver.Account{Email: "André@Example.org", Password: "pw"},
		fxaserver.Account{Email: "totp@example.org", Password: "pw", Verification: "totp-2fa", TOTPSecret: totpSecret},
		fxaserver.Account{Email: "code@example.org", Password: "pw", Verification: "email-otp", EmailCode: "123456"},
		fxaserver.Account{Email: "link@example.org", Password: "pw", Verification: "email"},
		fxaserver.Account{Email: "locked@example.org", Password: "pw", Locked: true},
		fxaserver.Account{Email: "blocked@example.org", Password: "pw", Blocked: true, UnblockCode: "ABCD1234"},
	)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, &fxa.Client{Env: fxa.Environment{AuthURL: hs.URL + "/v1", ClientID: "test"}}
}

func prompt(code string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return code, nil }
}

func TestLoginYieldsKBTheKeyIDAndAnOAuthToken(t *testing.T) {
	t.Parallel()
	srv, c := double(t)
	cr, err := c.Login(context.Background(), "plain@example.org", "pässwörd", fxa.Prompts{})
	if err != nil {
		t.Fatal(err)
	}
	kB, _ := hex.DecodeString(cr.KB)
	if hex.EncodeToString(srv.KB("plain@example.org")) != cr.KB {
		t.Errorf("kB %s, the server's %x", cr.KB, srv.KB("plain@example.org"))
	}
	if cr.KeyID != crypto.KeyID(1510726317123, kB) || cr.AccessToken == "" || cr.RefreshToken == "" || cr.UID != srv.UID("plain@example.org") {
		t.Errorf("%+v", cr)
	}
	// An expired access token is refreshed with the refresh token alone.
	old := cr.AccessToken
	c.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	tok, refreshed, err := c.Bearer(context.Background(), cr)
	if err != nil || !refreshed || tok == old {
		t.Errorf("refresh: %v %v", refreshed, err)
	}
}

func TestTheEmailCaseTheAccountWasCreatedWithIsUsed(t *testing.T) {
	t.Parallel()
	srv, c := double(t)
	cr, err := c.Login(context.Background(), "andré@example.org", "pw", fxa.Prompts{})
	if err != nil || cr.Email != "André@Example.org" || cr.KB != hex.EncodeToString(srv.KB("André@Example.org")) {
		t.Fatalf("%+v %v", cr, err)
	}
}

func TestSessionVerification(t *testing.T) {
	t.Parallel()
	srv, c := double(t)
	ctx := context.Background()
	t.Run("a TOTP code from the authenticator", func(t *testing.T) {
		code := fxaserver.TOTP(totpSecret, time.Now())
		if _, err := c.Login(ctx, "totp@example.org", "pw", fxa.Prompts{TOTP: prompt(code)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a wrong TOTP code", func(t *testing.T) {
		if _, err := c.Login(ctx, "totp@example.org", "pw", fxa.Prompts{TOTP: prompt("000000")}); !errors.Is(err, fxa.ErrWrongCode) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("TOTP needed but no way to ask", func(t *testing.T) {
		if _, err := c.Login(ctx, "totp@example.org", "pw", fxa.Prompts{}); !errors.Is(err, fxa.ErrUnverifiedSession) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a code sent by email", func(t *testing.T) {
		if _, err := c.Login(ctx, "code@example.org", "pw", fxa.Prompts{EmailCode: prompt("123456")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, "code@example.org", "pw", fxa.Prompts{EmailCode: prompt("999999")}); !errors.Is(err, fxa.ErrWrongCode) {
			t.Errorf("wrong code: %v", err)
		}
	})
	t.Run("a link: the client polls until it is clicked", func(t *testing.T) {
		go func() { time.Sleep(150 * time.Millisecond); srv.VerifySessions("link@example.org") }()
		if _, err := c.Login(ctx, "link@example.org", "pw", fxa.Prompts{PollEvery: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a link never clicked ends with a clear error", func(t *testing.T) {
		_, err := c.Login(ctx, "link@example.org", "pw", fxa.Prompts{PollEvery: 10 * time.Millisecond, VerifyPoll: 50 * time.Millisecond})
		if !errors.Is(err, fxa.ErrUnverifiedSession) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLoginErrorsAreTyped(t *testing.T) {
	t.Parallel()
	_, c := double(t)
	ctx := context.Background()
	for _, tc := range []struct {
		email, password string
		p               fxa.Prompts
		want            error
	}{
		{"plain@example.org", "wrong", fxa.Prompts{}, fxa.ErrWrongPassword},
		{"nobody@example.org", "pw", fxa.Prompts{}, fxa.ErrUnknownAccount},
		{"locked@example.org", "pw", fxa.Prompts{}, fxa.ErrLocked},
		{"blocked@example.org", "pw", fxa.Prompts{}, fxa.ErrRequestBlocked},
		{"blocked@example.org", "pw", fxa.Prompts{UnblockCode: prompt("WRONG")}, fxa.ErrInvalidUnblockCode},
	} {
		if _, err := c.Login(ctx, tc.email, tc.password, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.email, err, tc.want)
		}
	}
	if _, err := c.Login(ctx, "blocked@example.org", "pw", fxa.Prompts{UnblockCode: prompt("ABCD1234")}); err != nil {
		t.Errorf("with the unblock code: %v", err)
	}
}

func TestThrottlingCarriesItsRetryAfter(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(429)
		w.Write([]byte(`{"code":429,"errno":114,"error":"Too Many Requests","message":"Client has sent too many requests","retryAfter":30}`))
	}))
	defer hs.Close()
	c := &fxa.Client{Env: fxa.Environment{AuthURL: hs.URL + "/v1"}}
	_, err := c.Login(context.Background(), "a@b.c", "pw", fxa.Prompts{})
	var fe *fxa.Error
	if !errors.Is(err, fxa.ErrThrottled) || !errors.As(err, &fe) || fe.RetryAfter != 30 || !strings.Contains(err.Error(), "retry after 30s") {
		t.Errorf("err = %v", err)
	}
}

func TestTheWAFsNonJSON406IsABlockedRequest(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(406)
		w.Write([]byte(`<html>challenge</html>`))
	}))
	defer hs.Close()
	c := &fxa.Client{Env: fxa.Environment{AuthURL: hs.URL + "/v1"}}
	if _, err := c.Login(context.Background(), "a@b.c", "pw", fxa.Prompts{}); !errors.Is(err, fxa.ErrRequestBlocked) {
		t.Errorf("err = %v", err)
	}
}

func TestTheOAuthFlowNeverSeesThePassword(t *testing.T) {
	t.Parallel()
	srv, c := double(t)
	c.Env.ContentURL = "https://accounts.example"
	flow, err := c.BeginOAuth("https://app.example/redirect")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(flow.URL)
	q := u.Query()
	if u.Host != "accounts.example" || q.Get("code_challenge_method") != "S256" || q.Get("keys_jwk") == "" || !strings.Contains(q.Get("scope"), fxa.OldsyncScope) {
		t.Fatalf("%s", flow.URL)
	}
	// The user logs in in the browser; the browser lands on the redirect with a code.
	code, err := srv.Authorize("plain@example.org", q.Get("code_challenge"), q.Get("keys_jwk"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteOAuth(context.Background(), flow, "https://app.example/redirect?code="+code+"&state=forged"); !errors.Is(err, fxa.ErrOAuthState) {
		t.Errorf("a forged state: %v", err)
	}
	code, _ = srv.Authorize("plain@example.org", q.Get("code_challenge"), q.Get("keys_jwk"))
	cr, err := c.CompleteOAuth(context.Background(), flow, "https://app.example/redirect?code="+code+"&state="+q.Get("state"))
	if err != nil {
		t.Fatal(err)
	}
	// The scoped key is the same Sync key a password login derives from kB.
	want, _ := crypto.SyncKeyBundle(srv.KB("plain@example.org"))
	got, err := cr.SyncKey()
	if err != nil || !got.Equal(want) || cr.KeyID != crypto.KeyID(1510726317123, srv.KB("plain@example.org")) || cr.KB != "" || cr.RefreshToken == "" {
		t.Errorf("%+v %v", cr, err)
	}
}
