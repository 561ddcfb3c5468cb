package marionette

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func frame(v string) string { return fmt.Sprintf("%d:%s", len(v), v) }

func TestReadMessageReadsFramesAndRefusesGarbage(t *testing.T) {
	t.Parallel()
	r := bufio.NewReader(strings.NewReader(frame(`{"a":1}`) + frame(`[1,2]`)))
	for _, want := range []string{`{"a":1}`, `[1,2]`} {
		got, err := ReadMessage(r)
		if err != nil || string(got) != want {
			t.Fatalf("got %s, %v", got, err)
		}
	}
	for _, bad := range []string{"x:{}", ":{}", "3:abc", "9999999999:{}", "99999999:{}"} {
		if _, err := ReadMessage(bufio.NewReader(strings.NewReader(bad))); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add([]byte(frame(`{"applicationType":"gecko","marionetteProtocol":3}`)))
	f.Add([]byte(frame(`[1,1,null,{"value":null}]`)))
	f.Add([]byte("12:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := ReadMessage(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && !json.Valid(msg) {
			t.Fatalf("accepted %q", msg)
		}
	})
}

// A Marionette server in miniature: hello, then one reply per command, errors included.
func fakeFirefox(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(conn, frame(`{"applicationType":"gecko","marionetteProtocol":3}`))
		r := bufio.NewReader(conn)
		for {
			raw, err := ReadMessage(r)
			if err != nil {
				return
			}
			var cmd []json.RawMessage
			json.Unmarshal(raw, &cmd)
			var name string
			json.Unmarshal(cmd[2], &name)
			switch name {
			case "WebDriver:ExecuteScript":
				var p struct{ Script string }
				json.Unmarshal(cmd[3], &p)
				if p.Script == "throw" {
					fmt.Fprint(conn, frame(fmt.Sprintf(`[1,%s,{"error":"javascript error","message":"boom","stacktrace":""},null]`, cmd[1])))
					continue
				}
				fmt.Fprint(conn, frame(fmt.Sprintf(`[1,%s,null,{"value":{"echo":%q}}]`, cmd[1], p.Script)))
			default:
				fmt.Fprint(conn, frame(fmt.Sprintf(`[1,%s,null,{}]`, cmd[1])))
			}
		}
	}()
	return ln.Addr().String()
}

func TestCommandsRepliesAndErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, fakeFirefox(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.NewSession(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	var out struct{ Echo string }
	if err := c.Execute(ctx, "return 1", nil, &out); err != nil || out.Echo != "return 1" {
		t.Fatalf("%+v, %v", out, err)
	}
	var me *Error
	if err := c.Execute(ctx, "throw", nil, nil); !errors.As(err, &me) || me.Message != "boom" {
		t.Fatalf("a script error: %v", err)
	}
}

func TestDialGivesUpWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Dial(ctx, addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}
