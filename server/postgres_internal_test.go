package server

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgreSQL's conditions that pass are 503s with Retry-After, as SQLite's are; an error
// in a statement is not.
func TestPostgresConditionsThatPass(t *testing.T) {
	for code, want := range map[string]string{
		"53100": "disk full", "40001": "database conflict", "40P01": "database conflict",
		"57P01": "database unavailable", "53300": "database unavailable", "08006": "database unavailable",
		"42601": "", "23505": "",
	} {
		err := fmt.Errorf("committing: %w", &pgconn.PgError{Code: code})
		c, ok := transientCondition(err)
		if c.kind != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", code, c.kind, ok, want)
		}
		if ok && (c.kind == "disk full") != (c.retryAfter == 60) {
			t.Errorf("%s: Retry-After %d", code, c.retryAfter)
		}
	}
	if _, ok := transientCondition(errors.New("no such column")); ok {
		t.Error("a plain error passed as transient")
	}
}

func TestPlaceholdersAreNumberedForPostgres(t *testing.T) {
	q := `SELECT a FROM t WHERE x = ? AND y IN (?, ?)`
	if got := postgresDialect.bind(q); got != `SELECT a FROM t WHERE x = $1 AND y IN ($2, $3)` {
		t.Error(got)
	}
	if got := sqliteDialect.bind(q); got != q {
		t.Error(got)
	}
}
