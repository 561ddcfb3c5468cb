package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/server"
)

// payloadFiles counts the payload files beside the SQLite database in dir.
func payloadFiles(t *testing.T, dir string) int { t.Helper(); return len(payloadFileNames(t, dir)) }

// bigPayload is a payload of about size bytes, different for each tag; odd ones carry
// characters the JSON must escape, and non-ASCII.
func bigPayload(tag, size int) string {
	if tag%2 == 1 {
		return fmt.Sprintf("%d:", tag) + strings.Repeat("q\"uo\\te\u2028é\n", size/13+1)
	}
	return fmt.Sprintf("%d:", tag) + strings.Repeat("QUJDREVGR0g=", size/12+1)
}

// startSQLite is startServer on SQLite whatever store the tests run on: payload files
// are SQLite's.
func startSQLite(t *testing.T, dir string) (*server.Server, *httptest.Server) {
	srv, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return srv, ts
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// oddlyEscaped is s as a JSON string the way another encoder might write it: solidus and
// every non-ASCII character escaped too.
func oddlyEscaped(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x80 || r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// A large payload is kept in a file beside the SQLite database, not in it, and reads
// back exactly: by a collection GET (both formats), an item GET, after a PUT, a POST
// and a batch commit; usage and quota count its real size; a payload that looks like
// the database's own file reference is only content.
func TestLargePayloadsAreKeptInFilesAndReadBackExactly(t *testing.T) {
	dir := t.TempDir()
	db := pgtest.For(t, dir)
	_, ts := startServer(t, server.Options{DataDir: dir, Database: db})
	c := login(t, ts.URL, "alice-secret")

	want := map[string]string{
		"put":     bigPayload(0, server.SpillBytes),
		"posted":  bigPayload(1, server.SpillBytes+10),
		"posted2": bigPayload(2, 1<<20),
		"staged":  bigPayload(3, 300<<10),
		"small":   "small",
		"spoof":   "\x01syncctl-payload:0123456789abcdef0123456789abcdef42",
		// A blob chunk's envelope: kept as the JSON text it came as, and sent back so.
		"envelope":  `{"ciphertext":"` + strings.Repeat("QUJD/+==", 40<<10) + `","IV":"é\\","hmac":"\n"}`,
		"envelope2": `{"ciphertext":"` + strings.Repeat("/+==QUJD", 40<<10) + `","IV":"ü","hmac":"\t"}`,
	}
	c.mustStatus(c.do("PUT", "/storage/big/put", `{"payload":`+jsonString(want["put"])+`}`), 200)
	c.mustStatus(c.do("POST", "/storage/big", `[{"id":"posted","payload":`+jsonString(want["posted"])+`},{"id":"posted2","payload":`+jsonString(want["posted2"])+`},{"id":"small","payload":"small"},{"id":"envelope","payload":`+oddlyEscaped(want["envelope"])+`}]`), 200)
	var batch struct{ Batch string }
	c.mustStatus(c.do("POST", "/storage/big?batch=true", `[{"id":"staged","payload":`+jsonString(want["staged"])+`},{"id":"envelope2","payload":`+oddlyEscaped(want["envelope2"])+`}]`), 202).json(t, &batch)
	c.mustStatus(c.do("POST", "/storage/big?commit=true&batch="+batch.Batch, `[{"id":"spoof","payload":`+jsonString(want["spoof"])+`}]`), 200)

	check := func(when string) {
		t.Helper()
		var got []struct{ ID, Payload string }
		c.mustStatus(c.do("GET", "/storage/big?full=1", ""), 200).json(t, &got)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", when, len(got), len(want))
		}
		for _, r := range got {
			if r.Payload != want[r.ID] {
				t.Errorf("%s: %s's payload differs (%d bytes, want %d)", when, r.ID, len(r.Payload), len(want[r.ID]))
			}
		}
		lines := c.mustStatus(c.do("GET", "/storage/big?full=1", "", "Accept", "application/newlines"), 200).body
		if n := strings.Count(lines, "\n"); n != len(want) {
			t.Errorf("%s: %d lines", when, n)
		}
		for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
			var r struct{ ID, Payload string }
			if err := json.Unmarshal([]byte(line), &r); err != nil || r.Payload != want[r.ID] {
				t.Errorf("%s: a line of %d bytes does not read back (%v)", when, len(line), err)
			}
		}
		if db == "" && !strings.Contains(lines, `\/+==QUJD`) {
			t.Errorf("%s: an envelope in a file was not sent as it was received", when)
		}
		for id, p := range want {
			var item struct{ Payload string }
			c.mustStatus(c.do("GET", "/storage/big/"+id, ""), 200).json(t, &item)
			if item.Payload != p {
				t.Errorf("%s: item %s differs", when, id)
			}
		}
	}
	check("written")

	var total int
	for _, p := range want {
		total += len(p)
	}
	var usage map[string]float64
	c.mustStatus(c.do("GET", "/info/collection_usage", ""), 200).json(t, &usage)
	if kb := float64(total) / 1024; usage["big"] < kb-0.01 || usage["big"] > kb+0.01 {
		t.Errorf("usage %.2f KB, want %.2f", usage["big"], kb)
	}
	if db != "" {
		return // PostgreSQL keeps every payload in the database
	}
	if n := payloadFiles(t, dir); n != 7 { // the six large ones and the spoof
		t.Errorf("%d payload files, want 7", n)
	}
	fi, err := os.Stat(filepath.Join(dir, "syncstorage.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.Stat(filepath.Join(dir, "syncstorage.db-wal"))
	if size := fi.Size() + wal.Size(); size > int64(total)/2 {
		t.Errorf("the database holds %d bytes for %d of payloads", size, total)
	}
}

// A sweep removes the files of records overwritten or deleted, and of requests that
// never committed, and nothing that a record or a staged batch refers to; a file is
// removed only when a second sweep still finds it unreferenced, and a young one not at
// all.
func TestASweepRemovesOnlyUnreferencedPayloadFiles(t *testing.T) {
	dir := t.TempDir()
	srv, ts := startSQLite(t, dir)
	c := login(t, ts.URL, "alice-secret")
	put := func(id string, tag int) {
		c.mustStatus(c.do("PUT", "/storage/big/"+id, `{"payload":`+jsonString(bigPayload(tag, server.SpillBytes))+`}`), 200)
	}
	put("kept", 0)
	put("overwritten", 1)
	put("deleted", 2)
	var batch struct{ Batch string }
	c.mustStatus(c.do("POST", "/storage/big?batch=true", `[{"id":"staged","payload":`+jsonString(bigPayload(3, server.SpillBytes))+`}]`), 202).json(t, &batch)
	put("overwritten", 4)
	c.mustStatus(c.do("DELETE", "/storage/big/deleted", ""), 200)
	// Refused by a precondition after its payload was written: never committed.
	c.mustStatus(c.do("PUT", "/storage/big/kept", `{"payload":`+jsonString(bigPayload(5, server.SpillBytes))+`}`, "X-If-Unmodified-Since", "1.00"), 412)
	if n := payloadFiles(t, dir); n != 5 {
		t.Fatalf("%d files before the sweep, want 5 (the refused write's went at once)", n)
	}

	if n, err := srv.SweepPayloadFiles(time.Hour); err != nil || n != 0 {
		t.Fatalf("a sweep of young files removed %d: %v", n, err)
	}
	if n, err := srv.SweepPayloadFiles(0); err != nil || n != 0 {
		t.Fatalf("a first sweep only marks; it removed %d: %v", n, err)
	}
	if n, err := srv.SweepPayloadFiles(0); err != nil || n != 2 {
		t.Fatalf("the second sweep removed %d, want 2 (the overwritten and the deleted): %v", n, err)
	}
	c.mustStatus(c.do("POST", "/storage/big?commit=true&batch="+batch.Batch, `[]`), 200)
	for id, tag := range map[string]int{"kept": 0, "overwritten": 4, "staged": 3} {
		var item struct{ Payload string }
		c.mustStatus(c.do("GET", "/storage/big/"+id, ""), 200).json(t, &item)
		if item.Payload != bigPayload(tag, server.SpillBytes) {
			t.Errorf("%s lost its payload", id)
		}
	}
	c.mustStatus(c.do("DELETE", "/storage", ""), 200)
	srv.SweepPayloadFiles(0)
	srv.SweepPayloadFiles(0)
	if n := payloadFiles(t, dir); n != 0 {
		t.Errorf("%d files left after the account was wiped", n)
	}
}

// Sweeps running all the time, with a short grace period, beside writers that overwrite
// large records and commit batches of them, lose nothing: every record reads back as
// last written, and once the writers stop, the files left are exactly the records'.
func TestSweepsRacingWritesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	srv, ts := startSQLite(t, dir)
	const writers, rounds = 4, 6
	last := make([]map[string]int, writers)
	stop := make(chan struct{})
	var sweeps sync.WaitGroup
	sweeps.Add(1)
	go func() {
		defer sweeps.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := srv.SweepPayloadFiles(time.Second); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		c := login(t, ts.URL, "alice-secret")
		last[w] = map[string]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ids := []string{fmt.Sprintf("w%d-a", w), fmt.Sprintf("w%d-b", w)}
				tag := w*100 + r
				if r%2 == 0 { // a plain POST of two
					body := fmt.Sprintf(`[{"id":%q,"payload":%s},{"id":%q,"payload":%s}]`,
						ids[0], jsonString(bigPayload(tag, server.SpillBytes)), ids[1], jsonString(bigPayload(tag+50, server.SpillBytes)))
					if r, err := c.send("POST", c.endpoint+"/storage/race", body); err != nil || r.status != 200 {
						t.Errorf("POST: %v %v", r.status, err)
						return
					}
				} else { // a batch of one each, committed after a pause longer than the grace
					var batch struct{ Batch string }
					r1, err := c.send("POST", c.endpoint+"/storage/race?batch=true", fmt.Sprintf(`[{"id":%q,"payload":%s}]`, ids[0], jsonString(bigPayload(tag, server.SpillBytes))))
					if err != nil || r1.status != 202 {
						t.Errorf("batch: %v %v", r1.status, err)
						return
					}
					r1.json(t, &batch)
					time.Sleep(1200 * time.Millisecond)
					r2, err := c.send("POST", c.endpoint+"/storage/race?commit=true&batch="+batch.Batch, fmt.Sprintf(`[{"id":%q,"payload":%s}]`, ids[1], jsonString(bigPayload(tag+50, server.SpillBytes))))
					if err != nil || r2.status != 200 {
						t.Errorf("commit: %v %v", r2.status, err)
						return
					}
				}
				last[w][ids[0]], last[w][ids[1]] = tag, tag+50
			}
		}()
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	c := login(t, ts.URL, "alice-secret")
	var got []struct{ ID, Payload string }
	c.mustStatus(c.do("GET", "/storage/race?full=1", ""), 200).json(t, &got)
	if len(got) != 2*writers {
		t.Fatalf("%d records, want %d", len(got), 2*writers)
	}
	for _, r := range got {
		w := int(r.ID[1] - '0')
		if r.Payload != bigPayload(last[w][r.ID], server.SpillBytes) {
			t.Errorf("%s does not read as last written", r.ID)
		}
	}
	srv.SweepPayloadFiles(0)
	srv.SweepPayloadFiles(0)
	if n := payloadFiles(t, dir); n != 2*writers {
		t.Errorf("%d files left, want %d", n, 2*writers)
	}
}

