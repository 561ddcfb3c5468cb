package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncctl/syncctl/internal/jsonscan"
	"github.com/syncctl/syncctl/wbo"
)

// payloadFiles keeps large payloads of the SQLite store in files beside the database,
// one file per payload, with a reference in the row's payload column. Inside SQLite a
// 1 MB payload is written twice (to the WAL, then again at the checkpoint), 4 KB page by
// page, and read back page by page: the embedded server spent as much CPU on a blob
// push as the client that encrypted it. A file is written once, in one call, and the
// references move through every statement (upserts, batch staging, INSERT … SELECT at
// commit) as any payload does. PostgreSQL keeps payloads in the database (every node
// must see them).
//
// A file is written and synced before the transaction that refers to it commits, so a
// committed row never points at a missing file; files are never changed once written.
// Files no row refers to any more (a record overwritten or deleted, a batch abandoned,
// a request that failed after writing) are removed by sweep.
type payloadFiles struct {
	dir      string
	shards   sync.Map   // the shard directories made (by their names)
	sweeping sync.Mutex // one sweep at a time
	mu       sync.Mutex // the fields below
	// grace: a file younger than this is not swept (its transaction may not have
	// committed yet); requests are bounded far below it.
	grace time.Duration
	// unreferenced holds the files the last sweep found unreferenced: a file is
	// removed only when two sweeps in a row find it so, so that a read that saw a
	// reference just before the row went can still open the file.
	unreferenced map[string]bool
	// from is the shard the next sweep starts at: one that stops at sweepBatch
	// files goes on from there the next time.
	from int
}

const (
	// spillBytes: payloads this large or larger go to a file. Below it, SQLite's own
	// storage costs less than a file's create and sync.
	spillBytes = 128 << 10
	// payloadRef begins a payload column holding a reference: the prefix, the file's
	// name (32 hex digits), a kind, then the payload's size in decimal. The kind: 'p'
	// when the payload needs no escaping in JSON, 'j' when the file holds the payload
	// as the JSON string text it was sent as (escapes and all), 'e' when it holds the
	// payload itself, to be escaped. 'p' and 'j' files are copied into a response as
	// they are: a blob chunk's payload is an envelope of quotes, and escaping 11 MB of
	// it at each GET was a fifth of the server's CPU on a pull. A payload sent by a
	// client that begins with the prefix is always kept in a file, so a column that
	// begins with it is always a reference.
	payloadRef = "\x01syncctl-payload:"
	refNameLen = 32
	refKind    = len(payloadRef) + refNameLen // where the 'p' or 'e' is
	refSize    = refKind + 1                  // where the size begins
	// refCondition selects the rows whose payload is a reference; the partial indexes
	// on it (see payloadFilesSchema) find a file's references without a scan.
	refCondition = `payload >= char(1) AND payload < char(2)`
	// sweepEvery is how often files are swept; sweepBatch bounds one sweep's work.
	sweepEvery = 10 * time.Minute
	sweepBatch = 100_000
)

// payloadFilesSchema indexes only rows whose payload is a reference: a few bytes each.
const payloadFilesSchema = `
CREATE INDEX IF NOT EXISTS bsos_payload_refs ON bsos (payload) WHERE ` + refCondition + `;
CREATE INDEX IF NOT EXISTS batch_bsos_payload_refs ON batch_bsos (payload) WHERE ` + refCondition + `;
`

// sqlitePayloadBytes is the sqlite dialect's payload size: a reference's recorded size,
// else the column's (octet_length reads it from the row header; the prefix is looked at
// only for columns short enough to be a reference).
var sqlitePayloadBytes = `(CASE WHEN octet_length(payload) <= 64 AND substr(payload, 1, ` + strconv.Itoa(len(payloadRef)) + `) = char(1) || '` + payloadRef[1:] + `'
	THEN CAST(substr(payload, ` + strconv.Itoa(refSize+1) + `) AS INTEGER) ELSE octet_length(payload) END)`

