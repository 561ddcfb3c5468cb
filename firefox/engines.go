package firefox

import (
	"context"
	"slices"

	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// Store is the local store an engine keeps its records in (repository/sqlite is one).
type Store interface {
	repository.TrackedRepository
}

// Engines returns the standard engines, each over the store that stores returns for its
// collection name.
func Engines(stores func(collection string) Store) []engine.Engine {
	return []engine.Engine{
		&Bookmarks{Collection: engine.Collection{CollectionName: "bookmarks", FormatVersion: 2, Store: stores("bookmarks"), Rule: BookmarkRule{}}},
		&engine.Collection{CollectionName: "history", FormatVersion: 1, Store: stores("history"), Rule: HistoryRule{}},
		&Passwords{Collection: engine.Collection{CollectionName: "passwords", FormatVersion: 1, Store: stores("passwords")}},
		&engine.Collection{CollectionName: "forms", FormatVersion: 1, Store: stores("forms")},
		&engine.Collection{CollectionName: "tabs", FormatVersion: 1, Store: stores("tabs"), Rule: synchronizer.NewestWins{}},
		&engine.Collection{CollectionName: "prefs", FormatVersion: 2, Store: stores("prefs")},
		&engine.Collection{CollectionName: "addons", FormatVersion: 1, Store: stores("addons")},
	}
}

// HistoryRule merges the visits of a page changed on both sides: the union by (date,
// type), newest first, capped at MaxVisits; the other fields come from the newer side.
type HistoryRule struct{}

// MaxVisits is how many visits a history record keeps, as Firefox uploads them.
const MaxVisits = 20

// Reconcile implements synchronizer.Reconciler.
func (HistoryRule) Reconcile(local, remote wbo.Record, mirror []byte) wbo.Record {
	merged := synchronizer.NewestWins{}.Reconcile(local, remote, mirror)
	if wbo.IsTombstone(merged.Payload) {
		return merged
	}
	l, err1 := Parse[History](local.Payload)
	r, err2 := Parse[History](remote.Payload)
	m, err3 := Parse[History](merged.Payload)
	if err1 != nil || err2 != nil || err3 != nil {
		return merged
	}
	seen := map[Visit]bool{}
	var visits []Visit
	for _, v := range append(append([]Visit{}, l.Visits...), r.Visits...) {
		if !seen[v] {
			seen[v] = true
			visits = append(visits, v)
		}
	}
	slices.SortFunc(visits, func(a, b Visit) int {
		if a.Date != b.Date {
			return int(b.Date - a.Date)
		}
		return a.Type - b.Type
	})
	m.Visits = visits[:min(len(visits), MaxVisits)]
	if p, err := Encode(m); err == nil {
		merged.Payload = p
	}
	return merged
}

// Passwords is the passwords engine: field-level merges against the mirror (the default
// rule) and dedupe of logins that are the same login under two GUIDs.
type Passwords struct {
	engine.Collection
}

// loginKey is what makes two logins the same: the origin, where the form posts (or the
// HTTP realm), and the user name.
func loginKey(l *Login) [3]string {
	target := ""
	if l.FormSubmitURL != nil {
		target = "form:" + *l.FormSubmitURL
	}
	if l.HTTPRealm != nil {
		target = "realm:" + *l.HTTPRealm
	}
	return [3]string{l.Hostname, target, l.Username}
}

// FindDupe implements synchronizer.Deduper.
func (p *Passwords) FindDupe(ctx context.Context, in wbo.Record) (string, bool, error) {
	want, err := Parse[Login](in.Payload)
	if err != nil || want.Deleted {
		return "", false, nil
	}
	key := loginKey(want)
	found := ""
	err = p.Store.FetchSince(ctx, 0, func(r wbo.Record) error {
		if found != "" || r.ID == in.ID || wbo.IsTombstone(r.Payload) {
			return nil
		}
		if l, err := Parse[Login](r.Payload); err == nil && loginKey(l) == key {
			found = r.ID
		}
		return nil
	})
	return found, found != "", err
}
