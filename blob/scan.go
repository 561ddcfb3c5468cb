package blob

import (
	"context"
	"io/fs"
	"time"
)

// FileStamp is what tells a file unchanged without reading it: size, modification and
// change times, and inode. A rename over the file, a touch, a chmod or an edit moves
// one of them.
type FileStamp struct {
	Size, MTime, CTime int64
	Inode              uint64
}

// StampOf reads a file's stamp from its FileInfo (from an lstat or a directory walk).
// Where the system has no change time or inode (not a Unix), they stay 0 and size and
// modification time decide alone.
func StampOf(fi fs.FileInfo) FileStamp {
	st := FileStamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	st.CTime, st.Inode = changeTimeAndInode(fi.Sys())
	return st
}

// ScanCache is what the store knows of the files it read or wrote before: their stamps
// then and the blobs they were. Load it once per scan (one query), look files up in
// memory.
type ScanCache struct {
	seen  map[string]scanned
	known map[string]bool // blobs the index has
}

type scanned struct {
	stamp FileStamp
	blob  string
	at    int64 // ns: when it was read or written
}

// LoadScanCache reads the stamps of every file located before, and which blobs the
// index has.
func (s *Store) LoadScanCache(ctx context.Context) (*ScanCache, error) {
	c := &ScanCache{seen: map[string]scanned{}, known: map[string]bool{}}
	rows, err := s.db.QueryContext(ctx, `SELECT path, size, mtime, ctime, inode, blob, seen FROM located`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p string
		var e scanned
		var inode int64
		if err := rows.Scan(&p, &e.stamp.Size, &e.stamp.MTime, &e.stamp.CTime, &inode, &e.blob, &e.at); err != nil {
			rows.Close()
			return nil, err
		}
		e.stamp.Inode = uint64(inode)
		c.seen[p] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, `SELECT id FROM blobs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		c.known[id] = true
	}
	return c, rows.Err()
}

// racyWindow: a file modified this close to when it was read may change again within
// its mtime's granularity without its stamp moving (git's "racy" files). Its stamp is
// not trusted to skip a read: the next scan reads it again.
const racyWindow = 2 * time.Second

// Lookup is the blob the file at path was when it had this stamp, if the stamp can be
// trusted and the index still has the blob.
func (c *ScanCache) Lookup(path string, st FileStamp) (string, bool) {
	e, ok := c.seen[path]
	if !ok || e.stamp != st || !c.known[e.blob] ||
		e.at-st.MTime < int64(racyWindow) || e.at-st.CTime < int64(racyWindow) {
		return "", false
	}
	return e.blob, true
}

// ScanRecord is one file read in a scan (or written by a pull): where, its stamp before
// it was read (after it was written), and the blob it is.
type ScanRecord struct {
	Path  string
	Stamp FileStamp
	Blob  string
}