// ErrPayloadMissing: a row refers to a payload file that is not there (removed by hand,
// or lost with the disk); the request fails rather than answer a wrong payload.
var ErrPayloadMissing = errors.New("server: a record's payload file is missing")

func newPayloadFiles(dir string) (*payloadFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &payloadFiles{dir: dir, grace: time.Hour, unreferenced: map[string]bool{}}, nil
}

// isRef reports whether a payload column holds a reference.
func isRef(p string) bool {
	return strings.HasPrefix(p, payloadRef) && len(p) > refSize
}

// payloadSize is the size of the payload a column stands for.
func payloadSize(p string) int64 {
	if isRef(p) {
		n, err := strconv.ParseInt(p[refSize:], 10, 64)
		if err == nil {
			return n
		}
	}
	return int64(len(p))
}

// needsFile reports whether a client's payload is kept in a file: a large one, and one
// that would read as a reference.
func needsFile(p string) bool { return len(p) >= spillBytes || strings.HasPrefix(p, payloadRef) }

func (f *payloadFiles) path(name string) string { return filepath.Join(f.dir, name[:2], name) }

// spill writes each item's payload that needsFile to a new file, synced, and puts the
// reference in its place. It returns the names written, for forget when the write does
// not commit. On error nothing it wrote is left.
func (f *payloadFiles) spill(items []bsoInput) (written []string, err error) {
	if f == nil {
		return nil, nil
	}
	var files []*os.File
	defer func() {
		for _, fh := range files {
			fh.Close()
		}
		if err != nil {
			f.forget(written)
			written = nil
		}
	}()
	dirs := map[string]bool{}
	for i := range items {
		in := &items[i]
		if !in.HasPayload || !needsFile(in.Payload) {
			continue
		}
		var raw [refNameLen / 2]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return written, err
		}
		name := hex.EncodeToString(raw[:])
		p := f.path(name)
		if _, made := f.shards.Load(name[:2]); !made && !dirs[filepath.Dir(p)] {
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return written, err
			}
			dirs[filepath.Dir(p)] = true // its entry in f.dir is synced below
		}
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return written, err
		}
		written = append(written, name)
		files = append(files, fh)
		kind := "e"
		switch {
		case in.plain:
			kind = "p"
			_, err = io.WriteString(fh, in.Payload)
		case in.text != nil:
			kind = "j"
			_, err = fh.Write(in.text)
		default:
			_, err = io.WriteString(fh, in.Payload)
		}
		if err != nil {
			return written, err
		}
		in.Payload = payloadRef + name + kind + strconv.Itoa(len(in.Payload))
	}
	// Synced together: the file system commits them in one journal transaction or few.
	if len(files) == 1 {
		err = files[0].Sync()
	} else {
		errs := make(chan error, len(files))
		for _, fh := range files {
			go func() { errs <- fh.Sync() }()
		}
		for range files {
			if e := <-errs; e != nil && err == nil {
				err = e
			}
		}
	}
	if err != nil {
		return written, err
	}
	// The new names: in each shard written to, and new shards in f.dir.
	if len(dirs) > 0 {
		if err := syncDir(f.dir); err != nil {
			return written, err
		}
	}
	synced := map[string]bool{}
	for _, name := range written {
		if shard := filepath.Dir(f.path(name)); !synced[shard] {
			if err := syncDir(shard); err != nil {
				return written, err
			}
			synced[shard] = true
		}
	}
	for d := range dirs {
		f.shards.Store(filepath.Base(d), true)
	}
	return written, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// forget removes files written for a write that did not commit.
func (f *payloadFiles) forget(names []string) {
	for _, name := range names {
		os.Remove(f.path(name))
	}
}

// resolve returns the payload a column stands for: the column itself, or the file's
// content, read into *buf (grown as needed).
func (f *payloadFiles) resolve(col []byte, buf *[]byte) ([]byte, error) {
	if !f.holds(col) {
		return col, nil
	}
	if col[refKind] == 'j' {
		var text []byte
		err := f.read(col, func(n int64) []byte {
			text = make([]byte, n)
			return text
		})
		if err != nil {
			return nil, err
		}
		content, err := jsonscan.AppendUnescaped((*buf)[:0], text)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrPayloadMissing, refName(col), err)
		}
		*buf = content
		return content, nil
	}
	var content []byte
	return content, f.read(col, func(n int64) []byte {
		if int64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		content = (*buf)[:n]
		return content
	})
}

