package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Admin manages a server's accounts and storage nodes in its database, whether the
// server runs or not: SQLite lets a second process write between the server's
// transactions, and PostgreSQL is shared by design. It opens the database only — no
// secret, no token endpoint.
type Admin struct {
	st *store
}

// ErrNoSuchUser: no account has that name.
var ErrNoSuchUser = errors.New("server: no such user")

// OpenAdmin opens the SQLite server in dir, or the PostgreSQL database at url.
func OpenAdmin(dir, url string) (*Admin, error) {
	if url == "" {
		if _, err := os.Stat(filepath.Join(dir, "syncstorage.db")); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoSource, err)
		}
	}
	st, err := openStore(dir, url, time.Now, true)
	if err != nil {
		return nil, err
	}
	return &Admin{st: st}, nil
}

// Close closes the database.
func (a *Admin) Close() error { return a.st.close() }

// UserInfo is an account as the server holds it: its current uid and node, and what the
// storage of that uid in this database holds (on a token server that spreads users
// over nodes, the records are on the node, not here).
type UserInfo struct {
	Name        string `json:"name"`
	UID         int64  `json:"uid"`
	Node        string `json:"node"`
	Collections int64  `json:"collections"`
	Records     int64  `json:"records"`
	Bytes       int64  `json:"bytes"`
	LastWrite   int64  `json:"last_write"` // ms since the epoch; 0: never
	Disabled    bool   `json:"disabled"`
}

// Users lists every account by name, with its storage.
func (a *Admin) Users(ctx context.Context) ([]UserInfo, error) {
	type usage struct{ colls, records, bytes int64 }
	used := map[int64]usage{}
	rows, err := a.st.r.pool.QueryContext(ctx, a.st.d.bind(`SELECT uid, COUNT(DISTINCT collection), COUNT(*), SUM(`+a.st.d.payloadBytes+`)
		FROM bsos WHERE expiry > ? GROUP BY uid`), a.st.nowMs())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var uid int64
		var u usage
		if err := rows.Scan(&uid, &u.colls, &u.records, &u.bytes); err != nil {
			rows.Close()
			return nil, err
		}
		used[uid] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = a.st.r.pool.QueryContext(ctx, `SELECT a.name, a.uid, a.node, COALESCE(u.modified, 0), COALESCE(g.generation, 0)
		FROM accounts a JOIN (SELECT name, MAX(uid) AS uid FROM accounts GROUP BY name) latest ON a.uid = latest.uid
		LEFT JOIN users u ON u.uid = a.uid LEFT JOIN account_generations g ON g.name = a.name ORDER BY a.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserInfo
	for rows.Next() {
		var u UserInfo
		var generation int64
		if err := rows.Scan(&u.Name, &u.UID, &u.Node, &u.LastWrite, &generation); err != nil {
			return nil, err
		}
		u.Disabled = generation == retiredGeneration
		s := used[u.UID]
		u.Collections, u.Records, u.Bytes = s.colls, s.records, s.bytes
		out = append(out, u)
	}
	return out, rows.Err()
}

// Usage is the whole server's storage.
type Usage struct {
	Users   int64 `json:"users"`
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Expired records are waiting for the hourly purge.
	Expired int64 `json:"expired"`
}

// Usage sums what the database holds.
func (a *Admin) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	now := a.st.nowMs()
	err := a.st.r.QueryRowContext(ctx, `SELECT (SELECT COUNT(DISTINCT name) FROM accounts),
		COALESCE(SUM(CASE WHEN expiry > ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN expiry > ? THEN `+a.st.d.payloadBytes+` ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN expiry <= ? THEN 1 ELSE 0 END), 0) FROM bsos`, now, now, now).
		Scan(&u.Users, &u.Records, &u.Bytes, &u.Expired)
	return u, err
}

// Disable refuses every later token request of the account (as a retired FxA user is
// refused); its data stays. Tokens already handed out run to their expiry (an hour).
func (a *Admin) Disable(ctx context.Context, name string) error {
	if err := a.exists(ctx, name); err != nil {
		return err
	}
	return a.st.retireAccount(name)
}

// Remove deletes the account and everything every uid it had stored, in one
// transaction. A user still configured gets a fresh account at their next token request.
func (a *Admin) Remove(ctx context.Context, name string) error {
	if err := a.exists(ctx, name); err != nil {
		return err
	}
	a.st.lock()
	defer a.st.unlock()
	t, err := a.st.w.begin(ctx, nil)
	if err != nil {
		return err
	}
	defer t.Rollback()
	for _, q := range []string{
		`DELETE FROM bsos WHERE uid IN (SELECT uid FROM accounts WHERE name = ?)`,
		`DELETE FROM collections WHERE uid IN (SELECT uid FROM accounts WHERE name = ?)`,
		`DELETE FROM batch_bsos WHERE batch IN (SELECT id FROM batches WHERE uid IN (SELECT uid FROM accounts WHERE name = ?))`,
		`DELETE FROM batches WHERE uid IN (SELECT uid FROM accounts WHERE name = ?)`,
		`DELETE FROM users WHERE uid IN (SELECT uid FROM accounts WHERE name = ?)`,
		`UPDATE nodes SET users = users - 1 WHERE users > 0 AND url = (SELECT node FROM accounts WHERE name = ? ORDER BY uid DESC LIMIT 1)`,
		`DELETE FROM accounts WHERE name = ?`,
		`DELETE FROM account_generations WHERE name = ?`,
	} {
		if _, err := t.Exec(q, name); err != nil {
			return err
		}
	}
	return t.Commit()
}

func (a *Admin) exists(ctx context.Context, name string) error {
	var n int
	if err := a.st.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w %q", ErrNoSuchUser, name)
	}
	return nil
}

// Nodes lists the storage nodes users are spread over.
func (a *Admin) Nodes(ctx context.Context) ([]NodeUsers, error) { return listNodes(ctx, a.st) }

// AddNode puts a storage node in service (again): the token endpoint assigns new users
// to it from its next request on.
func (a *Admin) AddNode(ctx context.Context, url string) error {
	url, err := nodeURL(url)
	if err != nil {
		return err
	}
	a.st.lock()
	defer a.st.unlock()
	_, err = a.st.w.Exec(inServiceSQL, url)
	return err
}

// ErrNoSuchNode: no storage node has that URL.
var ErrNoSuchNode = errors.New("server: no such storage node")

// RetireNode takes a node out of service: its users move, at their next token request,
// to a node in service under a new uid. Run the node itself with --retired (or stop it)
// so that its clients come for a token.
func (a *Admin) RetireNode(ctx context.Context, url string) error {
	url, err := nodeURL(url)
	if err != nil {
		return err
	}
	a.st.lock()
	defer a.st.unlock()
	r, err := a.st.w.Exec(`UPDATE nodes SET retired = 1 WHERE url = ?`, url)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNoSuchNode, url)
	}
	return nil
}
