package dirsync_test

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/dirsync"
	"github.com/syncctl/syncctl/internal/cputime"
	"github.com/syncctl/syncctl/internal/heappeak"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
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

// TestMain doubles as the server process of BenchmarkPushPull256MB: with
// DIRSYNC_BENCH_SERVER set to a data directory it serves the embedded server on
// 127.0.0.1, prints its URL, and runs until its stdin closes (with
// DIRSYNC_BENCH_SERVER_PROFILE naming a file, it writes its CPU profile there). Apart, the two processes'
// CPU times say what the server costs and what the client does.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DIRSYNC_BENCH_SERVER"); dir != "" {
		srv, err := server.New(server.Options{DataDir: dir, Users: map[string]string{"alice": "alice-secret"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if prof := os.Getenv("DIRSYNC_BENCH_SERVER_PROFILE"); prof != "" { // a CPU profile of the server alone
			f, err := os.Create(prof)
			if err == nil && pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
		go http.Serve(ln, srv.Handler())
		fmt.Printf("http://%s\n", ln.Addr())
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
		pprof.StopCPUProfile()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverProcess is the embedded server in a child process.
type serverProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
}

func startServerProcess(b *testing.B) *serverProcess {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DIRSYNC_BENCH_SERVER="+b.TempDir())
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("the server process: %v", err)
	}
	p := &serverProcess{cmd: cmd, stdin: stdin, URL: strings.TrimSpace(line)}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return p
}

// cpu is the process's user+system CPU time so far.
func (p *serverProcess) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, stime: fields 14 and 15 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// rawCrypto is the floor of a push: AES-256-CBC and HMAC-SHA256 over size bytes, in 1 MB
// records, on both cores, with no hashing of content, no encoding and no I/O.
func rawCrypto(size int64) time.Duration {
	key := make([]byte, 32)
	block, _ := aes.NewCipher(key)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			mac := hmac.New(sha256.New, key)
			for done := int64(w) << 20; done < size; done += int64(runtime.GOMAXPROCS(0)) << 20 {
				cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(buf, buf)
				mac.Reset()
				mac.Write(buf)
				mac.Sum(nil)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkPushPull256MB pushes 256 MB of incompressible files of mixed sizes to the
// embedded server, running in its own process with default limits, and pulls them on
// another device. It reports MB/s each way; each way's server CPU against the client's;
// the bytes the server stores against the content; both ways against the raw crypto floor
// measured in the same run; and the client's peak live heap. Run with -benchtime=1x.
var transfers = flag.Int("transfers", 8, "BenchmarkPushPull256MB: blobs moved at once")

func BenchmarkPushPull256MB(b *testing.B) {
	const size = 256 << 20
	src := b.TempDir()
	files := mixedTree(b, src, size)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		srv := startServerProcess(b)
		keys, err := crypto.GenerateKeys(nil)
		if err != nil {
			b.Fatal(err)
		}
		device := func() *dirsync.Syncer {
			st, err := blob.Open(b.TempDir(), keys.For("blobs"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			client := storage.New(storage.Options{Tokens: &storage.TokenServer{URL: srv.URL,
				Bearer: func(context.Context) (string, error) { return "alice-secret", nil }}})
			return dirsync.New(dirsync.Options{Blob: blob.Options{Store: st, Client: client, Keys: keys, TransferLimit: *transfers}})
		}
		laptop, desktop := device(), device()
		dst := b.TempDir()
		floor := rawCrypto(size)
		runtime.GC()
		peak, stop := heappeak.Watch()
		b.StartTimer()

		t0, c0, s0 := time.Now(), cputime.Self(), srv.cpu(b)
		res, err := laptop.Push(ctx, src, "bench", dirsync.PushOptions{})
		if err != nil || res.Files != files {
			b.Fatalf("push: %+v %v", res, err)
		}
		push, pushClient, pushServer := time.Since(t0), cputime.Self()-c0, srv.cpu(b)-s0
		t0, c0, s0 = time.Now(), cputime.Self(), srv.cpu(b)
		pres, err := desktop.Pull(ctx, "bench", dst, dirsync.PullOptions{})
		if err != nil || pres.Written != files {
			b.Fatalf("pull: %+v %v", pres, err)
		}
		pull, pullClient, pullServer := time.Since(t0), cputime.Self()-c0, srv.cpu(b)-s0

		b.StopTimer()
		stop()
		usage, err := laptop.ServerUsage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(size)/(1<<20)/push.Seconds(), "push-MB/s")
		b.ReportMetric(float64(size)/(1<<20)/pull.Seconds(), "pull-MB/s")
		b.ReportMetric(pushClient.Seconds(), "push-client-cpu-s")
		b.ReportMetric(pushServer.Seconds(), "push-server-cpu-s")
		b.ReportMetric(pushServer.Seconds()/pushClient.Seconds(), "push-server/client-cpu")
		b.ReportMetric(pullServer.Seconds()/pullClient.Seconds(), "pull-server/client-cpu")
		b.ReportMetric(float64(usage)/float64(res.Bytes), "server-bytes/content")
		b.ReportMetric(push.Seconds()/floor.Seconds(), "push/raw-crypto")
		b.ReportMetric(pull.Seconds()/floor.Seconds(), "pull/raw-crypto")
		b.ReportMetric(float64(peak())/(1<<20), "client-peak-heap-MB")
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
