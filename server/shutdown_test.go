package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncctl/syncctl/internal/pgtest"
	"github.com/syncctl/syncctl/internal/race"

	"github.com/syncctl/syncctl/server"
)

// TestMain doubles as a server process for the tests that kill one: with
// SYNCCTL_TEST_SERVE_DIR set it serves that data dir as syncctl serve does (its address on
// stdout) until SIGTERM or SIGINT.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SYNCCTL_TEST_SERVE_DIR"); dir != "" {
		os.Exit(serveForTest(dir))
	}
	os.Exit(m.Run())
}

func serveForTest(dir string) int {
	users := map[string]string{"alice": "alice-secret"}
	if spec := os.Getenv("SYNCCTL_TEST_SERVE_USERS"); spec != "" {
		users = map[string]string{}
		for _, u := range strings.Split(spec, ",") {
			name, secret, _ := strings.Cut(u, ":")
			users[name] = secret
		}
	}
	srv, err := server.New(server.Options{DataDir: dir, Database: os.Getenv("SYNCCTL_TEST_SERVE_DB"), MasterSecret: "shutdown test", Users: users})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := net.Listen("tcp", os.Getenv("SYNCCTL_TEST_SERVE_ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(l.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = srv.Serve(ctx, l)
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startProcess runs this test binary as a server on dir (addr "" picks a port).
func startProcess(t *testing.T, dir, addr string) (*exec.Cmd, string) {
	t.Helper()
	return startNode(t, dir, addr, pgtest.For(t, dir), "")
}

// startNode runs this test binary as a server on dir and the database db ("": SQLite in
// dir), with users ("name:secret,…"; "": alice).
func startNode(t *testing.T, dir, addr, db, users string) (*exec.Cmd, string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SYNCCTL_TEST_SERVE_DIR="+dir, "SYNCCTL_TEST_SERVE_ADDR="+addr,
		"SYNCCTL_TEST_SERVE_DB="+db, "SYNCCTL_TEST_SERVE_USERS="+users)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the server process: %v", err)
	}
	return cmd, "http://" + strings.TrimSpace(line)
}

// batchSize is the commit the shutdown tests interrupt: 10,000 records, the most one batch
// may hold (2,000 under the race detector, which slows a commit past the 10 s a
// shutdown waits).
func batchSize() int {
	if race.Enabled {
		return 2_000
	}
	return 10_000
}

// stage opens a batch of n records in coll and returns its id, escaped.
func stage(t *testing.T, c *client, coll string, n int) string {
	var batch string
	for i := 0; i < n; i += 100 {
		var items []string
		for j := i; j < i+100 && j < n; j++ {
			items = append(items, fmt.Sprintf(`{"id":"r%05d","payload":"%s"}`, j, strings.Repeat("p", 200)))
		}
		q := "?batch=true"
		if batch != "" {
			q = "?batch=" + url.QueryEscape(batch)
		}
		var res struct{ Batch string }
		c.mustStatus(c.do("POST", "/storage/"+coll+q, "["+strings.Join(items, ",")+"]"), 202).json(t, &res)
		batch = res.Batch
	}
	return url.QueryEscape(batch)
}

func count(t *testing.T, c *client, coll string) int {
	var m map[string]int
	c.mustStatus(c.do("GET", "/info/collection_counts", ""), 200).json(t, &m)
	return m[coll]
}

// fire sends a signed request without waiting for, or caring about, its answer: the
// server may be killed under it.
func fire(c *client, method, path, body string) {
	req := c.request(method, path, body)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
}

// Killed at moments through a 10,000-record batch commit, the server comes back each
// time with either all of the batch or none of it, and needs no repair to start.
func TestAServerKilledMidCommitLosesNothingHalfWritten(t *testing.T) {
	t.Parallel()
	outcomes := map[int]int{}
	for _, after := range []time.Duration{0, 20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, time.Second, 3 * time.Second} {
		dir := t.TempDir()
		proc, base := startProcess(t, dir, "")
		c := login(t, base, "alice-secret")
		id := stage(t, c, "killed", batchSize())
		fire(c, "POST", "/storage/killed?batch="+id+"&commit=true", "[]")
		time.Sleep(after)
		proc.Process.Kill()
		proc.Wait()
		_, again := startProcess(t, dir, strings.TrimPrefix(base, "http://"))
		c2 := login(t, again, "alice-secret")
		n := count(t, c2, "killed")
		if n != 0 && n != batchSize() {
			t.Fatalf("killed %s into the commit: the collection holds %d of %d records", after, n, batchSize())
		}
		outcomes[n]++
		c2.mustStatus(c2.do("PUT", "/storage/killed/after", `{"payload":"x"}`), 200)
	}
	t.Logf("after the kills: %d with none of the batch, %d with all of it", outcomes[0], outcomes[batchSize()])
	if outcomes[0] == 0 {
		t.Log("no kill landed before the commit ended: the machine was fast")
	}
}

// SIGTERM lets the commit in flight finish, then the process exits cleanly. (Should the
// signal beat the commit to the server, which then refuses the connection, the batch must
// simply not be there.)
func TestSIGTERMFinishesTheCommitInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	proc, base := startProcess(t, dir, "")
	c := login(t, base, "alice-secret")
	id := stage(t, c, "termed", batchSize())
	status := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Do(c.request("POST", "/storage/termed?batch="+id+"&commit=true", "[]"))
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	time.Sleep(150 * time.Millisecond)
	proc.Process.Signal(syscall.SIGTERM)
	got := <-status
	if got != 200 && got != -1 {
		t.Fatalf("the commit in flight at SIGTERM: %d", got)
	}
	if err := proc.Wait(); err != nil {
		t.Fatalf("the server's exit: %v", err)
	}
	_, again := startProcess(t, dir, "")
	n := count(t, login(t, again, "alice-secret"), "termed")
	switch {
	case got == 200 && n != batchSize():
		t.Errorf("the commit was answered 200 at SIGTERM, but %d records are there", n)
	case got == -1 && n != 0:
		t.Errorf("the commit never reached the server, but %d records are there", n)
	case got == -1:
		t.Log("the signal beat the commit to the server")
	}
}
