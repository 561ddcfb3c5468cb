package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/storage"

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
	if err := json.Unmarshal(p, &c.Other); err != nil {
		return c, err
	}
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
	if err := s.stateJSON(ctx, keyOutbox, &box); err != nil {
		// Overwriting it would drop the commands queued before.
		return err
	}
	box = append(box, outgoingCommand{Target: target, Command: Command{Command: command, Args: args, FlowID: wbo.NewGUID(nil)}})
	b, _ := json.Marshal(box)
	return s.setState(ctx, map[string]string{keyOutbox: string(b)})
}

// clientsRefresh is how long our own client record may go without an upload, so that
// it never expires on the server while this device is in use (Firefox: one week).
const clientsRefresh = 7 * 24 * time.Hour

// clientsRetries bounds how often the clients stage starts over after its upload met
// another device's write (412) in one sync.
const clientsRetries = 2

func (s *Session) clientsRepo(keys *crypto.Keys) *middleware.Crypto {
	return middleware.NewCrypto(remote.New(remote.Options{Client: s.client, Collection: ClientsCollection}), ClientsCollection, keys, nil)
}

// syncClients runs the clients engine: it fetches every client record, delivers queued
// commands, runs the commands sent to us, and uploads our own record with them cleared.
// With nothing new on the server and nothing to send, it asks the server nothing. Its
// failure, as any engine's, does not stop the other engines (only a 401, a node move or a
// backoff does), unless our record has never reached the server; an upload that met
// another device's write starts the stage over.
func (s *Session) syncClients(ctx context.Context, r *run) (string, error) {
	if s.clientsIdle(ctx, r) {
		if err := s.listClients(ctx, r); err != nil {
			s.log.Warn().Err(err).Msg("reading the cached client list")
		}
		return StageEngines, nil
	}
	var err error
	registered := false
	for attempt := 0; attempt <= clientsRetries; attempt++ {
		var loggedOut bool
		loggedOut, registered, err = s.syncClientsOnce(ctx, r)
		if err == nil && loggedOut {
			return "", s.setStateThen(ctx, map[string]string{keyLoggedOut: "1"}, ErrLoggedOut)
		}
		if !errors.Is(err, storage.ErrConflict) {
			break
		}
		s.log.Info().Msg("clients upload met another device's write; fetching again")
	}
	if err != nil {
		r.res.Engines[ClientsCollection] = EngineResult{Err: err}
		if stopsTheSync(err) {
			return "", fmt.Errorf("clients: %w", err)
		}
		if !registered {
			// A device syncs data only once the others can address it: a wipe sent
			// while it has no client record could never reach it.
			for _, name := range s.opts.Engines.Names() {
				r.res.Engines[name] = EngineResult{Skipped: "waiting for this device's client record to reach the server"}
			}
			s.log.Warn().Err(err).Msg("this device's client record is not on the server yet; the engines wait for the next sync")
			return StageUploadMeta, nil
		}
		s.log.Warn().Err(err).Msg("clients engine failed; going on with the others")
	}
	return StageEngines, nil
}

// clientsIdle reports whether the clients stage has nothing to do: the collection has
// not moved since our last visit, nothing waits in the outbox, and our own record is
// neither changed nor due for a refresh.
func (s *Session) clientsIdle(ctx context.Context, r *run) bool {
	ts, ok := r.colls[ClientsCollection]
	if !ok || s.state(ctx, keyClientsTS) != ts.String() || s.state(ctx, keyOutbox) != "" {
		return false
	}
	me, err := s.ClientID(ctx)
	return err == nil && s.ownRecordCurrent(ctx, me)
}

// ownRecordCurrent reports whether our plain record (no commands, no members of others)
// is what we last uploaded, and recently enough not to need a refresh.
func (s *Session) ownRecordCurrent(ctx context.Context, me string) bool {
	if string(s.ownRecord(me, nil, nil).record().Payload) != s.state(ctx, keyOwnRecord) {
		return false
	}
	at, err := time.Parse(time.RFC3339, s.state(ctx, keyOwnAt))
	return err == nil && s.opts.Now().Sub(at) < clientsRefresh
}

