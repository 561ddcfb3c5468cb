// Package marionette is a small client of Firefox's Marionette remote protocol, enough
// to drive a real Firefox from tests: start a session, switch to the chrome (system)
// context, and run privileged scripts whose (awaited) results come back as JSON.
//
// The protocol: TCP; every message is "<decimal length>:<json>". The server first sends
// a hello object. A command is [0, id, "Name", {params}]; its reply [1, id, error, result].
package marionette

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// maxMessage bounds one message (a script's result included).
const maxMessage = 64 << 20

// ErrProtocol: the peer sent something that is not a Marionette message.
var ErrProtocol = errors.New("marionette: protocol error")

// Error is an error Firefox answered a command with.
type Error struct {
	Code       string `json:"error"`
	Message    string `json:"message"`
	Stacktrace string `json:"stacktrace"`
}

func (e *Error) Error() string { return "marionette: " + e.Code + ": " + e.Message }

// Client is one connection to a Marionette server. It is safe for concurrent use; the
// commands run one at a time.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	next int
}

// Dial connects to addr, retrying until Firefox listens or ctx ends (Firefox opens the
// port some seconds after it starts), and reads the server's hello.
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c := &Client{conn: conn, r: bufio.NewReader(conn)}
			if stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) }); stop != nil {
				defer stop()
			}
			if _, err := ReadMessage(c.r); err != nil {
				conn.Close()
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				// Firefox accepted before it was ready; try again.
			} else {
				conn.SetDeadline(time.Time{})
				return c, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("marionette: %s: %w", addr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// ReadMessage reads one "<length>:<json>" message.
func ReadMessage(r *bufio.Reader) (json.RawMessage, error) {
	n := 0
	for digits := 0; ; digits++ {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == ':' && digits > 0 {
			break
		}
		if b < '0' || b > '9' || digits >= 9 {
			return nil, fmt.Errorf("%w: bad length prefix", ErrProtocol)
		}
		n = n*10 + int(b-'0')
	}
	if n > maxMessage {
		return nil, fmt.Errorf("%w: a %d-byte message", ErrProtocol, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if !json.Valid(buf) {
		return nil, fmt.Errorf("%w: not JSON", ErrProtocol)
	}
	return buf, nil
}

// Call sends a command and decodes its result into out (which may be nil).
func (c *Client) Call(ctx context.Context, name string, params any, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	c.next++
	id := c.next
	msg, err := json.Marshal([]any{0, id, name, params})
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	} else {
		c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write(append([]byte(strconv.Itoa(len(msg))+":"), msg...)); err != nil {
		return c.ctxErr(ctx, err)
	}
	for {
		raw, err := ReadMessage(c.r)
		if err != nil {
			return c.ctxErr(ctx, err)
		}
		var reply []json.RawMessage
		if err := json.Unmarshal(raw, &reply); err != nil || len(reply) != 4 {
			return fmt.Errorf("%w: reply %.200s", ErrProtocol, raw)
		}
		var kind, got int
		if json.Unmarshal(reply[0], &kind) != nil || json.Unmarshal(reply[1], &got) != nil || kind != 1 {
			return fmt.Errorf("%w: reply %.200s", ErrProtocol, raw)
		}
		if got != id {
			continue // the late answer to a command that timed out
		}
		if string(reply[2]) != "null" {
			e := &Error{}
			if err := json.Unmarshal(reply[2], e); err != nil {
				return fmt.Errorf("%w: error %.200s", ErrProtocol, reply[2])
			}
			return e
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(reply[3], out)
	}
}

func (c *Client) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// NewSession starts a WebDriver session, switches to the chrome context (which needs
// Firefox started with -remote-allow-system-access) and sets the script timeout.
func (c *Client) NewSession(ctx context.Context, scriptTimeout time.Duration) error {
	if err := c.Call(ctx, "WebDriver:NewSession", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{}}}, nil); err != nil {
		return err
	}
	if err := c.Call(ctx, "Marionette:SetContext", map[string]string{"value": "chrome"}, nil); err != nil {
		return err
	}
	return c.Call(ctx, "WebDriver:SetTimeouts", map[string]int64{"script": scriptTimeout.Milliseconds()}, nil)
}

// Execute runs a script with system privileges; a returned Promise is awaited and its
// value decoded into out.
func (c *Client) Execute(ctx context.Context, script string, args []any, out any) error {
	if args == nil {
		args = []any{}
	}
	var res struct {
		Value json.RawMessage `json:"value"`
	}
	if err := c.Call(ctx, "WebDriver:ExecuteScript", map[string]any{"script": script, "args": args, "sandbox": "system"}, &res); err != nil {
		return err
	}
	if out == nil || len(res.Value) == 0 {
		return nil
	}
	return json.Unmarshal(res.Value, out)
}

// Quit asks Firefox to quit at once.
func (c *Client) Quit(ctx context.Context) error {
	err := c.Call(ctx, "Marionette:Quit", map[string]any{"flags": []string{"eForceQuit"}}, nil)
	c.Close()
	if errors.Is(err, io.EOF) {
		return nil // Firefox closed the connection as it went
	}
	return err
}
