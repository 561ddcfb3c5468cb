package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// FxA stands in for Firefox Accounts' OAuth verifier (POST /v1/verify with {"token": …},
// which a tokenserver calls for every token request): it knows the tokens the runner
// issues and answers for each the user, scope and generation the case chose. Serve it
// where the tokenserver under test is told to verify (syncctl serve --oauth-verify-url,
// syncstorage-rs's FXA_OAUTH_SERVER_URL).
type FxA struct {
	mu     sync.Mutex
	grants map[string]fxaGrant
	calls  int
}

type fxaGrant struct {
	User       string   `json:"user"`
	ClientID   string   `json:"client_id"`
	Scope      []string `json:"scope"`
	Generation int64    `json:"generation,omitempty"`
}

// maxGrants bounds the double's memory: a run issues a few dozen.
const maxGrants = 10000

// NewFxA returns an empty verifier.
func NewFxA() *FxA { return &FxA{grants: map[string]fxaGrant{}} }

// Issue makes a token that verifies to user (a hex FxA uid) with the generation (0: not
// reported) and scopes.
func (f *FxA) Issue(user string, generation int64, scope ...string) string {
	var b [24]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.grants) >= maxGrants {
		clear(f.grants)
	}
	f.grants[tok] = fxaGrant{User: user, ClientID: "5882386c6d801776", Scope: scope, Generation: generation}
	return tok
}

// Calls is how many verifications the tokenserver asked for.
func (f *FxA) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// ServeHTTP answers POST …/verify as FxA does: 200 with the grant, or 400 errno 108.
func (f *FxA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/verify") {
		http.NotFound(w, r)
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in)
	f.mu.Lock()
	f.calls++
	g, ok := f.grants[in.Token]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if err != nil || !ok {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"code": 400, "errno": 108, "error": "Bad Request", "message": "Invalid token"})
		return
	}
	json.NewEncoder(w).Encode(g)
}
