//go:build linux || darwin || freebsd

package dirsync

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// freeSpace is the bytes an unprivileged writer may still use on the filesystem of
// path (or of its nearest existing parent, for a destination not made yet).
func freeSpace(path string) (int64, error) {
	for {
		var st unix.Statfs_t
		err := unix.Statfs(path, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(path)
		if !errors.Is(err, unix.ENOENT) || parent == path {
			return 0, err
		}
		path = parent
	}
}
