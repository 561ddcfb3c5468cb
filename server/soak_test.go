package server_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncctl/syncctl/hawk"
)

var soak = flag.Duration("soak", 0, "run the soak test for this long (CI: 60s)")

// soakClient is one simulated client, on a loopback address of its own so that the
// per-address connection cap sees it as the separate machine it stands for.
func soakHTTP(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2}}
}

type honest struct {
	c       *client
	http    *http.Client
	mu      sync.Mutex
	acked   []string // ids whose PUT was answered 200
	latency []time.Duration
}

func (h *honest) signed(method, path, body string) (*http.Response, error) {
	return h.http.Do(h.c.request(method, path, body))
}

// run writes a record, reads it back and reads info/collections, until ctx is done.
func (h *honest) run(ctx context.Context, name string, errs *atomic.Int64) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("%s-%d", name, i)
		start := time.Now()
		resp, err := h.signed("PUT", "/storage/soak/"+id, `{"payload":"`+strings.Repeat("s", 500)+`"}`)
		if err != nil {
			errs.Add(1)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			h.mu.Lock()
			h.acked = append(h.acked, id)
			h.mu.Unlock()
		} else {
			errs.Add(1)
		}
		for _, p := range []string{"/storage/soak/" + id, "/info/collections"} {
			if resp, err := h.signed("GET", p, ""); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				errs.Add(1)
			}
		}
		h.mu.Lock()
		h.latency = append(h.latency, time.Since(start))
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// procStatus reads a memory figure of a process from /proc (bytes; -1 if unknown).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// TestSoak: 200 clients against one server process for -soak long: 40 honest ones that
// write, read back and list, and 160 hostile ones (slow readers, idle connections,
// huge nonces, bad MACs, oversize bodies, slow headers). The honest clients' p99 stays
// within 5× of a quiet run, the server's peak RSS under 150 MB, and every write it
// acknowledged is there afterwards.
func TestSoak(t *testing.T) {
	if *soak <= 0 {
		t.Skip("run with -soak 60s")
	}
	proc, base := startProcess(t, t.TempDir(), "")
	addr := strings.TrimPrefix(base, "http://")
	tokens := login(t, base, "alice-secret")
	var honests []*honest
	for i := range 40 {
		h := &honest{c: tokens, http: soakHTTP(fmt.Sprintf("127.0.1.%d", i+1))}
		honests = append(honests, h)
	}
	// A large collection for the slow readers.
	big := strings.Repeat("b", 60_000)
	for b := range 20 {
		var items []string
		for i := range 30 {
			items = append(items, fmt.Sprintf(`{"id":"big%d-%d","payload":%q}`, b, i, big))
		}
		tokens.mustStatus(tokens.do("POST", "/storage/big", "["+strings.Join(items, ",")+"]"), 200)
	}
	var errs atomic.Int64
	phase := func(d time.Duration, hostile bool) (p50, p99 time.Duration, refused int64) {
		for _, h := range honests {
			h.latency = nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		for i, h := range honests {
			wg.Add(1)
			go func() { defer wg.Done(); h.run(ctx, fmt.Sprintf("h%d-%v", i, hostile), &errs) }()
		}
		var attempts atomic.Int64
		if hostile {
			for i := range 160 {
				wg.Add(1)
				kind := i % 6
				if k := os.Getenv("SOAK_KIND"); k != "" && k != strconv.Itoa(kind) {
					wg.Done()
					continue
				}
				go func() {
					defer wg.Done()
					hostileClient(ctx, kind, fmt.Sprintf("127.0.2.%d", i+1), addr, tokens, big, &attempts)
				}()
			}
		}
		wg.Wait()
		var all []time.Duration
		for _, h := range honests {
			all = append(all, h.latency...)
		}
		return percentile(all, 0.5), percentile(all, 0.99), attempts.Load()
	}
	quiet50, quiet99, _ := phase(min(10*time.Second, *soak/4), false)
	quietRSS := procStatus(proc.Process.Pid, "VmHWM")
	// The server's own memory is its anonymous resident set (heap, stacks, SQLite's
	// allocations), sampled through the attack; the database file's pages mapped into it
	// are the kernel's page cache, shared and reclaimable, and reported apart.
	var peakAnon atomic.Int64
	stopSampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if v := procStatus(proc.Process.Pid, "RssAnon"); v > peakAnon.Load() {
				peakAnon.Store(v)
			}
		}
	}()
	loud50, loud99, hostileAttempts := phase(*soak, true)
	close(stopSampling)
	rss, anon := procStatus(proc.Process.Pid, "VmHWM"), peakAnon.Load()
	writes := 0
	for _, h := range honests {
		for _, id := range h.acked {
			if r := tokens.do("GET", "/storage/soak/"+id, ""); r.status != 200 {
				t.Errorf("acknowledged write %s: %d", id, r.status)
			}
			writes++
		}
	}
	t.Logf("soak %s, 40 honest + 160 hostile clients: honest p50 %s (quiet %s), p99 %s (quiet %s); server peak anonymous RSS %.1f MB (peak RSS with the mapped database %.1f MB, %.1f MB before the attack); %d hostile attempts; %d honest errors; %d acknowledged writes all read back",
		*soak, loud50.Round(time.Microsecond), quiet50.Round(time.Microsecond), loud99.Round(time.Microsecond), quiet99.Round(time.Microsecond), float64(anon)/(1<<20), float64(rss)/(1<<20), float64(quietRSS)/(1<<20), hostileAttempts, errs.Load(), writes)
	if loud99 > 5*max(quiet99, 10*time.Millisecond) {
		t.Errorf("honest p99 %s under attack, more than 5× the quiet %s", loud99, quiet99)
	}
	if anon > 150<<20 || anon <= 0 {
		t.Errorf("server peak anonymous RSS %d MB", anon>>20)
	}
	if writes == 0 {
		t.Error("no honest write was acknowledged")
	}
}