// holds reports whether col is a reference to one of f's files.
func (f *payloadFiles) holds(col []byte) bool {
	return f != nil && len(col) > refSize && string(col[:len(payloadRef)]) == payloadRef
}

func refName(col []byte) string { return string(col[len(payloadRef):refKind]) }

// open opens the file col refers to, and returns it with the size of what it holds:
// the payload's size, or for a 'j' file the size of its JSON text, which the reference
// does not record. A file whose size is not the one its reference records is missing:
// a response that promised the bytes it has to send must not run short.
func (f *payloadFiles) open(col []byte) (*os.File, int64, error) {
	name := refName(col)
	fh, err := os.Open(f.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s", ErrPayloadMissing, name)
	}
	if err != nil {
		return nil, 0, err
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, err
	}
	size, want := info.Size(), payloadSize(string(col))
	if size != want && (col[refKind] != 'j' || size < want) {
		fh.Close()
		return nil, 0, fmt.Errorf("%w: %s holds %d bytes, not %d", ErrPayloadMissing, name, size, want)
	}
	return fh, size, nil
}

// read reads the whole file col refers to into the slice into returns for its size
// (see open).
func (f *payloadFiles) read(col []byte, into func(size int64) []byte) error {
	fh, size, err := f.open(col)
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := io.ReadFull(fh, into(size)); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrPayloadMissing, refName(col), err)
	}
	return nil
}

// appendRecord appends rec as JSON to c, its payload col. A file that holds the payload
// as JSON text ('p' and 'j') is opened and spliced in, to be copied from the file when c
// is written (by sendfile, where the response allows); any other payload is resolved,
// into *scratch when it is in a file, and encoded.
func (f *payloadFiles) appendRecord(c *chunk, rec *wbo.Record, col []byte, scratch *[]byte) error {
	if !f.holds(col) || col[refKind] == 'e' {
		content, err := f.resolve(col, scratch)
		rec.Payload = content
		c.buf = rec.AppendJSON(c.buf)
		return err
	}
	fh, size, err := f.open(col)
	if err != nil {
		return err
	}
	rec.Payload = nil
	c.buf = rec.AppendJSON(c.buf)
	c.buf = c.buf[:len(c.buf)-len(`"}`)] // the payload is last (see AppendJSON): its closing quote and brace
	c.splices = append(c.splices, splice{at: len(c.buf), file: fh, size: size})
	c.buf = append(c.buf, `"}`...)
	return nil
}

// resolveString is resolve for a string column.
func (f *payloadFiles) resolveString(col string) (string, error) {
	if f == nil || !isRef(col) {
		return col, nil
	}
	var buf []byte
	b, err := f.resolve([]byte(col), &buf)
	return string(b), err
}

