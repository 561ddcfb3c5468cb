package memory_test

import (
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/memory"
	"github.com/syncctl/syncctl/repository/repositorytest"
)

func TestMemoryKeepsTheRepositoryContract(t *testing.T) {
	t.Parallel()
	repositorytest.Run(t, func(*testing.T) repository.Repository { return memory.New(nil) })
}
