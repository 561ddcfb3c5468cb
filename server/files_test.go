package server_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/token"
)

// A server started in a pre-made 0755 data dir, without a master secret, leaves nothing
// others can read, and the generated secret is not in the database.
func TestFilesAtRestAreTheOwnersOnly(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := srv.Secret().Mint(tokenPayload(1))
	if err != nil || id == "" {
		t.Fatal(err)
	}
	srv.Close()
	check := func(name string, want os.FileMode) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	check(".", 0o700)
	check("syncstorage.db", 0o600)
	check("master-secret", 0o600)
	for _, f := range []string{"syncstorage.db-wal", "syncstorage.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			check(f, 0o600)
		}
	}
	secret, _ := os.ReadFile(filepath.Join(dir, "master-secret"))
	db, err := sql.Open("sqlite", filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM settings WHERE value LIKE ?`, "%"+strings.TrimSpace(string(secret))+"%").Scan(&n)
	if n != 0 {
		t.Error("the master secret is in the database")
	}
	// A restart keeps the secret: tokens minted before still verify.
	again, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, _, err := again.Secret().Parse(id, time.Now(), true); err != nil {
		t.Errorf("a token from before the restart: %v", err)
	}
}

func tokenPayload(uid uint64) token.Payload {
	return token.Payload{UID: uid, Node: "http://x", Expires: float64(time.Now().Add(time.Hour).Unix())}
}

// A database an earlier version made, with the generated secret inside, gives it up to
// the file at the next start; the secret stays the same.
func TestTheStoredSecretMovesOutOfTheDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO settings VALUES ('master_secret', 'the old secret')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	srv, err := server.New(server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if b, _ := os.ReadFile(filepath.Join(dir, "master-secret")); strings.TrimSpace(string(b)) != "the old secret" {
		t.Errorf("master-secret holds %q", b)
	}
	db, _ = sql.Open("sqlite", filepath.Join(dir, "syncstorage.db"))
	defer db.Close()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM settings WHERE key = 'master_secret'`).Scan(&n)
	if n != 0 {
		t.Error("the secret is still in the database")
	}
}
