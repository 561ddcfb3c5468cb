package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/server"
)

// The operator's commands: `syncctl serve users|usage|nodes`, on the data dir (or --db)
// of a server that may be running.

func newServeAdminCmds(a *app) []*cobra.Command {
	users := &cobra.Command{Use: "users", Short: "See and manage the server's accounts"}
	users.AddCommand(
		&cobra.Command{
			Use: "ls", Short: "List accounts: uid, storage used, collections, last write", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.withAdmin(cmd, func(adm *server.Admin) error {
					list, err := adm.Users(cmd.Context())
					if err != nil {
						return err
					}
					l := a.list(cmd, "NAME", "UID", "RECORDS", "SIZE", "COLLECTIONS", "LAST WRITE", "NODE", "STATE")
					for _, u := range list {
						state, last := "active", "never"
						if u.Disabled {
							state = "disabled"
						}
						if u.LastWrite > 0 {
							last = a.when(time.UnixMilli(u.LastWrite))
						}
						node := u.Node
						if node == "" {
							node = "this server"
						}
						l.Add(u, u.Name, fmt.Sprint(u.UID), fmt.Sprint(u.Records), size(u.Bytes), fmt.Sprint(u.Collections), last, node, state)
					}
					return l.Close()
				})
			},
		},
		&cobra.Command{
			Use: "add NAME", Short: "Add a user to --users-file with a new secret (shown once)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return a.addUser(cmd, args[0]) },
		},
		rmUser(a),
		&cobra.Command{
			Use: "disable NAME", Short: "Refuse a user's token requests from now on (their data stays)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.withAdmin(cmd, func(adm *server.Admin) error {
					if err := adm.Disable(cmd.Context(), args[0]); err != nil {
						return err
					}
					res := struct {
						Disabled string `json:"disabled"`
					}{args[0]}
					return a.one(cmd, res, say("disabled %q: the token endpoint refuses them from now on (tokens already handed out last up to an hour)", args[0]))
				})
			},
		},
	)
	usage := &cobra.Command{
		Use: "usage", Short: "What the server stores: users, records, bytes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withAdmin(cmd, func(adm *server.Admin) error {
				u, err := adm.Usage(cmd.Context())
				if err != nil {
					return err
				}
				return a.one(cmd, u, say("%s, %s records, %s (%s expired, purged within the hour)",
					plural(int(u.Users), "user", "users"), fmt.Sprint(u.Records), size(u.Bytes), fmt.Sprint(u.Expired)))
			})
		},
	}
	nodes := &cobra.Command{Use: "nodes", Short: "The storage nodes the token endpoint spreads users over"}
	nodes.AddCommand(
		&cobra.Command{
			Use: "ls", Short: "List storage nodes and their users", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.withAdmin(cmd, func(adm *server.Admin) error {
					list, err := adm.Nodes(cmd.Context())
					if err != nil {
						return err
					}
					l := a.list(cmd, "NODE", "USERS", "STATE")
					for _, n := range list {
						state := "in service"
						if n.Retired {
							state = "retired"
						}
						l.Add(n, n.URL, fmt.Sprint(n.Users), state)
					}
					return l.Close()
				})
			},
		},
		&cobra.Command{
			Use: "add URL", Short: "Put a storage node in service: new users go to it", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.withAdmin(cmd, func(adm *server.Admin) error {
					before, err := adm.Nodes(cmd.Context())
					if err != nil {
						return err
					}
					if err := adm.AddNode(cmd.Context(), args[0]); err != nil {
						return err
					}
					res := struct {
						Added string `json:"added"`
						First bool   `json:"first"`
					}{args[0], len(before) == 0}
					text := say("%s is in service: new users are assigned to it", args[0])
					if res.First {
						// The server stops holding storage itself: say what that does to its users.
						text = say("%s is in service, the first storage node: new users go to it, and this server's own users move to it at their next token request (new uid, their clients resync)", args[0])
					}
					return a.one(cmd, res, text)
				})
			},
		},
		&cobra.Command{
			Use: "retire URL", Short: "Take a storage node out of service: its users move to the others", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.withAdmin(cmd, func(adm *server.Admin) error {
					if err := adm.RetireNode(cmd.Context(), args[0]); err != nil {
						return err
					}
					res := struct {
						Retired string `json:"retired"`
					}{args[0]}
					return a.one(cmd, res, say("%s is retired: its users move to a node in service at their next token request, under a new uid (their clients resync); restart it with --retired, or stop it", args[0]))
				})
			},
		},
	)
	return []*cobra.Command{users, usage, nodes}
}

