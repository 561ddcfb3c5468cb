package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/repositorytest"
)

func TestSQLiteKeepsTheTrackedRepositoryContract(t *testing.T) {
	t.Parallel()
	repositorytest.RunTracked(t, func(t *testing.T) repository.TrackedRepository {
		return open(t, filepath.Join(t.TempDir(), "local.db")).Collection("notes")
	})
}
