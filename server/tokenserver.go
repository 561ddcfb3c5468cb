package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenError is the tokenserver's error body.
func tokenError(w http.ResponseWriter, status int, code, location, name, desc string) {
	writeJSON(w, status, map[string]any{
		"status": code,
		"errors": []map[string]string{{"location": location, "name": name, "description": desc}},
	})
}

var clientStatePattern = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,32}$`)

// keyID is a parsed X-KeyID: "<keys_changed_at>-<b64url(client state)>".
type keyID struct {
	keysChangedAt int64
	clientState   string // hex
}

func parseKeyID(v string) (keyID, error) {
	ts, state, ok := strings.Cut(v, "-")
	if !ok {
		return keyID{}, errors.New("no dash")
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < 0 {
		return keyID{}, errors.New("bad keys_changed_at")
	}
	raw, err := base64.RawURLEncoding.DecodeString(state)
	if err != nil || len(raw) == 0 {
		return keyID{}, errors.New("bad client state")
	}
	return keyID{keysChangedAt: n, clientState: hex.EncodeToString(raw)}, nil
}

// tokenEndpoint answers GET /1.0/sync/1.5 like Mozilla's tokenserver, for the users the
// operator configured: "Authorization: Bearer <the user's secret>" stands in for the FxA
// OAuth token. X-KeyID is optional here (the embedded users have no FxA keys) but, when
// sent, a new client state moves the user to a fresh, empty storage, as on Mozilla's.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		tokenError(w, http.StatusUnauthorized, "error", "header", "Authorization", "Unsupported")
		return
	}
	name := ""
	for n, sec := range s.opts.Users {
		if subtle.ConstantTimeCompare([]byte(sec), []byte(strings.TrimSpace(secret))) == 1 {
			name = n
		}
	}
	if name == "" && s.opts.OAuthVerifyURL != "" {
		name = s.verifyOAuth(r.Context(), strings.TrimSpace(secret))
	}
	if name == "" {
		w.Header().Set("WWW-Authenticate", "Bearer")
		tokenError(w, http.StatusUnauthorized, "invalid-credentials", "body", "", "Unauthorized")
		return
	}
	var kid keyID
	if v := r.Header.Get("X-KeyID"); v != "" {
		var err error
		if kid, err = parseKeyID(v); err != nil {
			tokenError(w, http.StatusUnauthorized, "invalid-credentials", "body", "", "Unauthorized")
			return
		}
	}
	if cs := r.Header.Get("X-Client-State"); cs != "" {
		if !clientStatePattern.MatchString(cs) {
			tokenError(w, http.StatusBadRequest, "error", "header", "X-Client-State", "Invalid client state value")
			return
		}
		if kid.clientState != "" && !strings.EqualFold(cs, kid.clientState) {
			tokenError(w, http.StatusUnauthorized, "invalid-client-state", "header", "X-Client-State", "Unacceptable client-state value")
			return
		}
		kid.clientState = strings.ToLower(cs)
	}
	uid, status, err := s.allocate(name, kid)
	if err != nil {
		if status == 0 {
			s.log.Error().Err(err).Msg("token allocation")
			tokenError(w, http.StatusServiceUnavailable, "error", "internal", "", "Resource is not available")
			return
		}
		tokenError(w, http.StatusUnauthorized, status2code[status], "header", "X-KeyID", err.Error())
		return
	}
	node := s.opts.PublicURL
	if node == "" {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		node = scheme + "://" + r.Host
	}
	node = strings.TrimSuffix(node, "/")
	fxaUID := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:32]
	stateBytes, _ := hex.DecodeString(kid.clientState)
	fxaKID := fmt.Sprintf("%013d-%s", kid.keysChangedAt, base64.RawURLEncoding.EncodeToString(stateBytes))
	id, key, err := s.mintFor(uid, node, fxaUID, fxaKID)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "internal-error", "internal", "", err.Error())
		return
	}
	w.Header().Set("X-Timestamp", strconv.FormatInt(s.opts.Now().Unix(), 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "key": key, "uid": uid,
		"api_endpoint":   fmt.Sprintf("%s/1.5/%d", node, uid),
		"duration":       int64(s.opts.TokenDuration / time.Second),
		"hashed_fxa_uid": fxaUID, "hashalg": "sha256", "node_type": "sqlite",
	})
}

// verifyOAuth asks the FxA OAuth server whose token this is; it returns the account
// name ("fxa:<uid>") or "" when the token is not valid for Sync.
func (s *Server) verifyOAuth(ctx context.Context, tok string) string {
	body, _ := json.Marshal(map[string]string{"token": tok})
	req, err := http.NewRequestWithContext(ctx, "POST", s.opts.OAuthVerifyURL, bytes.NewReader(body))
	if err != nil {
		return ""
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.log.Warn().Err(err).Msg("oauth verify")
		return ""
	}
	defer resp.Body.Close()
	var v struct {
		User  string   `json:"user"`
		Scope []string `json:"scope"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil || v.User == "" || !slices.Contains(v.Scope, oldsyncScope) {
		return ""
	}
	return "fxa:" + v.User
}

const oldsyncScope = "https://identity.mozilla.com/apps/oldsync"

const (
	staleState = iota + 1
	olderKeys
)

var status2code = map[int]string{staleState: "invalid-client-state", olderKeys: "invalid-keysChangedAt"}

// allocate returns the user's uid for this key generation: the same uid while the client
// state stays, a new one (fresh storage) for a newer state, and a refusal for a state
// used before or an older keys_changed_at.
func (s *Server) allocate(name string, kid keyID) (int64, int, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	var (
		uid     int64
		state   string
		changed int64
	)
	err := s.st.w.QueryRow(`SELECT uid, client_state, keys_changed_at FROM accounts WHERE name = ? ORDER BY uid DESC LIMIT 1`, name).Scan(&uid, &state, &changed)
	switch {
	case err == nil && state == kid.clientState:
		return uid, 0, nil
	case err == nil && kid.keysChangedAt < changed:
		return 0, olderKeys, errors.New("keys_changed_at went back")
	case err == nil:
		var used int
		if err := s.st.w.QueryRow(`SELECT COUNT(*) FROM accounts WHERE name = ? AND client_state = ?`, name, kid.clientState).Scan(&used); err != nil {
			return 0, 0, err
		}
		if used > 0 {
			return 0, staleState, errors.New("client state was used before")
		}
	case !errors.Is(err, sql.ErrNoRows):
		return 0, 0, err
	}
	res, err := s.st.w.Exec(`INSERT INTO accounts (name, client_state, keys_changed_at, created) VALUES (?, ?, ?, ?)`,
		name, kid.clientState, kid.keysChangedAt, s.opts.Now().UnixMilli())
	if err != nil {
		return 0, 0, err
	}
	uid, err = res.LastInsertId()
	return uid, 0, err
}
