//go:build !(linux || darwin || freebsd)

package dirsync

import "errors"

// freeSpace: this build does not read a filesystem's free space here (the statfs
// structures differ from system to system); room then checks nothing for the path.
func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }
