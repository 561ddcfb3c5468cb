package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/syncctl/syncctl/middleware"
	"github.com/syncctl/syncctl/repository"
	"github.com/syncctl/syncctl/repository/remote"
	"github.com/syncctl/syncctl/wbo"
)

// ClientsCollection is the collection of device records.
const ClientsCollection = "clients"

const (
	clientsVersion = 1
	clientsTTL     = 15_552_000 // 180 days, as Firefox and application-services
)

// ClientRecord is one device in the clients collection. Members this client does not
// know are kept, so rewriting another device's record (to send it a command) loses
// nothing of it.
type ClientRecord struct {
	ID        string                     `json:"id"`
	Name      string                     `json:"name"`
	Type      string                     `json:"type"`
	Commands  []Command                  `json:"commands"`
	Version   string                     `json:"version,omitempty"`
	Protocols []string                   `json:"protocols,omitempty"`
	Other     map[string]json.RawMessage `json:"-"`
}

// Command is a command for a client: wipeAll, wipeEngine(engine), resetAll,
// resetEngine(engine), logout, displayURI(uri, senderID, title).
type Command struct {
	Command string   `json:"command"`
	Args    []string `json:"args"`
	FlowID  string   `json:"flowID,omitempty"`
}

func (c Command) same(o Command) bool { return c.Command == o.Command && slices.Equal(c.Args, o.Args) }

// arity is the number of arguments Firefox requires of each command.
var arity = map[string]int{"wipeAll": 0, "wipeEngine": 1, "resetAll": 0, "resetEngine": 1, "logout": 0, "displayURI": 3}

func parseClient(p []byte) (ClientRecord, error) {
	var c ClientRecord
	if err := json.Unmarshal(p, &c); err != nil {
		return c, err
	}
	json.Unmarshal(p, &c.Other)
	for _, k := range []string{"id", "name", "type", "commands", "version", "protocols"} {
		delete(c.Other, k)
	}
	return c, nil
}

func (c ClientRecord) record() wbo.Record {
	out := map[string]any{}
	for k, v := range c.Other {
		out[k] = v
	}
	cmds := c.Commands
	if cmds == nil {
		cmds = []Command{}
	}
	out["id"], out["name"], out["type"], out["commands"] = c.ID, c.Name, c.Type, cmds
	if c.Version != "" {
		out["version"] = c.Version
	}
	if c.Protocols != nil {
		out["protocols"] = c.Protocols
	}
	p, _ := json.Marshal(out) // plain values: cannot fail
	return wbo.Record{ID: c.ID, Payload: p, TTL: wbo.Int(clientsTTL)}
}

// ClientID is this device's id in the clients collection, made on first use.
func (s *Session) ClientID(ctx context.Context) (string, error) {
	if id := s.state(ctx, keyClientID); id != "" {
		return id, nil
	}
	id := wbo.NewGUID(nil)
	return id, s.setState(ctx, map[string]string{keyClientID: id})
}

type outgoingCommand struct {
	Target  string  `json:"target"`
	Command Command `json:"command"`
}

// SendCommand queues a command for another device (or "*" for all others); the next
// sync delivers it.
func (s *Session) SendCommand(ctx context.Context, target, command string, args ...string) error {
	if n, ok := arity[command]; !ok || n != len(args) {
		return fmt.Errorf("engine: %s takes %d arguments, got %d", command, arity[command], len(args))
	}
	var box []outgoingCommand
	json.Unmarshal([]byte(s.state(ctx, keyOutbox)), &box)
	box = append(box, outgoingCommand{Target: target, Command: Command{Command: command, Args: args, FlowID: wbo.NewGUID(nil)}})
	b, _ := json.Marshal(box)
	return s.setState(ctx, map[string]string{keyOutbox: string(b)})
}

