// Package pgtest gives tests a PostgreSQL database of their own on the server that
// SYNCCTL_TEST_POSTGRES names (a URL: postgres://user@127.0.0.1:port/db): a fresh schema
// per data dir, dropped when the test ends. .ci/postgres starts such a server.
//
// Tests of PostgreSQL itself (several nodes, the migration) ask for one with Require.
// With SYNCCTL_TEST_STORE=postgres as well, every server the test helpers start runs on
// PostgreSQL (For), so that one suite holds both databases to the same behaviour.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// EnvURL is the variable that names the server; EnvStore=postgres puts every test
// server on it.
const (
	EnvURL   = "SYNCCTL_TEST_POSTGRES"
	EnvStore = "SYNCCTL_TEST_STORE"
)

// Enabled reports whether the test servers run on PostgreSQL.
func Enabled() bool { return os.Getenv(EnvStore) == "postgres" && os.Getenv(EnvURL) != "" }

var (
	mu      sync.Mutex
	schemas = map[string]string{} // data dir → URL
)

// For returns the URL of a schema of its own for the server whose data dir is dir — the
// same schema for the same dir, so that a server restarted on its data dir finds its
// data — or "" when no server is configured (the tests run on SQLite).
func For(t testing.TB, dir string) string {
	t.Helper()
	if !Enabled() {
		return ""
	}
	base := os.Getenv(EnvURL)
	mu.Lock()
	defer mu.Unlock()
	if u, ok := schemas[dir]; ok {
		return u
	}
	u := fresh(t, base)
	schemas[dir] = u
	return u
}

// Require is a fresh database for a test that runs only on PostgreSQL: without a
// server configured it fails in CI and is skipped elsewhere, saying how to run it.
func Require(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must start PostgreSQL (.ci/postgres start)", EnvURL)
		}
		t.Skipf("needs PostgreSQL: run `eval $(.ci/postgres start)` first (it sets %s)", EnvURL)
	}
	return fresh(t, base)
}

// fresh makes a schema with a random name and returns base with its search_path set
// to it; the schema is dropped at the end of the test.
func fresh(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE SCHEMA ` + name); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL at %s: %v", EnvURL, err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// SQLiteOnly skips a test of the SQLite file itself (its files, its WAL, its layout
// migrations) when the servers of the tests run on PostgreSQL.
func SQLiteOnly(t testing.TB) {
	t.Helper()
	if Enabled() {
		t.Skip("a test of the SQLite file: the servers run on PostgreSQL (" + EnvStore + ")")
	}
}