// ownRecord is this device's client record, keeping the commands still to keep and the
// members other clients added.
func (s *Session) ownRecord(me string, keep []Command, other map[string]json.RawMessage) ClientRecord {
	return ClientRecord{ID: me, Name: s.opts.ClientName, Type: s.opts.ClientType, Commands: keep,
		Version: "syncctl", Protocols: []string{"1.5"}, Other: other}
}

// syncClientsOnce is one pass of the clients stage; loggedOut reports a logout command,
// registered whether our record is on the server (before or after the pass).
func (s *Session) syncClientsOnce(ctx context.Context, r *run) (loggedOut, registered bool, err error) {
	me, err := s.ClientID(ctx)
	if err != nil {
		return false, false, err
	}
	repo := s.clientsRepo(r.keys)
	clients, err := s.fetchClients(ctx, repo)
	if err != nil {
		return false, false, err
	}
	_, registered = clients[me]
	changed := s.deliverOutbox(ctx, clients, me)

	// Commands for us.
	theirs := clients[me]
	done := s.doneCommands(ctx)
	var keep []Command
	for _, cmd := range theirs.Commands {
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
		if done[cmd.FlowID] {
			continue // run already, by a pass whose upload did not go through
		}
		if err := s.runCommand(ctx, cmd); err != nil {
			return false, registered, err
		}
		if err := s.rememberCommand(ctx, cmd, done); err != nil {
			return false, registered, err
		}
	}
	own := s.ownRecord(me, keep, theirs.Other)
	var upload []wbo.Record
	// Our record goes up only when it says something new (or is due for a refresh):
	// uploading it every time would move the collection, and every other device would
	// fetch it again at its next sync, and upload its own, and so on.
	if !registered || len(theirs.Commands) > 0 || len(keep) > 0 || len(theirs.Other) > 0 || !s.ownRecordCurrent(ctx, me) {
		upload = append(upload, own.record())
	}
	for id := range changed {
		upload = append(upload, clients[id].record())
	}
	s.log.Debug().Bool("registered", registered).Int("commands", len(theirs.Commands)).Int("uploads", len(upload)).Msg("clients")
	kv := map[string]string{keyOutbox: ""}
	if len(upload) > 0 {
		res, err := repo.Store(ctx, upload)
		if err != nil {
			return false, registered, fmt.Errorf("upload: %w", err)
		}
		if _, failed := res.Failed[me]; !failed && slices.ContainsFunc(res.Stored, func(id string) bool { return id == me }) {
			registered = true
		}
		for id, e := range res.Failed {
			s.log.Warn().Str("id", id).Err(e).Msg("client record not uploaded")
		}
		kv[keyOwnRecord] = string(s.ownRecord(me, nil, nil).record().Payload)
		kv[keyOwnAt] = s.opts.Now().UTC().Format(time.RFC3339)
		if _, failed := res.Failed[me]; failed || len(keep) > 0 || len(theirs.Other) > 0 {
			kv[keyOwnRecord] = "" // not the plain record: look again next time
		}
	}
	if ts, ok := repo.Inner().(*remote.Repository).LastModified(); ok {
		kv[keyClientsTS] = ts.String() // the fetch's, or our upload's
	}
	if err := s.setState(ctx, kv); err != nil {
		return false, registered, err
	}
	delete(clients, me)
	return loggedOut, registered, s.saveClients(ctx, r, clients)
}