// hostileClient misbehaves one way (kind) until ctx is done.
func hostileClient(ctx context.Context, kind int, local, addr string, c *client, big string, attempts *atomic.Int64) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	sign := func(method, path string, edit func(*hawk.Artifacts)) string {
		u, _ := url.Parse(c.endpoint + path)
		a := hawk.Target(method, u)
		a.TS, a.Nonce = time.Now().Unix(), strconv.FormatUint(rand.Uint64(), 36)
		if edit != nil {
			edit(&a)
		}
		return hawk.Header(c.id, []byte(c.key), &a)
	}
	path := strings.TrimPrefix(c.endpoint, "http://"+addr)
	for ctx.Err() == nil {
		attempts.Add(1)
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go func() { <-ctx.Done(); conn.Close() }()
		switch kind {
		case 0: // a slow reader of a large collection
			fmt.Fprintf(conn, "GET %s/storage/big?full=1 HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", path, addr, sign("GET", "/storage/big?full=1", nil))
			buf := make([]byte, 1)
			for ctx.Err() == nil {
				if _, err := conn.Read(buf); err != nil {
					break
				}
				time.Sleep(time.Second)
			}
		case 1: // an idle connection
			conn.Read(make([]byte, 1))
		case 2: // a huge nonce
			h := sign("GET", "/info/collections", func(a *hawk.Artifacts) { a.Nonce = strings.Repeat("n", 200_000) })
			fmt.Fprintf(conn, "GET %s/info/collections HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", path, addr, h)
			io.Copy(io.Discard, conn)
		case 3: // bad MACs
			h := sign("GET", "/info/collections", func(a *hawk.Artifacts) { a.Ext = "forged" })
			h = strings.Replace(h, `ext="forged", `, "", 1)
			fmt.Fprintf(conn, "GET %s/info/collections HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", path, addr, h)
			io.Copy(io.Discard, conn)
		case 4: // an oversize body
			body := strings.Repeat("x", 3<<20)
			fmt.Fprintf(conn, "POST %s/storage/over HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nAuthorization: %s\r\nConnection: close\r\n\r\n", path, addr, len(body), sign("POST", "/storage/over", nil))
			io.WriteString(conn, body)
			io.Copy(io.Discard, conn)
		case 5: // headers a byte at a time
			for _, b := range []byte("GET /__heartbeat__ HTTP/1.1\r\nHost: x\r\n") {
				if ctx.Err() != nil {
					break
				}
				if _, err := conn.Write([]byte{b}); err != nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		conn.Close()
		// Paced, as an attacker bent on exhausting memory and connections is (and a body
		// sender by its uplink): a tight loop on the test's own two cores would measure
		// only the CPU the attackers and the server share.
		pause := 50 * time.Millisecond
		if kind == 4 {
			pause = 500 * time.Millisecond
		}
		time.Sleep(pause)
	}
}
