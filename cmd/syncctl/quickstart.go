package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/crypto"
	"github.com/syncctl/syncctl/engine"
	"github.com/syncctl/syncctl/repository/sqlite"
	"github.com/syncctl/syncctl/server"
	"github.com/syncctl/syncctl/storage"
	"github.com/syncctl/syncctl/wbo"
)

func newQuickstartCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "A one-command demo: a server, an account, two devices that sync and converge",
		Long: `Start the embedded server in-process on a temporary directory, create an account, and
simulate two devices (a laptop and a phone), each with its own local database. Both write
bookmarks, one edits the other's, one deletes one; they sync; the command prints what
each device holds at the end and whether they converged. The server only ever sees
ciphertext.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.quickstart(cmd) },
	}
	cmd.Flags().Bool("keep", false, "keep the temporary directory (server data and device databases)")
	return cmd
}

// demoDevice is one simulated device.
type demoDevice struct {
	name    string
	db      *sqlite.DB
	marks   *sqlite.Repository
	session *engine.Session
}

type bookmark struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	BmkURI string `json:"bmkUri"`
}

func (d *demoDevice) put(ctx context.Context, b bookmark) error {
	b.Type = "bookmark"
	p, _ := json.Marshal(b)
	_, err := d.marks.Store(ctx, []wbo.Record{{ID: b.ID, Payload: p}})
	return err
}

// quickstartReport is the --output json form.
type quickstartReport struct {
	Server    string                       `json:"server"`
	Steps     []string                     `json:"steps"`
	Devices   map[string]map[string]string `json:"devices"` // device → id → title ("(deleted)")
	Converged bool                         `json:"converged"`
	DataDir   string                       `json:"data_dir,omitempty"`
}

func (a *app) quickstart(cmd *cobra.Command) error {
	ctx := cmd.Context()
	dir, err := os.MkdirTemp("", "syncctl-quickstart-")
	if err != nil {
		return err
	}
	keep := a.v.GetBool("keep")
	if !keep {
		defer os.RemoveAll(dir)
	}
	var secretBytes, kB [32]byte
	rand.Read(secretBytes[:])
	rand.Read(kB[:])
	secret := hex.EncodeToString(secretBytes[:])
	srv, err := server.New(server.Options{DataDir: filepath.Join(dir, "server"), Users: map[string]string{"demo": secret}, Logger: &a.log})
	if err != nil {
		return err
	}
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go srv.Serve(sctx, l)
	base := "http://" + l.Addr().String()

	syncKey, _ := crypto.SyncKeyBundle(kB[:])
	rep := quickstartReport{Server: base, Devices: map[string]map[string]string{}}
	if keep {
		rep.DataDir = dir
	}
	out := cmd.OutOrStdout()
	human := !a.format.Machine()
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		rep.Steps = append(rep.Steps, line)
		if human {
			fmt.Fprintln(out, line)
		}
	}
	say("embedded server on %s; account \"demo\" created", base)

	newDevice := func(name string) (*demoDevice, error) {
		db, err := sqlite.Open(filepath.Join(dir, name+".db"), nil)
		if err != nil {
			return nil, err
		}
		d := &demoDevice{name: name, db: db, marks: db.Collection("bookmarks")}
		reg := engine.NewRegistry(&engine.Collection{CollectionName: "bookmarks", FormatVersion: 2, Store: d.marks})
		d.session, err = engine.NewSession(engine.Options{
			Tokens:  &storage.TokenServer{URL: base, Bearer: func(context.Context) (string, error) { return secret, nil }},
			SyncKey: syncKey, State: db, Engines: reg, ClientName: name, Logger: &a.log,
		})
		return d, err
	}
	sync := func(d *demoDevice) error {
		res, err := d.session.Sync(ctx)
		if err != nil {
			return fmt.Errorf("%s: sync: %w", d.name, err)
		}
		e := res.Engines["bookmarks"]
		if e.Err != nil {
			return fmt.Errorf("%s: %w", d.name, e.Err)
		}
		extra := ""
		if res.FreshStart {
			extra = " (first sync: set up meta/global and fresh keys)"
		}
		if e.Reconciled > 0 {
			extra += fmt.Sprintf(", %d merged with a local change", e.Reconciled)
		}
		say("%-6s synced: %d in, %d out%s", d.name, e.Applied, e.Uploaded, extra)
		return nil
	}
	laptop, err := newDevice("laptop")
	if err != nil {
		return err
	}
	defer laptop.db.Close()
	phone, err := newDevice("phone")
	if err != nil {
		return err
	}
	defer phone.db.Close()

	for _, b := range []bookmark{
		{ID: "qsMozilla001", Title: "Mozilla", BmkURI: "https://www.mozilla.org/"},
		{ID: "qsSyncDocs01", Title: "Sync docs", BmkURI: "https://mozilla-services.readthedocs.io/"},
		{ID: "qsGoDev00001", Title: "Go", BmkURI: "https://go.dev/"},
	} {
		if err := laptop.put(ctx, b); err != nil {
			return err
		}
	}
	say("laptop wrote 3 bookmarks")
	if err := phone.put(ctx, bookmark{ID: "qsRecipes001", Title: "Recipes", BmkURI: "https://example.org/recipes"}); err != nil {
		return err
	}
	say("phone  wrote 1 bookmark")
	for _, d := range []*demoDevice{laptop, phone} {
		if err := sync(d); err != nil {
			return err
		}
	}
	if err := phone.put(ctx, bookmark{ID: "qsGoDev00001", Title: "The Go programming language", BmkURI: "https://go.dev/"}); err != nil {
		return err
	}
	if _, err := phone.marks.Store(ctx, []wbo.Record{wbo.Tombstone("qsSyncDocs01")}); err != nil {
		return err
	}
	say("phone  renamed \"Go\" and deleted \"Sync docs\"")
	for _, d := range []*demoDevice{phone, laptop} {
		if err := sync(d); err != nil {
			return err
		}
	}
	c := storage.New(storage.Options{Tokens: &storage.TokenServer{URL: base, Bearer: func(context.Context) (string, error) { return secret, nil }}})
	raw, err := c.GetRecord(ctx, "bookmarks", "qsMozilla001")
	if err == nil {
		var enc map[string]string
		if err := json.Unmarshal(raw.Payload, &enc); err != nil {
			return fmt.Errorf("qsMozilla001 on the server is not an encrypted payload: %w", err)
		}
		say("on the server, qsMozilla001 is ciphertext: %.32s… (hmac %.16s…)", enc["ciphertext"], enc["hmac"])
	}

	for _, d := range []*demoDevice{laptop, phone} {
		m := map[string]string{}
		err := d.marks.FetchSince(ctx, 0, func(r wbo.Record) error {
			var b bookmark
			if err := json.Unmarshal(r.Payload, &b); err != nil {
				return fmt.Errorf("%s/%s: %w", d.name, r.ID, err)
			}
			m[r.ID] = b.Title
			if wbo.IsTombstone(r.Payload) {
				m[r.ID] = "(deleted)"
			}
			return nil
		})
		if err != nil {
			return err
		}
		rep.Devices[d.name] = m
	}
	rep.Converged = fmt.Sprint(rep.Devices["laptop"]) == fmt.Sprint(rep.Devices["phone"])
	if !human {
		if err := a.one(cmd, rep, nil); err != nil {
			return err
		}
		if !rep.Converged {
			return fmt.Errorf("the devices did not converge")
		}
		return nil
	}
	printDevices(out, rep.Devices)
	if rep.Converged {
		fmt.Fprintf(out, "converged: both devices hold the same %d records\n", len(rep.Devices["laptop"]))
	} else {
		fmt.Fprintln(out, "NOT converged")
	}
	if keep {
		fmt.Fprintf(out, "kept %s\n", dir)
	}
	if !rep.Converged {
		return fmt.Errorf("the devices did not converge")
	}
	return nil
}

func printDevices(out io.Writer, devices map[string]map[string]string) {
	ids := map[string]bool{}
	for _, m := range devices {
		for id := range m {
			ids[id] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nID\tLAPTOP\tPHONE")
	for _, id := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", id, devices["laptop"][id], devices["phone"][id])
	}
	tw.Flush()
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
