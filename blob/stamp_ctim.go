//go:build linux || openbsd || dragonfly || solaris || illumos || aix

package blob

import "syscall"

// changeTimeAndInode reads a FileInfo's status change time (ns) and inode; Stat_t names
// the change time Ctim here.
func changeTimeAndInode(sys any) (int64, uint64) {
	if s, ok := sys.(*syscall.Stat_t); ok {
		return s.Ctim.Nano(), uint64(s.Ino)
	}
	return 0, 0
}
