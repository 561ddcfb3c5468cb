// Package dirsync syncs directories through a SyncStorage server on top of package blob.
// A pushed directory is a record in the "dirs" collection naming an index blob; the
// index lists each file's relative path, size, mode, modification time and content blob.
// Files are blobs, so identical files are stored once, across directories too, and an
// unchanged file is never sent again.
package dirsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Entry is one file of a directory.
type Entry struct {
	Path  string      `json:"path"` // relative, slash-separated
	Size  int64       `json:"size"`
	Mode  fs.FileMode `json:"mode"`  // permission bits only
	MTime int64       `json:"mtime"` // unix nanoseconds
	Blob  string      `json:"blob"`
}

// Index is a directory's content at one push.
type Index struct {
	Files []Entry `json:"files"`
}

// ErrBadIndex: an index that could not be written out safely (a path that leaves the
// destination, a duplicate, a size out of range, malformed JSON).
var ErrBadIndex = errors.New("dirsync: bad index")

// Encode returns the index as JSON, files sorted by path, so the same tree always
// encodes to the same bytes (and so to the same blob).
func (ix Index) Encode() []byte {
	sort.Slice(ix.Files, func(i, j int) bool { return ix.Files[i].Path < ix.Files[j].Path })
	b, _ := json.Marshal(ix)
	return b
}

// ParseIndex decodes and checks an index. Every path must be a clean relative path that
// stays inside the destination: the index came over the network, and even a correctly
// MACed one is only as careful as the device that wrote it.
func ParseIndex(b []byte) (Index, error) {
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return Index{}, fmt.Errorf("%w: %v", ErrBadIndex, err)
	}
	seen := make(map[string]bool, len(ix.Files))
	for i, e := range ix.Files {
		if !safePath(e.Path) {
			return Index{}, fmt.Errorf("%w: path %q", ErrBadIndex, e.Path)
		}
		if seen[e.Path] {
			return Index{}, fmt.Errorf("%w: %q listed twice", ErrBadIndex, e.Path)
		}
		seen[e.Path] = true
		if e.Size < 0 || e.Blob == "" || len(e.Blob) > 64 || strings.ContainsAny(e.Blob, "./\\") {
			return Index{}, fmt.Errorf("%w: entry %q", ErrBadIndex, e.Path)
		}
		ix.Files[i].Mode = e.Mode & fs.ModePerm
	}
	return ix, nil
}

func safePath(p string) bool {
	return p != "" && p == path.Clean(p) && !path.IsAbs(p) && p != "." && p != ".." &&
		!strings.HasPrefix(p, "../") && !strings.ContainsAny(p, "\\\x00") &&
		!strings.HasPrefix(p, "/")
}
