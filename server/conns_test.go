package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncctl/syncctl/server"
)

// serve runs srv with Serve on a loopback port, as syncctl serve does.
func serve(t *testing.T, opts server.Options) (*server.Server, string) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"alice": "alice-secret"}
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return srv, "http://" + l.Addr().String()
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Idle connections, and connections past the per-address cap, do not stay open.
func TestIdleAndExcessConnectionsAreClosed(t *testing.T) {
	srv, base := serve(t, server.Options{Conns: server.ConnLimits{Stall: 300 * time.Millisecond, PerAddress: 5}})
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close()
	}
	waitFor(t, "the server holds at most 5", 2*time.Second, func() bool { st := srv.Stats().Conns; return st.Open <= 5 && st.Refused >= 15 })
	waitFor(t, "idle connections cut after the stall allowance", 3*time.Second, func() bool { return srv.Stats().Conns.Open == 0 })
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("connection %d still open", i)
		}
	}
	// and the server still serves
	if resp, err := http.Get(base + "/__heartbeat__"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the flood: %v %v", resp, err)
	}
}

// A client that asks for a large collection and stops reading is cut off once its
// writes stall, and its request (with the read snapshot it holds) ends.
func TestAStalledReaderIsCutOff(t *testing.T) {
	srv, base := serve(t, server.Options{Conns: server.ConnLimits{Stall: 500 * time.Millisecond}})
	c := login(t, base, "alice-secret")
	payload := strings.Repeat("p", 100_000)
	for b := range 40 {
		var items []string
		for i := range 20 {
			items = append(items, fmt.Sprintf(`{"id":"r%d-%d","payload":%q}`, b, i, payload))
		}
		c.mustStatus(c.do("POST", "/storage/big", "["+strings.Join(items, ",")+"]"), 200)
	}
	u, _ := url.Parse(c.endpoint + "/storage/big?full=1")
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", u.RequestURI(), u.Host, c.sign("GET", u.String()))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("%q %v", status, err)
	}
	// 80 MB of records; the client reads no more.
	waitFor(t, "the stalled download is cut off", 10*time.Second, func() bool { return srv.Stats().Conns.Open == 0 })
	// The server goes on serving, writes included.
	c.mustStatus(c.do("PUT", "/storage/big/after", `{"payload":"x"}`), 200)
	if n, _ := strconv.Atoi(c.do("GET", "/info/collection_counts", "").header.Get("X-Weave-Records")); n != 1 {
		t.Errorf("collection_counts X-Weave-Records %d", n)
	}
}
