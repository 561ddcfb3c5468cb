package blob

import (
	"context"
	"io/fs"
	"syscall"
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
func StampOf(fi fs.FileInfo) FileStamp {
	st := FileStamp{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.CTime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
		st.Inode = sys.Ino
	}
	return st
}

// ScanCache is what the store knows of the files it read before: their stamps then and
// the blobs they were. Load it once per scan (one query), look files up in memory.
type ScanCache struct {
	seen map[string]scanned
	here map[string]bool // blobs whose bytes are in the store
}

type scanned struct {
	stamp FileStamp
	blob  string
}

// LoadScanCache reads the stamps of every file read before, and which blobs are here.
func (s *Store) LoadScanCache(ctx context.Context) (*ScanCache, error) {
	c := &ScanCache{seen: map[string]scanned{}, here: map[string]bool{}}
	rows, err := s.db.QueryContext(ctx, `SELECT path, size, mtime, ctime, inode, blob FROM scanned`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var p string
		var e scanned
		var inode int64
		if err := rows.Scan(&p, &e.stamp.Size, &e.stamp.MTime, &e.stamp.CTime, &inode, &e.blob); err != nil {
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
	rows, err = s.db.QueryContext(ctx, `SELECT id FROM blobs WHERE status IN (?, ?)`, Synced, PendingUpload)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		c.here[id] = true
	}
	return c, rows.Err()
}

// Lookup is the blob the file at path was when it had this stamp, if the store still
// has that blob's bytes.
func (c *ScanCache) Lookup(path string, st FileStamp) (string, bool) {
	e, ok := c.seen[path]
	if !ok || e.stamp != st || !c.here[e.blob] {
		return "", false
	}
	return e.blob, true
}

// racyWindow: a file modified this close to the scan may change again within its
// mtime's granularity without its stamp moving (git's "racy" files). It is not
// remembered, so the next scan reads it again.
const racyWindow = 2 * time.Second

// ScanRecord is one file read in a scan.
type ScanRecord struct {
	Path  string
	Stamp FileStamp
	Blob  string
}

// RememberScan records the files of a scan (one transaction), all but those too recently
// modified to trust their stamp, as of scanStart.
func (s *Store) RememberScan(ctx context.Context, recs []ScanRecord, scanStart time.Time) error {
	var rows [][]any
	for _, r := range recs {
		if scanStart.Sub(time.Unix(0, r.Stamp.MTime)) < racyWindow || scanStart.Sub(time.Unix(0, r.Stamp.CTime)) < racyWindow {
			continue
		}
		rows = append(rows, []any{r.Path, r.Stamp.Size, r.Stamp.MTime, r.Stamp.CTime, int64(r.Stamp.Inode), r.Blob})
	}
	return s.execEach(ctx, `INSERT INTO scanned (path, size, mtime, ctime, inode, blob) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime,
		inode = excluded.inode, blob = excluded.blob`, rows)
}