// syncClients fetches every client record (always all: Firefox resets this engine's
// progress at every start), delivers queued commands, runs the commands sent to us, and
// uploads our own record with them cleared.
func (s *Session) syncClients(ctx context.Context, r *run) (string, error) {
	me, err := s.ClientID(ctx)
	if err != nil {
		return "", err
	}
	repo := middleware.NewCrypto(remote.New(remote.Options{Client: s.client, Collection: ClientsCollection}), ClientsCollection, r.keys, nil)
	clients := map[string]ClientRecord{}
	err = repo.FetchSince(ctx, 0, func(rec wbo.Record) error {
		if c, err := parseClient(rec.Payload); err == nil && !wbo.IsTombstone(rec.Payload) {
			clients[c.ID] = c
		}
		return nil
	})
	if failed, ok := repository.AsPartial(err); ok {
		for _, f := range failed {
			s.log.Warn().Str("id", f.ID).Err(f.Err).Msg("unreadable client record skipped")
		}
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("clients: %w", err)
	}

	// Commands for others: append to their records, once each.
	var box []outgoingCommand
	json.Unmarshal([]byte(s.state(ctx, keyOutbox)), &box)
	changed := map[string]bool{}
	for _, oc := range box {
		for id, c := range clients {
			if id == me || (oc.Target != "*" && oc.Target != id) {
				continue
			}
			if !slices.ContainsFunc(c.Commands, oc.Command.same) {
				c.Commands = append(c.Commands, oc.Command)
				clients[id] = c
				changed[id] = true
			}
		}
	}

	// Commands for us.
	own := clients[me]
	var keep []Command
	loggedOut := false
	for _, cmd := range own.Commands {
		n, known := arity[cmd.Command]
		switch {
		case !known:
			keep = append(keep, cmd) // a newer client's command: not ours to drop
			continue
		case n != len(cmd.Args):
			s.log.Warn().Str("command", cmd.Command).Msg("malformed command dropped")
			continue
		}
		if cmd.Command == "logout" {
			loggedOut = true
			continue
		}
		if err := s.runCommand(ctx, cmd); err != nil {
			return "", err
		}
	}
	own = ClientRecord{ID: me, Name: s.opts.ClientName, Type: s.opts.ClientType, Commands: keep,
		Version: "syncctl", Protocols: []string{"1.5"}, Other: own.Other}
	upload := []wbo.Record{own.record()}
	for id := range changed {
		upload = append(upload, clients[id].record())
	}
	res, err := repo.Store(ctx, upload)
	if err != nil {
		return "", fmt.Errorf("clients: upload: %w", err)
	}
	for id, e := range res.Failed {
		s.log.Warn().Str("id", id).Err(e).Msg("client record not uploaded")
	}
	if err := s.setState(ctx, map[string]string{keyOutbox: ""}); err != nil {
		return "", err
	}
	for id, c := range clients {
		if id != me {
			r.res.Clients = append(r.res.Clients, c)
		}
	}
	slices.SortFunc(r.res.Clients, func(a, b ClientRecord) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	if loggedOut {
		return "", s.setStateThen(ctx, map[string]string{keyLoggedOut: "1"}, ErrLoggedOut)
	}
	return StageEngines, nil
}

func (s *Session) setStateThen(ctx context.Context, kv map[string]string, err error) error {
	if serr := s.setState(ctx, kv); serr != nil {
		return serr
	}
	return err
}

// runCommand executes one command sent to this client.
func (s *Session) runCommand(ctx context.Context, cmd Command) error {
	s.log.Info().Str("command", cmd.Command).Strs("args", cmd.Args).Msg("running a command from another client")
	switch cmd.Command {
	case "wipeAll", "resetAll":
		for _, name := range s.opts.Engines.Names() {
			e, _ := s.opts.Engines.Get(name)
			if err := s.resetEngine(ctx, e, cmd.Command == "wipeAll"); err != nil {
				return err
			}
		}
	case "wipeEngine", "resetEngine":
		if e, ok := s.opts.Engines.Get(cmd.Args[0]); ok {
			return s.resetEngine(ctx, e, cmd.Command == "wipeEngine")
		}
	case "displayURI":
		if s.opts.OnDisplayURI != nil {
			s.opts.OnDisplayURI(cmd.Args[0], cmd.Args[1], cmd.Args[2])
		}
	}
	return nil
}

// LoggedOut reports whether another client logged this one out; LogIn clears it.
func (s *Session) LoggedOut(ctx context.Context) bool { return s.state(ctx, keyLoggedOut) == "1" }

// LogIn clears a logout, so syncing may resume.
func (s *Session) LogIn(ctx context.Context) error {
	return s.setState(ctx, map[string]string{keyLoggedOut: ""})
}
