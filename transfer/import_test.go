package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/heappeak"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/transfer"
	"github.com/syncctl/syncctl/wbo"
)

// export writes n history lines of an export to w, then closes it: a file that never
// sits in memory whole.
func export(w *io.PipeWriter, n int) {
	for i := range n {
		id := fmt.Sprintf("h%011d", i)
		fmt.Fprintf(w, `{"collection":"history","id":%q,"modified":0,"payload":{"id":%q,"histUri":"https://example.com/page/%d","title":"Page %d","visits":[{"date":%d,"type":1}]}}`+"\n",
			id, id, i, i, 1700000000000000+int64(i))
	}
	w.Close()
}

func setup(t testing.TB) (*storage.Client, *crypto.Keys, transfer.ImportOptions) {
	srv := servertest.Start(t, server.Options{}, nil)
	client := srv.Client("alice", storage.Options{})
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	return client, keys, transfer.ImportOptions{Client: client, Bundle: keys.For}
}

func TestImportStreamsEveryRecordUpEncrypted(t *testing.T) {
	t.Parallel()
	client, keys, opts := setup(t)
	ctx := context.Background()
	in := `{"collection":"bookmarks","id":"aaaaaaaaaaaa","payload":{"id":"aaaaaaaaaaaa","type":"bookmark","title":"A"}}

{"collection":"meta","id":"global","payload":{"syncID":"x"}}
{"collection":"notes","id":"n1","sortindex":5,"payload":"{\"id\":\"n1\",\"text\":\"written as a string\"}"}
{"collection":"bookmarks","id":"bbbbbbbbbbbb","payload":{"id":"bbbbbbbbbbbb","type":"bookmark","title":"B"}}
`
	opts.Chunk = 1 // every record its own upload: the chunking is exercised
	stored := 0
	opts.OnStored = func(n int) { stored += n }
	res, err := transfer.Import(ctx, strings.NewReader(in), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 3 || stored != 3 || res.Skipped != 1 || strings.Join(res.Collections, ",") != "bookmarks,notes" {
		t.Errorf("result %+v (progress %d)", res, stored)
	}
	got := map[string]string{}
	for _, c := range res.Collections {
		err := middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: c}), c, keys, nil).
			FetchSince(ctx, 0, func(r wbo.Record) error { got[c+"/"+r.ID] = string(r.Payload); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	if got["notes/n1"] != `{"id":"n1","text":"written as a string"}` || !strings.Contains(got["bookmarks/bbbbbbbbbbbb"], `"title":"B"`) || len(got) != 3 {
		t.Errorf("on the server, decrypted: %v", got)
	}

	_, err = transfer.Import(ctx, strings.NewReader("{\"collection\":\"x\"}\n"), opts)
	if !errors.Is(err, transfer.ErrNotAnExport) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a line without an id: %v", err)
	}
	var l transfer.Line
	if json.Unmarshal([]byte(`{"collection":"c","id":"i","payload":{}}`), &l) != nil || l.ID != "i" {
		t.Errorf("Line: %+v", l)
	}
}

// An import stops at the first upload that fails, with nothing sent after it, and says
// how many records went up before; a record the server refuses is reported and the import
// goes on. (One upload runs while the next chunk is encrypted: neither may change that.)
func TestImportStopsAtTheFirstFailedUpload(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t, server.Options{Limits: server.Limits{MaxRecordPayloadBytes: 1000}}, nil)
	client := srv.Client("alice", storage.Options{})
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 10 {
		text := "short"
		if i == 1 {
			text = strings.Repeat("x", 2000) // over the server's 1,000 bytes once encrypted
		}
		fmt.Fprintf(&in, `{"collection":"notes","id":"n%d","payload":{"id":"n%d","text":%q}}`+"\n", i, i, text)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var progress []int
	var refused []string
	opts := transfer.ImportOptions{Client: client, Bundle: keys.For, Chunk: 2,
		OnStored: func(n int) {
			progress = append(progress, n)
			if len(progress) == 2 {
				cancel() // the third chunk's upload fails
			}
		},
		OnRefused: func(c, id string, err error) { refused = append(refused, c+"/"+id) },
	}
	res, err := transfer.Import(ctx, strings.NewReader(in.String()), opts)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "notes") {
		t.Fatalf("err %v", err)
	}
	if res.Stored != 3 || fmt.Sprint(progress) != "[1 2 0]" || fmt.Sprint(refused) != "[notes/n1]" {
		t.Errorf("stored %d, progress %v, refused %v", res.Stored, progress, refused)
	}
	var ids []string
	err = remote.New(remote.Options{Client: client, Collection: "notes"}).
		FetchSince(context.Background(), 0, func(r wbo.Record) error { ids = append(ids, r.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if fmt.Sprint(ids) != "[n0 n2 n3]" {
		t.Errorf("on the server: %v", ids)
	}
}

var importRecords = flag.Int("import.records", 100_000, "records in BenchmarkImport")

// BenchmarkImport imports an export of history records read from a pipe (the file is
// never in memory), then fetches and decrypts them, in one run: the ratio is the figure
// (goal ≤ 2×), and the peak live heap (server included) shows it streams (goal < 64 MB at
// 1,000,000: -import.records 1000000).
func BenchmarkImport(b *testing.B) {
	n := *importRecords
	client, keys, opts := setup(b)
	ctx := context.Background()
	var imp, fetch, floor time.Duration
	var peakHeap uint64
	b.ReportAllocs()
	for b.Loop() {
		runtime.GC()
		peak, stop := heappeak.Watch()
		r, w := io.Pipe()
		go export(w, n)
		start := time.Now()
		res, err := transfer.Import(ctx, r, opts)
		imp += time.Since(start)
		if err != nil || res.Stored != n {
			b.Fatalf("imported %d, %v", res.Stored, err)
		}
		start = time.Now()
		got := 0
		err = middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: "history"}), "history", keys, nil).
			FetchSince(ctx, 0, func(wbo.Record) error { got++; return nil })
		fetch += time.Since(start)
		if err != nil || got != n {
			b.Fatalf("fetched %d, %v", got, err)
		}
		peakHeap = max(peakHeap, peak())
		stop()

		// The floor: the records as the server holds them, inserted by SQLite alone
		// (servertest.InsertFloor); read after the heap's peak, they are not the import's.
		rows := make([]servertest.Row, 0, n)
		err = remote.New(remote.Options{Client: client, Collection: "history"}).FetchSince(ctx, 0, func(rec wbo.Record) error {
			rows = append(rows, servertest.Row{ID: rec.ID, Payload: string(rec.Payload)})
			return nil
		})
		if err != nil || len(rows) != n {
			b.Fatalf("fetched %d, %v", len(rows), err)
		}
		floor += servertest.InsertFloor(b, "history", rows)
	}
	b.ReportMetric(imp.Seconds()/float64(b.N), "import-s")
	b.ReportMetric(fetch.Seconds()/float64(b.N), "fetch-decrypt-s")
	b.ReportMetric(imp.Seconds()/fetch.Seconds(), "import/fetch")
	// What SQLite alone needs to store the records, against the same fetch: an import to
	// an SQLite server cannot take less than this ratio.
	b.ReportMetric(floor.Seconds()/float64(b.N), "sqlite-insert-s")
	b.ReportMetric(floor.Seconds()/fetch.Seconds(), "sqlite-insert/fetch")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
}
