// Package engine is what a sync is made of: engines (one per collection: bookmarks,
// passwords, your own) registered in a Registry, and the Session that runs the life of a
// sync over them the way Firefox does: token and cluster URL, info/collections,
// meta/global, crypto/keys, a fresh start when needed, the clients engine and its
// commands, then every enabled engine through the synchronizer.
package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

// Engine is one collection that syncs. Name is the collection's name on the server and
// in meta/global; Version is the engine's record format version there.
type Engine interface {
	Name() string
	Version() int
	// Local is the engine's local store, with its change tracker.
	Local() repository.TrackedRepository
}

// Optional interfaces an Engine may implement.
type (
	// Reconciling engines choose their conflict rule (default synchronizer.ThreeWay).
	Reconciling interface {
		Reconciler() synchronizer.Reconciler
	}
	// Deduping engines map incoming records to local twins with another GUID.
	Deduping interface {
		synchronizer.Deduper
	}
	// Repairing engines fix their local data after incoming records are applied (a
	// bookmark tree that must stay a tree); fixes are local changes, uploaded at once.
	Repairing interface {
		Repair(ctx context.Context) (fixed int, err error)
	}
)

// Resetter is implemented by local stores that can forget their sync progress (the
// SQLite repository does); a reset engine downloads and reconciles everything again.
type Resetter interface {
	ResetSync(ctx context.Context) error
}

// Collection is an Engine made of parts, for engines that need no code of their own.
type Collection struct {
	CollectionName string
	FormatVersion  int
	Store          repository.TrackedRepository
	Rule           synchronizer.Reconciler // nil: ThreeWay
	Dupes          synchronizer.Deduper    // nil: none
}

// Name implements Engine.
func (c *Collection) Name() string { return c.CollectionName }

// Version implements Engine.
func (c *Collection) Version() int { return c.FormatVersion }

// Local implements Engine.
func (c *Collection) Local() repository.TrackedRepository { return c.Store }

// Reconciler implements Reconciling.
func (c *Collection) Reconciler() synchronizer.Reconciler { return c.Rule }

// FindDupe implements Deduping when Dupes is set.
func (c *Collection) FindDupe(ctx context.Context, in wbo.Record) (string, bool, error) {
	if c.Dupes == nil {
		return "", false, nil
	}
	return c.Dupes.FindDupe(ctx, in)
}

// Registry holds the engines a session syncs.
type Registry struct {
	mu      sync.Mutex
	engines map[string]Engine
}

// NewRegistry returns a registry holding engines.
func NewRegistry(engines ...Engine) *Registry {
	r := &Registry{engines: map[string]Engine{}}
	for _, e := range engines {
		r.Register(e)
	}
	return r
}

// Register adds an engine; a second engine of the same name replaces the first. The name
// "clients" is the session's own.
func (r *Registry) Register(e Engine) {
	if e.Name() == ClientsCollection || e.Name() == "meta" || e.Name() == "crypto" {
		panic(fmt.Sprintf("engine: %q is reserved", e.Name()))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.engines[e.Name()] = e
}

// Get returns an engine by name.
func (r *Registry) Get(name string) (Engine, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.engines[name]
	return e, ok
}

// Names lists the engines, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.engines))
	for n := range r.engines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