func rmUser(a *app) *cobra.Command {
	rm := &cobra.Command{
		Use: "rm NAME", Short: "Remove a user: their account and all their data, and their line in --users-file", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.removeUser(cmd, args[0]) },
	}
	rm.Flags().Bool("yes", false, "do not ask")
	return rm
}

// withAdmin opens the server's database (--data-dir, or --db) for an admin command.
func (a *app) withAdmin(cmd *cobra.Command, do func(*server.Admin) error) error {
	dir := a.v.GetString("data-dir")
	if dir == "" {
		dir = filepath.Join(dataDir(), "server")
	}
	adm, err := server.OpenAdmin(dir, a.v.GetString("db"))
	switch {
	case errors.Is(err, server.ErrNoSource):
		return withCode(exitUsage, fmt.Errorf("--data-dir %s: no syncctl serve data there (give the server's --data-dir, or --db)", dir))
	case err != nil && unreachable(err):
		return withCode(exitUnavailable, &hinted{before: "--db: PostgreSQL does not answer: ", err: err})
	case err != nil:
		return err
	}
	defer adm.Close()
	err = do(adm)
	switch {
	case errors.Is(err, server.ErrBadNode):
		return withCode(exitUsage, err)
	}
	return err
}

// addUser appends NAME with a new random secret to --users-file (made 0600 if new).
func (a *app) addUser(cmd *cobra.Command, name string) error {
	path := a.v.GetString("users-file")
	if path == "" {
		return withCode(exitUsage, errors.New("users add needs --users-file, the file syncctl serve reads its users from"))
	}
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		return withCode(exitUsage, fmt.Errorf("%q: a user name has no colon or spaces", name))
	}
	users := map[string]string{}
	if _, err := os.Stat(path); err == nil {
		if users, err = usersFile(path); err != nil {
			return err
		}
	}
	if _, dup := users[name]; dup {
		return withCode(exitError, fmt.Errorf("%q is already in %s", name, path))
	}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	secret := hex.EncodeToString(r[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%s:%s\n", name, secret); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	res := struct {
		Name      string `json:"name"`
		Secret    string `json:"secret"`
		UsersFile string `json:"users_file"`
	}{name, secret, path}
	return a.one(cmd, res, func(out io.Writer) error {
		_, err := fmt.Fprintf(out, "added %q to %s; their secret (shown once, give it to them):\n  %s\nrestart syncctl serve to let them in\n", name, path, secret)
		return err
	})
}

// removeUser deletes the account and its data, and the user's line in --users-file.
func (a *app) removeUser(cmd *cobra.Command, name string) error {
	if err := confirm(cmd, a.v.GetBool("yes"), fmt.Sprintf("remove user %q and all their data", name)); err != nil {
		return err
	}
	inFile := false
	if path := a.v.GetString("users-file"); path != "" {
		var err error
		if inFile, err = dropUserLine(path, name); err != nil {
			return err
		}
	}
	err := a.withAdmin(cmd, func(adm *server.Admin) error { return adm.Remove(cmd.Context(), name) })
	hadData := err == nil
	if errors.Is(err, server.ErrNoSuchUser) && inFile {
		err = nil // configured, but never connected
	}
	if err != nil {
		return err
	}
	res := struct {
		Removed  string `json:"removed"`
		Data     bool   `json:"data_removed"`
		FromFile bool   `json:"removed_from_users_file"`
	}{name, hadData, inFile}
	return a.one(cmd, res, say("removed %q (data removed: %v, users file: %v)", name, hadData, inFile))
}

// dropUserLine rewrites the users file without name's line, atomically, 0600.
func dropUserLine(path, name string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("--users-file: %w", err)
	}
	var kept []string
	found := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if n, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.TrimSpace(n) == name {
			found = true
			continue
		}
		kept = append(kept, line)
	}
	if !found {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(kept, "")), 0o600); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}
