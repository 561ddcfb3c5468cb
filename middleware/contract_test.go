package middleware_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/memory"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/repositorytest"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// TestTheCryptoMiddlewareKeepsTheContractOverEachRepository: cleartext in, cleartext out,
// whatever holds the ciphertext.
func TestTheCryptoMiddlewareKeepsTheContractOverEachRepository(t *testing.T) {
	t.Parallel()
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	over := func(inner func(t *testing.T) repository.Repository) repositorytest.Factory {
		return func(t *testing.T) repository.Repository {
			return middleware.NewCrypto(inner(t), "notes", keys, nil)
		}
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		repositorytest.Run(t, over(func(*testing.T) repository.Repository { return memory.New(nil) }))
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		repositorytest.Run(t, over(func(t *testing.T) repository.Repository {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "local.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db.Collection("notes")
		}))
	})
	t.Run("remote", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, server.Options{}, nil)
		client := srv.Client("alice", storage.Options{MaxRetries: -1})
		var n atomic.Int32
		repositorytest.Run(t, over(func(*testing.T) repository.Repository {
			return remote.New(remote.Options{Client: client, Collection: fmt.Sprintf("contract%d", n.Add(1))})
		}))
	})
}