// sweep removes payload files no row refers to: older than the grace period, and found
// unreferenced by the sweep before as well. referenced answers for a batch of names
// from a snapshot of the database. It returns how many files it removed.
func (f *payloadFiles) sweep(referenced func(names []string) (map[string]bool, error)) (int, error) {
	f.sweeping.Lock()
	defer f.sweeping.Unlock()
	now := time.Now()
	f.mu.Lock()
	grace := f.grace
	f.mu.Unlock()
	var candidates []string
	shards, err := os.ReadDir(f.dir)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	from := f.from
	f.mu.Unlock()
	next := from
	for i := range shards {
		if len(candidates) >= sweepBatch {
			break
		}
		shard := shards[(from+i)%len(shards)]
		next = from + i + 1
		if !shard.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(f.dir, shard.Name()))
		if err != nil {
			return 0, err
		}
		for _, e := range entries {
			if len(e.Name()) != refNameLen {
				continue
			}
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) < grace {
				continue
			}
			candidates = append(candidates, e.Name())
		}
	}
	live := map[string]bool{}
	for start := 0; start < len(candidates); start += 500 {
		got, err := referenced(candidates[start:min(start+500, len(candidates))])
		if err != nil {
			return 0, err
		}
		maps.Copy(live, got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(shards) > 0 {
		f.from = next % len(shards)
	}
	unreferenced := map[string]bool{}
	removed := 0
	for _, name := range candidates {
		marked := f.unreferenced[name]
		delete(f.unreferenced, name)
		switch {
		case live[name]:
		case marked:
			if err := os.Remove(f.path(name)); err == nil || errors.Is(err, os.ErrNotExist) {
				removed++
			}
		default:
			unreferenced[name] = true
		}
	}
	for name := range f.unreferenced { // in shards this sweep did not reach
		unreferenced[name] = true
	}
	f.unreferenced = unreferenced
	return removed, nil
}

// openPayloadFiles sets up the SQLite store's payload files in dir: the indexes of
// references, and, once per database, a payload written before this layout that would
// read as a reference (it begins with the prefix; none is expected) moved to a file.
func (st *store) openPayloadFiles(dir string) error {
	files, err := newPayloadFiles(dir)
	if err != nil {
		return err
	}
	if _, err := st.w.pool.Exec(payloadFilesSchema); err != nil {
		return err
	}
	var done int
	if err := st.w.pool.QueryRow(`SELECT COUNT(*) FROM settings WHERE key = 'payload_files'`).Scan(&done); err != nil || done > 0 {
		st.files = files
		return err
	}
	for _, table := range []string{"bsos", "batch_bsos"} {
		rows, err := st.w.pool.Query(`SELECT rowid, payload FROM ` + table + ` WHERE ` + refCondition)
		if err != nil {
			return err
		}
		var items []bsoInput
		var rowids []int64
		for rows.Next() {
			var in bsoInput
			var rowid int64
			if err := rows.Scan(&rowid, &in.Payload); err != nil {
				rows.Close()
				return err
			}
			if in.HasPayload = isRef(in.Payload); in.HasPayload {
				items, rowids = append(items, in), append(rowids, rowid)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := files.spill(items); err != nil {
			return err
		}
		for i := range items {
			if _, err := st.w.pool.Exec(`UPDATE `+table+` SET payload = ? WHERE rowid = ?`, items[i].Payload, rowids[i]); err != nil {
				return err
			}
		}
	}
	if _, err := st.w.pool.Exec(`INSERT INTO settings (key, value) VALUES ('payload_files', '1')`); err != nil {
		return err
	}
	st.files = files
	return nil
}

// referenced reports which of the payload files names some row (or staged row) of the
// database refers to, from one snapshot.
func (st *store) referenced(names []string) (map[string]bool, error) {
	t, err := st.readTx(context.Background())
	if err != nil {
		return nil, err
	}
	defer t.Rollback()
	live := map[string]bool{}
	for _, name := range names {
		lo, hi := payloadRef+name, payloadRef+name+"\x7f"
		// Both lookups are searches of the partial indexes (payloadFilesSchema).
		var used bool
		if err := t.QueryRow(`SELECT EXISTS (SELECT 1 FROM bsos WHERE `+refCondition+` AND payload >= ? AND payload < ?)
			OR EXISTS (SELECT 1 FROM batch_bsos WHERE `+refCondition+` AND payload >= ? AND payload < ?)`,
			lo, hi, lo, hi).Scan(&used); err != nil {
			return nil, err
		}
		if used {
			live[name] = true
		}
	}
	return live, nil
}

// sweepPayloads is the background sweep of payload files (see payloadFiles.sweep).
func (st *store) sweepPayloads() {
	if n, err := st.files.sweep(st.referenced); err != nil {
		st.log.Warn().Err(err).Msg("sweeping payload files")
	} else if n > 0 {
		st.log.Debug().Int("removed", n).Msg("swept payload files")
	}
}