// fetchClients reads every client record; unreadable ones are skipped.
func (s *Session) fetchClients(ctx context.Context, repo *middleware.Crypto) (map[string]ClientRecord, error) {
	clients := map[string]ClientRecord{}
	err := repo.FetchSince(ctx, 0, func(rec wbo.Record) error {
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
		return nil, fmt.Errorf("clients: %w", err)
	}
	return clients, nil
}

// deliverOutbox appends the queued commands to the records of the devices they are for,
// once each, and returns the ids of the records it changed.
func (s *Session) deliverOutbox(ctx context.Context, clients map[string]ClientRecord, me string) map[string]bool {
	var box []outgoingCommand
	if err := s.stateJSON(ctx, keyOutbox, &box); err != nil {
		// Kept as it is (SendCommand reports it); nothing to deliver meanwhile.
		s.log.Warn().Err(err).Msg("the outbox of commands is unreadable")
	}
	changed := map[string]bool{}
	for _, oc := range box {
		for id, c := range clients {
			if id == me || (oc.Target != "*" && oc.Target != id) {
				continue
			}
			// An equal command already waiting is the same request (Firefox dedupes
			// so too), but it takes the new flow id: the device may have run the old
			// one without being able to clear it, and must run this one.
			switch i := slices.IndexFunc(c.Commands, oc.Command.same); {
			case i < 0:
				c.Commands = append(c.Commands, oc.Command)
			case c.Commands[i].FlowID != oc.Command.FlowID:
				c.Commands = slices.Clone(c.Commands)
				c.Commands[i].FlowID = oc.Command.FlowID
			default:
				continue
			}
			clients[id] = c
			changed[id] = true
		}
	}
	return changed
}

// keptClients returns every client record, ours included, with the outbox delivered, for
// a fresh start to write back under the new keys: the devices stay addressable, and the
// commands waiting for them (a wipe above all) outlive the wipe. Without readable keys
// there is nothing to keep.
func (s *Session) keptClients(ctx context.Context, r *run) ([]wbo.Record, error) {
	if r.keys == nil {
		return nil, nil
	}
	me, err := s.ClientID(ctx)
	if err != nil {
		return nil, err
	}
	clients, err := s.fetchClients(ctx, s.clientsRepo(r.keys))
	if err != nil {
		return nil, err
	}
	s.deliverOutbox(ctx, clients, me)
	out := make([]wbo.Record, 0, len(clients))
	for _, c := range clients {
		out = append(out, c.record())
	}
	return out, nil
}

// saveClients keeps the other devices' records for the result and for syncs that do not
// fetch them again.
func (s *Session) saveClients(ctx context.Context, r *run, others map[string]ClientRecord) error {
	list := make([]ClientRecord, 0, len(others))
	for _, c := range others {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b ClientRecord) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
	r.res.Clients = list
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return s.setState(ctx, map[string]string{keyClientList: string(b)})
}

// listClients fills the result's device list from the last fetch.
func (s *Session) listClients(ctx context.Context, r *run) error {
	v := s.state(ctx, keyClientList)
	if v == "" {
		return nil
	}
	return json.Unmarshal([]byte(v), &r.res.Clients)
}

// doneCommandsKept bounds the memory of commands already run.
const doneCommandsKept = 100

// doneCommands are the flow ids of the commands this device ran last.
func (s *Session) doneCommands(ctx context.Context) map[string]bool {
	var ids []string
	if err := s.stateJSON(ctx, keyDoneCommands, &ids); err != nil {
		// Only a memory against running a command twice: lost, it is rebuilt.
		s.log.Warn().Err(err).Msg("the list of commands already run is unreadable")
	}
	done := make(map[string]bool, len(ids))
	for _, id := range ids {
		done[id] = true
	}
	return done
}

// rememberCommand keeps a command's flow id once it has run, so that a command seen again
// (our record's upload failed, so the server still holds it) does not run twice: a wipe
// run twice would also wipe what was written between.
func (s *Session) rememberCommand(ctx context.Context, cmd Command, done map[string]bool) error {
	if cmd.FlowID == "" {
		return nil
	}
	var ids []string
	if err := s.stateJSON(ctx, keyDoneCommands, &ids); err != nil {
		s.log.Warn().Err(err).Msg("the list of commands already run is unreadable; starting it again")
		ids = nil
	}
	ids = append(ids, cmd.FlowID)
	if len(ids) > doneCommandsKept {
		ids = ids[len(ids)-doneCommandsKept:]
	}
	done[cmd.FlowID] = true
	b, _ := json.Marshal(ids)
	return s.setState(ctx, map[string]string{keyDoneCommands: string(b)})
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
