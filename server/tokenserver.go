package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncctl/syncctl/token"
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

// authData is what a token request claims about the user's keys. Zero generation or
// keys_changed_at mean "not reported", as in Mozilla's tokenserver.
type authData struct {
	clientState   string // hex
	generation    int64
	keysChangedAt int64
}

// tokenEndpoint answers GET /1.0/sync/1.5 as Mozilla's tokenserver does: for a user the
// operator configured, "Authorization: Bearer <the user's secret>" stands in for the FxA
// OAuth token (and X-KeyID is optional: the embedded users have no FxA keys); any other
// bearer token is verified at OAuthVerifyURL, must carry the oldsync scope and must come
// with X-KeyID. The generation, keys_changed_at and client-state rules are
// syncstorage-rs's (tokenserver extractors), so a client sees the same refusals.
// It returns the answer's outcome for the metrics: issued, throttled, invalid (no
// credentials anyone issued), refused (the keys rules) or error.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) (outcome string) {
	addr := clientAddress(r)
	if wait := s.guesses.wait(addr); wait > 0 {
		tooMany(w, wait)
		return "throttled"
	}
	header := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(header, " ")
	secret = strings.TrimSpace(secret)
	switch {
	case header == "" || !ok || secret == "":
		w.Header().Set("WWW-Authenticate", "Bearer")
		tokenError(w, http.StatusUnauthorized, "error", "body", "", "Unauthorized")
		return "invalid"
	case !strings.EqualFold(scheme, "Bearer"):
		w.Header().Set("WWW-Authenticate", "Bearer")
		tokenError(w, http.StatusUnauthorized, "error", "body", "", "Unsupported")
		return "invalid"
	}
	name, fxaUID := "", ""
	for n, sec := range s.opts.Users {
		if subtle.ConstantTimeCompare([]byte(sec), []byte(secret)) == 1 {
			name = n
		}
	}
	var auth authData
	oauth := false
	if name == "" && s.opts.OAuthVerifyURL != "" {
		v, ok := s.verifyOAuth(r.Context(), secret)
		if ok {
			name, fxaUID, auth.generation, oauth = "fxa:"+v.User, v.User, v.Generation, true
		}
	}
	if name == "" {
		// A secret or token nobody issued: a guess, or a client with a stale one.
		if s.guesses.fail(addr) {
			s.log.Warn().Str("addr", addr).Int("failures", s.opts.TokenFailures).Msg("token endpoint: too many failed authentications; holding the address back")
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		tokenError(w, http.StatusUnauthorized, "invalid-credentials", "body", "", "Unauthorized")
		return "invalid"
	}
	if wait := s.refusals.wait(name); wait > 0 {
		tooMany(w, wait)
		return "throttled"
	}
	if fxaUID == "" {
		fxaUID = fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:32]
	}
	v := r.Header.Get("X-KeyID")
	if v == "" && oauth {
		tokenError(w, http.StatusUnauthorized, "invalid-key-id", "header", "", "Missing X-KeyID header")
		return "refused"
	}
	if v != "" {
		kid, err := parseKeyID(v)
		if err != nil {
			tokenError(w, http.StatusUnauthorized, "invalid-credentials", "body", "", "Unauthorized")
			return "invalid"
		}
		auth.clientState, auth.keysChangedAt = kid.clientState, kid.keysChangedAt
	}
	if cs := r.Header.Get("X-Client-State"); cs != "" {
		if !clientStatePattern.MatchString(cs) {
			tokenError(w, http.StatusBadRequest, "error", "header", "X-Client-State", "Invalid client state value")
			return "refused"
		}
		if v != "" && cs != auth.clientState {
			tokenError(w, http.StatusUnauthorized, "invalid-client-state", "body", "", "Unauthorized")
			return "refused"
		}
		auth.clientState = strings.ToLower(cs)
	}
	al, err := s.allocate(r.Context(), name, auth)
	uid, kca := al.uid, al.kca
	var refused *tokenRefusal
	switch {
	case errors.As(err, &refused):
		// A client looping on keys the rules refuse: held back as a guesser is.
		if s.refusals.fail(name) {
			s.log.Warn().Str("status", refused.status).Msg("token endpoint: an account keeps presenting refused keys; holding it back")
		}
		tokenError(w, http.StatusUnauthorized, refused.status, refused.location, refused.name, refused.description)
		return "refused"
	case err != nil:
		s.log.Error().Err(err).Msg("token allocation")
		tokenError(w, http.StatusServiceUnavailable, "error", "body", "", "Resource is not available")
		return "error"
	}
	duration := s.opts.TokenDuration
	// A bad duration never fails the request: it is ignored, as Mozilla's does.
	if d, err := strconv.ParseUint(r.URL.Query().Get("duration"), 10, 32); err == nil && time.Duration(d)*time.Second <= duration {
		duration = time.Duration(d) * time.Second
	}
	node := al.node
	if node == "" {
		node = s.opts.PublicURL
	}
	if node == "" {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		node = scheme + "://" + r.Host
	}
	node = strings.TrimSuffix(node, "/")
	stateBytes, _ := hex.DecodeString(auth.clientState)
	hashedUID := s.metricsHash(fxaUID)[:32]
	id, key, err := s.secret.Mint(token.Payload{
		UID: uint64(uid), Node: node, Expires: float64(s.opts.Now().Add(duration).Unix()),
		FxAUID: fxaUID, FxAKID: fmt.Sprintf("%013d-%s", kca, base64.RawURLEncoding.EncodeToString(stateBytes)),
		HashedFxAUID: hashedUID, HashedDeviceID: s.metricsHash(hashedUID + "none")[:32],
	})
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "internal-error", "internal", "", "Server error")
		return "error"
	}
	w.Header().Set("X-Timestamp", strconv.FormatInt(s.opts.Now().Unix(), 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "key": key, "uid": uid,
		"api_endpoint":   fmt.Sprintf("%s/1.5/%d", node, uid),
		"duration":       int64(duration / time.Second),
		"hashed_fxa_uid": hashedUID, "hashalg": "sha256", "node_type": s.st.d.name,
	})
	return "issued"
}

