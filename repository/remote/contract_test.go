package remote_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/repositorytest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
)

// TestRemoteKeepsTheRepositoryContract runs the contract against the embedded server
// over 127.0.0.1: one server, a fresh collection per case.
func TestRemoteKeepsTheRepositoryContract(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{}, nil)
	client := srv.Client("alice", storage.Options{MaxRetries: -1})
	var n atomic.Int32
	repositorytest.Run(t, func(*testing.T) repository.Repository {
		return remote.New(remote.Options{Client: client, Collection: fmt.Sprintf("contract%d", n.Add(1))})
	})
}
