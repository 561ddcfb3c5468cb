package middleware_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/syncctl/syncctl/internal/heappeak"
	"github.com/syncctl/syncctl/internal/servertest"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/wbo"
)

// BenchmarkFetchDecrypt100k fetches and decrypts a 100,000-record collection from the
// embedded server (in this process, so its memory is counted too) and reports the peak
// live heap. Streaming keeps it flat: run with -benchtime=1x.
func BenchmarkFetchDecrypt100k(b *testing.B) {
	srv := servertest.Start(b, server.Options{}, nil)
	repo, _, _ := encrypted(b, srv, "history")
	ctx := context.Background()
	all := records(100_000)
	for i := 0; i < len(all); i += 10_000 {
		if _, err := repo.Store(ctx, all[i:i+10_000]); err != nil {
			b.Fatal(err)
		}
	}
	all = nil
	runtime.GC()
	peak, stop := heappeak.Watch()
	defer stop()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := repo.FetchSince(ctx, 0, func(wbo.Record) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatalf("%d records, %v", n, err)
		}
	}
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "records/s")
}