// A collection GET sends payload files from disk through the connection `serve` uses:
// an answer of one chunk carries its Content-Length (which lets net/http hand the files
// to the socket with sendfile), a longer one is chunked, and both read back exactly,
// whatever kind of file each payload is in; a payload file gone is a 500 before anything
// is sent, not a truncated 200; and a client that stops reading in the middle of the
// files is cut after the stall allowance.
func TestCollectionGETsSendPayloadFilesFromDisk(t *testing.T) {
	dir := t.TempDir()
	srv, base := serve(t, server.Options{DataDir: dir, Conns: server.ConnLimits{Stall: 500 * time.Millisecond}})
	c := login(t, base, "alice-secret")
	want := map[string]string{}
	var ids []string
	for i := range 12 {
		id := fmt.Sprintf("r%02d", i)
		p := bigPayload(2*i, 1<<20) // plain: the file holds it as JSON text
		switch i {
		case 3:
			p = bigPayload(2*i+1, server.SpillBytes) // escaped from the file at each GET
		case 5:
			p = `{"ciphertext":"` + strings.Repeat("QUJD/+==", 40<<10) + `","IV":"é\\"}`
		}
		body := jsonString(p)
		if i == 5 {
			body = oddlyEscaped(p) // kept as the JSON text it came as
		}
		c.mustStatus(c.do("PUT", "/storage/big/"+id, `{"payload":`+body+`}`), 200)
		want[id], ids = p, append(ids, id)
	}
	check := func(r reply, n int) {
		t.Helper()
		var got []struct{ ID, Payload string }
		r.json(t, &got)
		if len(got) != n {
			t.Fatalf("%d records, want %d", len(got), n)
		}
		for _, rec := range got {
			if rec.Payload != want[rec.ID] {
				t.Errorf("%s's payload differs (%d bytes, want %d)", rec.ID, len(rec.Payload), len(want[rec.ID]))
			}
		}
	}
	one := c.mustStatus(c.do("GET", "/storage/big?full=1&ids="+strings.Join(ids[:6], ","), ""), 200)
	if cl := one.header.Get("Content-Length"); cl != strconv.Itoa(len(one.body)) {
		t.Errorf("an answer of one chunk has Content-Length %q for %d bytes", cl, len(one.body))
	}
	check(one, 6)
	all := c.mustStatus(c.do("GET", "/storage/big?full=1", ""), 200)
	if cl := all.header.Get("Content-Length"); cl != "" {
		t.Errorf("an answer of %d payload files is not chunked (Content-Length %s)", len(ids), cl)
	}
	check(all, len(ids))
	lines := c.mustStatus(c.do("GET", "/storage/big?full=1&ids="+strings.Join(ids[:6], ","), "", "Accept", "application/newlines"), 200)
	if n := strings.Count(lines.body, "\n"); n != 6 || lines.header.Get("Content-Length") != strconv.Itoa(len(lines.body)) {
		t.Errorf("newlines: %d lines, Content-Length %q for %d bytes", n, lines.header.Get("Content-Length"), len(lines.body))
	}

	// A client that stops reading: its receive buffer small, it takes none of an 8 MB
	// answer, and is cut while the server is in the middle of the files.
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	req := c.request("GET", "/storage/big?full=1&ids="+strings.Join([]string{"r00", "r01", "r02", "r04", "r06", "r07", "r08", "r09"}, ","), "")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a client that reads nothing cut", 10*time.Second, func() bool { return srv.Stats().Conns.Open == 0 })

	before := payloadFileNames(t, dir)
	c.mustStatus(c.do("PUT", "/storage/gone/x", `{"payload":`+jsonString(bigPayload(0, server.SpillBytes))+`}`), 200)
	for name := range payloadFileNames(t, dir) {
		if !before[name] {
			os.Remove(name)
		}
	}
	r := c.do("GET", "/storage/gone?full=1", "")
	if r.status != 500 || r.header.Get("X-Weave-Records") != "" {
		t.Errorf("a missing payload file: status %d, X-Weave-Records %q; body %.80s", r.status, r.header.Get("X-Weave-Records"), r.body)
	}
}

// payloadFileNames lists the payload files beside the SQLite database in dir.
func payloadFileNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dir, "payloads"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names[path] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
