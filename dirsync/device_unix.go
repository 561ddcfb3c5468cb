//go:build unix

package dirsync

import (
	"os"
	"path/filepath"
	"syscall"
)

// device is the filesystem path is on (of its nearest existing parent).
func device(path string) uint64 {
	for {
		fi, err := os.Stat(path)
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				return uint64(st.Dev)
			}
			return 0
		}
		parent := filepath.Dir(path)
		if parent == path {
			return 0
		}
		path = parent
	}
}