// metricsHash is the tokenserver's fxa_metrics_hash: an HMAC of an id under a key of the
// server's own, so that the ids it hands out for metrics name no account.
func (s *Server) metricsHash(v string) string {
	k := hmac.New(sha256.New, s.secret.SigningKey())
	k.Write([]byte("syncctl tokenserver metrics hash"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// unsupportedToken answers a token request for an application or version this server
// does not serve.
func unsupportedToken(w http.ResponseWriter, parts []string) {
	name, desc := "application", "Unsupported application"
	if parts[1] == "sync" {
		name, desc = parts[2], "Unsupported application version"
	}
	tokenError(w, http.StatusNotFound, "error", "url", name, desc)
}

// oauthGrant is what FxA's verifier says of a token.
type oauthGrant struct {
	User       string   `json:"user"`
	Scope      []string `json:"scope"`
	Generation int64    `json:"generation"`
}

// verifyOAuth asks the FxA OAuth server whose token this is; ok is false when the token
// is not valid for Sync.
func (s *Server) verifyOAuth(ctx context.Context, tok string) (oauthGrant, bool) {
	body, _ := json.Marshal(map[string]string{"token": tok})
	req, err := http.NewRequestWithContext(ctx, "POST", s.opts.OAuthVerifyURL, bytes.NewReader(body))
	if err != nil {
		return oauthGrant{}, false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		s.log.Warn().Err(err).Msg("oauth verify")
		return oauthGrant{}, false
	}
	defer resp.Body.Close()
	var v oauthGrant
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v) != nil || v.User == "" || !slices.Contains(v.Scope, oldsyncScope) {
		return oauthGrant{}, false
	}
	return v, true
}

const oldsyncScope = "https://identity.mozilla.com/apps/oldsync"

// tokenRefusal is a token request the key rules refuse (always a 401).
type tokenRefusal struct{ status, location, name, description string }

func (e *tokenRefusal) Error() string { return e.status + ": " + e.description }

func refuseState(desc string) error {
	return &tokenRefusal{"invalid-client-state", "header", "X-Client-State", desc}
}

var (
	errGeneration    = &tokenRefusal{"invalid-generation", "body", "", "Unauthorized"}
	errKeysChangedAt = &tokenRefusal{"invalid-keysChangedAt", "body", "", "Unauthorized"}
)

// retiredGeneration marks a retired user (an FxA account deleted): no generation is ever
// as high, so every later request is refused, as Mozilla's retire_user does.
const retiredGeneration = math.MaxInt64

// RetireUser refuses every later token request of an FxA user (fxaUID, the account's
// hex uid) as Mozilla's tokenserver does for a deleted account. Their data stays until
// the operator removes it.
func (s *Server) RetireUser(fxaUID string) error { return s.st.retireAccount("fxa:" + fxaUID) }

// retireAccount makes every later token request of the account name refused.
func (st *store) retireAccount(name string) error {
	st.lock()
	defer st.unlock()
	_, err := st.w.Exec(`INSERT INTO account_generations (name, generation) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET generation = excluded.generation`, name, int64(retiredGeneration))
	return err
}

// allocate returns the user's uid for these keys, with the keys_changed_at it is under:
// the same uid while the client state stays, a new one (fresh storage) for a new state.
// It refuses what Mozilla's tokenserver refuses: a generation or keys_changed_at going
// back, keys_changed_at beyond the generation, a new client state without a newer
// generation and keys_changed_at, and a client state used before. It runs in one
// transaction that first locks the account name's row, so that two nodes answering the
// same account at once cannot both allocate.
func (s *Server) allocate(ctx context.Context, name string, a authData) (_ allocation, err error) {
	s.st.lock()
	defer s.st.unlock()
	t, err := s.st.w.begin(ctx, nil)
	if err != nil {
		return allocation{}, err
	}
	defer t.Rollback()
	al, err := s.allocateIn(t, name, a)
	if err != nil {
		return allocation{}, err
	}
	return al, t.Commit()
}

// allocation is where a token sends a user: their uid, the keys_changed_at it is under,
// and the storage node that holds it ("": this server).
type allocation struct {
	uid, kca int64
	node     string
}

func (s *Server) allocateIn(t *tx, name string, a authData) (allocation, error) {
	var (
		uid        int64
		state      string
		changed    int64
		generation int64
		node       string
	)
	// The lock: an upsert that changes nothing, returning the generation (0: none seen).
	if err := t.QueryRow(`INSERT INTO account_generations (name, generation) VALUES (?, 0)
		ON CONFLICT (name) DO UPDATE SET generation = account_generations.generation RETURNING generation`, name).Scan(&generation); err != nil {
		return allocation{}, err
	}
	err := t.QueryRow(`SELECT uid, client_state, keys_changed_at, node FROM accounts WHERE name = ? ORDER BY uid DESC LIMIT 1`, name).Scan(&uid, &state, &changed, &node)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return allocation{}, err
	}
	exists := err == nil
	if generation == retiredGeneration {
		return allocation{}, errGeneration
	}
	if exists {
		var used int
		if err := t.QueryRow(`SELECT COUNT(*) FROM accounts WHERE name = ? AND client_state = ? AND uid <> ?`, name, a.clientState, uid).Scan(&used); err != nil {
			return allocation{}, err
		}
		if err := checkKeys(a, state, changed, generation, used > 0); err != nil {
			return allocation{}, err
		}
	}
	if a.generation > generation {
		if _, err := t.Exec(`UPDATE account_generations SET generation = ? WHERE name = ?`, a.generation, name); err != nil {
			return allocation{}, err
		}
	}
	kca := a.keysChangedAt
	if exists && state == a.clientState {
		if a.keysChangedAt > changed {
			if _, err := t.Exec(`UPDATE accounts SET keys_changed_at = ? WHERE uid = ?`, a.keysChangedAt, uid); err != nil {
				return allocation{}, err
			}
			changed = a.keysChangedAt
		}
		active, err := s.nodeActive(t, node)
		if err != nil || active {
			return allocation{uid: uid, kca: changed, node: node}, err
		}
		// The user's node is retired (or the user predates the node list): they move to
		// a node in service, under a new uid, with fresh storage. Their clients see a new
		// api_endpoint, and resync everything, as after Mozilla's node reassignment.
		kca = changed
	}
	if exists { // the user's latest uid is no longer on its node
		if _, err := t.Exec(`UPDATE nodes SET users = users - 1 WHERE url = ? AND users > 0`, node); err != nil {
			return allocation{}, err
		}
	}
	node, err = s.pickNode(t)
	if err != nil {
		return allocation{}, err
	}
	err = t.QueryRow(`INSERT INTO accounts (name, client_state, keys_changed_at, created, node) VALUES (?, ?, ?, ?, ?) RETURNING uid`,
		name, a.clientState, kca, s.opts.Now().UnixMilli(), node).Scan(&uid)
	return allocation{uid: uid, kca: kca, node: node}, err
}

// nodeActive reports whether node (an account's) is where the user may stay: with no
// storage nodes known, this server (""); with some, one in service.
func (s *Server) nodeActive(t *tx, node string) (bool, error) {
	var known, active int
	err := t.QueryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN url = ? AND retired = 0 THEN 1 ELSE 0 END), 0) FROM nodes`, node).Scan(&known, &active)
	if known == 0 {
		return node == "", err
	}
	return active > 0, err
}

// ErrNoNode: storage nodes are configured, and every one is retired.
var ErrNoNode = errors.New("server: every storage node is retired: add one (syncctl serve nodes add URL)")

// pickNode assigns a new user to the node in service holding the fewest users (the
// first by URL among equals), and counts them there; "" (this server) when no storage
// nodes are known.
func (s *Server) pickNode(t *tx) (string, error) {
	var known int
	if err := t.QueryRow(`SELECT COUNT(*) FROM nodes`).Scan(&known); err != nil || known == 0 {
		return "", err
	}
	var node string
	err := t.QueryRow(`SELECT url FROM nodes WHERE retired = 0 ORDER BY users, url LIMIT 1` + s.st.d.forUpdate).Scan(&node)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNoNode
	}
	if err != nil {
		return "", err
	}
	_, err = t.Exec(`UPDATE nodes SET users = users + 1 WHERE url = ?`, node)
	return node, err
}

// inServiceSQL puts a storage node in service: known from now on, or again.
const inServiceSQL = `INSERT INTO nodes (url, retired, users) VALUES (?, 0, 0) ON CONFLICT (url) DO UPDATE SET retired = 0`

// syncNodes makes the nodes table what Options.Nodes says: the listed nodes in
// service, every other node retired (its users move at their next token request).
// Without Options.Nodes the table stays as the admin commands left it.
func (s *Server) syncNodes() error {
	if len(s.opts.Nodes) == 0 {
		return nil
	}
	s.st.lock()
	defer s.st.unlock()
	t, err := s.st.w.begin(context.Background(), nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	if _, err := t.Exec(`UPDATE nodes SET retired = 1`); err != nil {
		return err
	}
	for _, n := range s.opts.Nodes {
		if _, err := t.Exec(inServiceSQL, n); err != nil {
			return err
		}
	}
	return t.Commit()
}

// NodeUsers is a storage node and the users the token endpoint has assigned to it.
type NodeUsers struct {
	URL     string `json:"url"`
	Users   int64  `json:"users"`
	Retired bool   `json:"retired"`
}

// Nodes lists the storage nodes the token endpoint assigns users to, retired ones too.
func (s *Server) Nodes() ([]NodeUsers, error) { return listNodes(context.Background(), s.st) }

func listNodes(ctx context.Context, st *store) ([]NodeUsers, error) {
	rows, err := st.r.pool.QueryContext(ctx, `SELECT url, users, retired FROM nodes ORDER BY url`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NodeUsers
	for rows.Next() {
		var n NodeUsers
		var retired int
		if err := rows.Scan(&n.URL, &n.Users, &retired); err != nil {
			return nil, err
		}
		n.Retired = retired != 0
		out = append(out, n)
	}
	return out, rows.Err()
}

// checkKeys applies the rules in syncstorage-rs's order to a known user: its current
// client state, keys_changed_at and generation (0: never reported), and whether the
// requested state is one it used before.
func checkKeys(a authData, state string, changed, generation int64, stale bool) error {
	both := func(x, y int64) bool { return x != 0 && y != 0 }
	newState := a.clientState != state
	switch {
	case both(a.keysChangedAt, changed) && a.keysChangedAt > changed && a.generation != 0 && a.generation < a.keysChangedAt:
		return errKeysChangedAt
	case state != "" && a.clientState == "":
		return refuseState("Unacceptable client-state value empty string")
	case newState && stale:
		return refuseState("Unacceptable client-state value stale value")
	case newState && a.generation != 0 && a.generation <= generation:
		return refuseState("Unacceptable client-state value new value with no generation change")
	case newState && both(a.keysChangedAt, changed) && a.keysChangedAt <= changed:
		return refuseState("Unacceptable client-state value new value with no keys_changed_at change")
	case a.generation != 0 && generation > a.generation:
		return errGeneration
	case both(a.keysChangedAt, changed) && changed > a.keysChangedAt:
		return errKeysChangedAt
	case a.keysChangedAt == 0 && changed != 0:
		return errKeysChangedAt
	}
	return nil
}
