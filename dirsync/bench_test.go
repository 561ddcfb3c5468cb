package dirsync_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/syncctl/syncctl/dirsync"
	"github.com/syncctl/syncctl/internal/heappeak"
	"github.com/syncctl/syncctl/server"
)

// mixedTree writes about size bytes of random content: many small files, some of a few
// MB, a few of 16 MB.
func mixedTree(b *testing.B, dir string, size int64) (files int) {
	rnd := mrand.New(mrand.NewPCG(42, 42))
	buf := make([]byte, 16<<20)
	var total int64
	for i := 0; total < size; i++ {
		var n int
		switch {
		case i%50 == 0:
			n = 8<<20 + rnd.IntN(8<<20)
		case i%10 == 0:
			n = 256<<10 + rnd.IntN(3<<20)
		default:
			n = rnd.IntN(64 << 10)
		}
		n = int(min(int64(n), size-total))
		for j := 0; j+8 <= n; j += 8 {
			v := rnd.Uint64()
			for k := 0; k < 8; k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%16), fmt.Sprintf("f%05d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf[:n], 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(n)
		files++
	}
	return files
}

// BenchmarkPushPull256MB pushes 256 MB of files of mixed sizes to the embedded server
// (default limits, so ~580 KB chunks) and pulls them on another device, reporting MB/s
// for each way and the peak live heap (server included: it runs in this process).
// Run with -benchtime=1x.
func BenchmarkPushPull256MB(b *testing.B) {
	const size = 256 << 20
	src := b.TempDir()
	files := mixedTree(b, src, size)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		r := newRig(b, server.Limits{})
		laptop, desktop := r.device(nil), r.device(nil)
		dst := b.TempDir()
		runtime.GC()
		peak, stop := heappeak.Watch()
		b.StartTimer()

		t0 := time.Now()
		res, err := laptop.Push(ctx, src, "bench", dirsync.PushOptions{})
		if err != nil || res.Files != files {
			b.Fatalf("push: %+v %v", res, err)
		}
		push := time.Since(t0)
		t0 = time.Now()
		pres, err := desktop.Pull(ctx, "bench", dst, dirsync.PullOptions{})
		if err != nil || pres.Written != files {
			b.Fatalf("pull: %+v %v", pres, err)
		}
		pull := time.Since(t0)

		b.StopTimer()
		stop()
		b.ReportMetric(float64(size)/(1<<20)/push.Seconds(), "push-MB/s")
		b.ReportMetric(float64(size)/(1<<20)/pull.Seconds(), "pull-MB/s")
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(files), "files")
		b.StartTimer()
	}
}

// BenchmarkNoChangePush100k is a push of a 100,000-file tree nothing changed in (the
// files remembered by an earlier push), against a --checksum push of the same tree in
// the same run, which reads every file. Run with -benchtime=3x.
func BenchmarkNoChangePush100k(b *testing.B) {
	const files, distinct = 100_000, 1_000
	src := b.TempDir()
	content := make([][]byte, distinct)
	rnd := mrand.New(mrand.NewPCG(1, 2))
	for i := range content {
		content[i] = make([]byte, 1024)
		for j := range content[i] {
			content[i][j] = byte(rnd.Uint32())
		}
	}
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%03d", i%100), fmt.Sprintf("f%06d", i))
		if i < 100 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err := os.WriteFile(p, content[i%distinct], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	r := newRig(b, server.Limits{})
	s := r.device(nil)
	ctx := context.Background()
	if _, err := s.Push(ctx, src, "big", dirsync.PushOptions{}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // past the window in which fresh files are not trusted
	if _, err := s.Push(ctx, src, "big", dirsync.PushOptions{}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	all, err := s.Push(ctx, src, "big", dirsync.PushOptions{Checksum: true})
	if err != nil || all.Read != files {
		b.Fatalf("--checksum read %d (%v)", all.Read, err)
	}
	checksum := time.Since(start)
	var res dirsync.PushResult
	b.ResetTimer()
	for b.Loop() {
		if res, err = s.Push(ctx, src, "big", dirsync.PushOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	if res.Read != 0 || !res.DirRecordUnchanged {
		b.Fatalf("a no-change push read %d files, record unchanged %v", res.Read, res.DirRecordUnchanged)
	}
	b.ReportMetric(per, "s/push")
	b.ReportMetric(checksum.Seconds(), "checksum-s/push")
	b.ReportMetric(per/checksum.Seconds(), "push/checksum")
	b.ReportMetric(0, "ns/op")
}
