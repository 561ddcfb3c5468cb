package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/viper"
)

// profileView is one profile as profile ls shows it.
type profileView struct {
	Name     string `json:"name"`
	Server   string `json:"server"`
	User     string `json:"user"`
	LoggedIn bool   `json:"logged_in"`
	Current  bool   `json:"current"`
}

// profiles lists the profiles the config file and secrets.json know, by name.
func (a *app) profiles() ([]profileView, error) {
	all, err := loadSecrets()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for n := range a.v.GetStringMap("profiles") {
		names[n] = true
	}
	for n := range all {
		names[n] = true
	}
	var out []profileView
	for n := range names {
		_, in := all[n]
		out = append(out, profileView{Name: n, Server: a.v.GetString("profiles." + n + ".server"), User: a.v.GetString("profiles." + n + ".user"),
			LoggedIn: in && a.v.GetString("profiles."+n+".server") != "", Current: n == a.profileName()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func newProfileCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Profiles: one per account or server (ls, use, rm)"}
	ls := &cobra.Command{
		Use: "ls", Short: "List the profiles; * marks the current one", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := a.profiles()
			if err != nil {
				return err
			}
			l := a.list(cmd, "", "PROFILE", "SERVER", "USER", "LOGGED IN")
			for _, p := range ps {
				mark := ""
				if p.Current {
					mark = "*"
				}
				l.Add(p, mark, p.Name, orDash(p.Server), orDash(p.User), map[bool]string{true: "yes", false: "no"}[p.LoggedIn])
			}
			return l.Close()
		},
	}
	use := &cobra.Command{
		Use: "use PROFILE", Short: "Make a profile the current one (saved in the config file)", Args: cobra.ExactArgs(1),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := a.profiles()
			if err != nil {
				return err
			}
			known := false
			for _, p := range ps {
				known = known || p.Name == args[0]
			}
			if !known {
				return withCode(exitUsage, fmt.Errorf("no profile %q: `syncctl profile ls` lists them; `syncctl login --profile %s` makes it", args[0], args[0]))
			}
			if err := writeConfig(map[string]any{"profile": args[0]}); err != nil {
				return err
			}
			return a.one(cmd, struct {
				Current string `json:"current"`
			}{args[0]}, say("profile %q is now the current one", args[0]))
		},
	}
	rm := &cobra.Command{
		Use: "rm PROFILE", Short: "Remove a profile: its secrets, its settings and its local copy of the data", Args: cobra.ExactArgs(1),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := confirm(cmd, a.v.GetBool("yes"), fmt.Sprintf("remove profile %q and its local data (the server's copy stays)", name)); err != nil {
				return err
			}
			all, err := loadSecrets()
			if err != nil {
				return err
			}
			delete(all, name)
			if err := saveSecrets(all); err != nil {
				return err
			}
			if err := removeProfileConfig(name); err != nil {
				return err
			}
			var removed []string
			for _, p := range []string{name + ".db", name + ".db-wal", name + ".db-shm", name + ".lock", name + "-offline.db", name + "-offline.db-wal", name + "-offline.db-shm", name + "-blobs", name + "-pulled", name + "-syncs.jsonl"} {
				path := filepath.Join(dataDir(), p)
				if _, err := os.Stat(path); err == nil {
					if err := os.RemoveAll(path); err != nil {
						return err
					}
					removed = append(removed, path)
				}
			}
			return a.one(cmd, struct {
				Removed string   `json:"removed"`
				Files   []string `json:"files"`
			}{name, removed}, say("removed profile %q (%s of local data)", name, plural(len(removed), "file", "files")))
		},
	}
	rm.Flags().Bool("yes", false, "do not ask")
	cmd.AddCommand(ls, use, rm)
	return cmd
}

// writeConfig sets top-level keys of the config file, touching nothing else in it.
func writeConfig(kv map[string]any) error {
	f, path, err := configFile()
	if err != nil {
		return err
	}
	for k, v := range kv {
		f.Set(k, v)
	}
	return f.WriteConfigAs(path)
}

// removeProfileConfig drops a profile's table from the config file.
func removeProfileConfig(name string) error {
	f, path, err := configFile()
	if err != nil {
		return err
	}
	profiles := f.GetStringMap("profiles")
	if _, ok := profiles[name]; !ok {
		return nil
	}
	// viper cannot unset a key: write the file again from what is left.
	all := f.AllSettings()
	if ps, ok := all["profiles"].(map[string]any); ok {
		delete(ps, name)
	}
	if all["profile"] == name {
		delete(all, "profile")
	}
	g := viper.New()
	for k, v := range all {
		g.Set(k, v)
	}
	return g.WriteConfigAs(path)
}

// configFile reads the config file for rewriting (missing is empty).
func configFile() (*viper.Viper, string, error) {
	path := filepath.Join(configDir(), "config.toml")
	if err := os.MkdirAll(configDir(), 0o700); err != nil {
		return nil, "", err
	}
	f := viper.New()
	f.SetConfigFile(path)
	if err := f.ReadInConfig(); err != nil {
		if _, statErr := os.Stat(path); statErr == nil {
			return nil, "", withCode(exitUsage, configError(path, err))
		}
	}
	return f, path, nil
}

func newManCmd(a *app, root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write a man page for every command into DIR (man -l DIR/syncctl.1 reads one)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			header := &doc.GenManHeader{Title: "SYNCCTL", Section: "1", Source: "syncctl " + versionString(), Manual: "syncctl manual"}
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return err
			}
			pages, _ := filepath.Glob(filepath.Join(args[0], "*.1"))
			res := struct {
				Dir   string `json:"dir"`
				Pages int    `json:"pages"`
			}{args[0], len(pages)}
			return a.one(cmd, res, say("wrote %s into %s", plural(len(pages), "man page", "man pages"), args[0]))
		},
	}
}

// Completion of names: profiles from the config, collections and directories from the
// server (asked with a short timeout, so that a tab never hangs), engines from the list.
func (a *app) completeProfiles(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	a.init(cmd) // completion runs no pre-run hook: read the config here
	ps, _ := a.profiles()
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) completeCollections(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	a.init(cmd)
	names := engineNames()
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	if acct, err := a.account(ctx); err == nil {
		defer acct.close()
		if colls, _, err := acct.client.InfoCollections(ctx, 0); err == nil {
			for c := range colls {
				if !strings.HasSuffix(c, ".ops") && !slices.Contains(names, c) {
					names = append(names, c)
				}
			}
		}
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) completeDirs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	a.init(cmd)
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	cmd.SetContext(ctx)
	s, closeAll, err := a.dirSyncer(cmd, nil)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer closeAll()
	dirs, err := s.List(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, d := range dirs {
		names = append(names, d.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
