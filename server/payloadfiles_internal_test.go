package server

import (
	"database/sql"
	"strings"
	"testing"
	"time"
)

// A database from before payload files may hold a payload that reads as a reference (it
// begins with the prefix): opening it moves that payload to a file, once, so that it
// reads back as it was; ordinary payloads stay where they are.
func TestAnOldPayloadThatLooksLikeAReferenceIsMovedToAFile(t *testing.T) {
	dir := t.TempDir()
	st, err := openSQLite(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	odd := payloadRef + strings.Repeat("0", refNameLen) + "p12 is not a reference"
	for id, payload := range map[string]string{"odd": odd, "plain": "plain"} {
		if _, err := st.w.Exec(`INSERT INTO bsos (uid, collection, id, modified, expiry, payload) VALUES (1, 'c', ?, 10, ?, ?)`,
			id, int64(1)<<50, payload); err != nil {
			t.Fatal(err)
		}
	}
	// As a database made before this layout: no marker.
	if _, err := st.w.Exec(`DELETE FROM settings WHERE key = 'payload_files'`); err != nil {
		t.Fatal(err)
	}
	st.close()

	st, err = openSQLite(dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for id, want := range map[string]string{"odd": odd, "plain": "plain"} {
		var col string
		if err := st.r.QueryRow(`SELECT payload FROM bsos WHERE id = ?`, id).Scan(&col); err != nil {
			t.Fatal(err)
		}
		got, err := st.files.resolveString(col)
		if err != nil || got != want {
			t.Errorf("%s reads %q (%v), want %q", id, got, err, want)
		}
		if moved := col != want; moved != (id == "odd") {
			t.Errorf("%s: stored as %q", id, col)
		}
	}
	var size sql.NullInt64
	st.r.QueryRow(`SELECT ` + sqlitePayloadBytes + ` FROM bsos WHERE id = 'odd'`).Scan(&size)
	if size.Int64 != int64(len(odd)) {
		t.Errorf("its size reads %d, want %d", size.Int64, len(odd))
	}
}
