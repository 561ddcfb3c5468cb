package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzTokenRequest throws arbitrary X-KeyID, X-Client-State and ?duration= at the token
// endpoint: it answers 200, 400 or 401, always with a JSON body, and a 200's client
// state is what X-KeyID decodes to.
func FuzzTokenRequest(f *testing.F) {
	f.Add("0000000001234-qqo", "", "")
	f.Add("1234-qqo", "aaaa", "60")
	f.Add("-", "!!", "-1")
	f.Add("99999999999999999999-qqo", "", "abc")
	f.Add("12-", "", "18446744073709551616")
	srv, err := New(Options{DataDir: f.TempDir(), Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, kid, state, duration string) {
		req := httptest.NewRequest("GET", "/1.0/sync/1.5", nil)
		q := req.URL.Query()
		q.Set("duration", duration)
		req.URL.RawQuery = q.Encode()
		req.Header.Set("Authorization", "Bearer alice-secret")
		if kid != "" {
			req.Header.Set("X-KeyID", kid)
		}
		if state != "" {
			req.Header.Set("X-Client-State", state)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		var body map[string]any
		if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
			t.Fatalf("%d with a body that is not a JSON object: %q", rr.Code, rr.Body.String())
		}
		switch rr.Code {
		case http.StatusOK:
			if body["id"] == nil || body["api_endpoint"] == nil {
				t.Fatalf("200 without a token: %v", body)
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			if body["status"] == nil || body["errors"] == nil {
				t.Fatalf("%d without the tokenserver's error body: %v", rr.Code, body)
			}
		default:
			t.Fatalf("status %d for X-KeyID %q, X-Client-State %q, duration %q: %v", rr.Code, kid, state, duration, body)
		}
	})
}
