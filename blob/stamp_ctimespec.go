//go:build darwin || freebsd || netbsd

package blob

import "syscall"

// changeTimeAndInode reads a FileInfo's status change time (ns) and inode; Stat_t names
// the change time Ctimespec here.
func changeTimeAndInode(sys any) (int64, uint64) {
	if s, ok := sys.(*syscall.Stat_t); ok {
		return s.Ctimespec.Nano(), uint64(s.Ino)
	}
	return 0, 0
}
