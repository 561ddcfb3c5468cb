package synchronizer_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/internal/heappeak"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/synchronizer"
	"github.com/syncctl/syncctl/wbo"
)

var (
	firstSyncRecords = flag.Int("firstsync.records", 100_000, "records in BenchmarkFirstSync")
	firstSyncChunk   = flag.Int("firstsync.chunk", 0, "BenchmarkFirstSync: the synchronizer's ChunkSize (0: its default)")
	firstSyncTxTime  = flag.Duration("firstsync.txtime", 0, "BenchmarkFirstSync: the synchronizer's TxTime (0: its default)")
)

// guidOf is the j-th of a sequence of ids shaped and scattered like Firefox's (12
// characters of base64url from random bits): sequential ids would make every local
// insert an append at the end of the b-tree, which real collections never are.
func guidOf(j int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(j)))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// benchHistory is the j-th history record of the benchmarks: a page and one visit.
func benchHistory(j int) wbo.Record {
	id := guidOf(j)
	return wbo.Record{ID: id, Payload: fmt.Appendf(nil,
		`{"id":%q,"histUri":"https://example.com/page/%d","title":"Page %d","visits":[{"date":%d,"type":1}]}`, id, j, j, 1700000000000000+int64(j))}
}

// BenchmarkFirstSync measures a fresh device's first sync of a history-sized collection
// against the same records fetched and decrypted without being stored, in one process
// and one run (the machine is shared; the ratio is the figure). The goal: ≤ 1.5×.
func BenchmarkFirstSync(b *testing.B) {
	n := *firstSyncRecords
	srv := servertest.Start(b, server.Options{}, nil)
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		b.Fatal(err)
	}
	client := srv.Client("alice", storage.Options{})
	remoteRepo := func() *middleware.Crypto {
		return middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: "history"}), "history", keys, nil)
	}
	ctx := context.Background()
	// Uploaded as Firefox does, 100 records to a POST, so that each commit has its own
	// timestamp and the server returns them in no particular order of id.
	up := remoteRepo()
	for i := 0; i < n; i += 100 {
		batch := make([]wbo.Record, 0, 100)
		for j := i; j < min(i+100, n); j++ {
			batch = append(batch, benchHistory(j))
		}
		if _, err := up.Store(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var fetch, sync time.Duration
	peak, stop := heappeak.Watch()
	defer stop()
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		got := 0
		if err := remoteRepo().FetchSince(ctx, 0, func(wbo.Record) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("fetch: %d records, %v", got, err)
		}
		fetch += time.Since(start)

		db, err := sqlite.Open(filepath.Join(b.TempDir(), "local.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		s := synchronizer.New(synchronizer.Options{Local: db.Collection("history"), Remote: remoteRepo(), Key: "history",
			ChunkSize: *firstSyncChunk, TxTime: *firstSyncTxTime})
		start = time.Now()
		res, err := s.Sync(ctx)
		sync += time.Since(start)
		if err != nil || res.Applied != n {
			b.Fatalf("first sync: %+v, %v", res, err)
		}
		db.Close()
	}
	b.ReportMetric(fetch.Seconds()/float64(b.N), "fetch-decrypt-s")
	b.ReportMetric(sync.Seconds()/float64(b.N), "first-sync-s")
	b.ReportMetric(sync.Seconds()/fetch.Seconds(), "sync/fetch")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
}

// BenchmarkUploadSync measures a sync that uploads 100,000 local changes (a device that
// imported its history, or one whose server was wiped) against fetching and decrypting
// the same records back, in one run. The goal: ≤ 2×.
func BenchmarkUploadSync(b *testing.B) {
	n := *firstSyncRecords
	srv := servertest.Start(b, server.Options{}, nil)
	keys, err := crypto.GenerateKeys(nil)
	if err != nil {
		b.Fatal(err)
	}
	client := srv.Client("alice", storage.Options{})
	recs := make([]wbo.Record, n)
	for j := range recs {
		recs[j] = benchHistory(j)
	}
	ctx := context.Background()
	var fetch, sync, floor time.Duration
	var peakHeap uint64
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		round++
		coll := fmt.Sprintf("history%d", round)
		remoteRepo := middleware.NewCrypto(remote.New(remote.Options{Client: client, Collection: coll}), coll, keys, nil)
		b.StopTimer()
		db, err := sqlite.Open(filepath.Join(b.TempDir(), "local.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		local := db.Collection(coll)
		for i := 0; i < n; i += 10_000 {
			if _, err := local.Store(ctx, recs[i:min(i+10_000, n)]); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		b.StartTimer()

		s := synchronizer.New(synchronizer.Options{Local: local, Remote: remoteRepo, Key: coll})
		peak, stop := heappeak.Watch()
		start := time.Now()
		res, err := s.Sync(ctx)
		sync += time.Since(start)
		if err != nil || res.Uploaded != n {
			b.Fatalf("upload sync: %+v, %v", res, err)
		}
		db.Close()

		start = time.Now()
		got := 0
		if err := remoteRepo.FetchSince(ctx, 0, func(wbo.Record) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("fetch: %d records, %v", got, err)
		}
		fetch += time.Since(start)
		peakHeap = max(peakHeap, peak())
		stop()

		// The floor: the same records, encrypted as they went up, inserted by SQLite
		// alone (servertest.InsertFloor). Made after the heap's peak was read: they are
		// the benchmark's, not the sync's.
		rows := make([]servertest.Row, n)
		for j, rec := range recs {
			enc, err := keys.For(coll).EncryptRecord(rec, nil)
			if err != nil {
				b.Fatal(err)
			}
			rows[j] = servertest.Row{ID: enc.ID, Payload: string(enc.Payload)}
		}
		floor += servertest.InsertFloor(b, coll, rows)
	}
	b.ReportMetric(fetch.Seconds()/float64(b.N), "fetch-decrypt-s")
	b.ReportMetric(sync.Seconds()/float64(b.N), "upload-sync-s")
	b.ReportMetric(sync.Seconds()/fetch.Seconds(), "upload/fetch")
	// What SQLite alone needs to store the records, against the same fetch: an upload
	// to an SQLite server cannot take less than this ratio.
	b.ReportMetric(floor.Seconds()/float64(b.N), "sqlite-insert-s")
	b.ReportMetric(floor.Seconds()/fetch.Seconds(), "sqlite-insert/fetch")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
}
