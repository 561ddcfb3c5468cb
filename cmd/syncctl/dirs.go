package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncctl/syncctl/blob"
	"github.com/syncctl/syncctl/dirsync"
)

// blobDir is the profile's local blob store: the content of every file pushed or pulled.
func blobDir(a *app) string { return filepath.Join(dataDir(), a.profileName()+"-blobs") }

// dirSyncer opens the profile's account, blob store and a directory syncer over them.
func (a *app) dirSyncer(cmd *cobra.Command, progress func(dirsync.Progress)) (*dirsync.Syncer, func(), error) {
	acct, keys, err := a.withKeys(cmd)
	if err != nil {
		return nil, nil, err
	}
	if keys == nil {
		acct.close()
		return nil, nil, withCode(exitUsage, errors.New("--raw does not apply to directories"))
	}
	st, err := blob.Open(blobDir(a), blob.IDKey(keys.For("blobs")))
	if err != nil {
		acct.close()
		return nil, nil, err
	}
	s := dirsync.New(dirsync.Options{
		Blob: blob.Options{Store: st, Client: acct.client, Keys: keys, Logger: &a.log,
			DBLimit: a.v.GetInt("db-concurrency"), TransferLimit: a.v.GetInt("transfers")},
		Progress: progress,
	})
	return s, func() { st.Close(); acct.close() }, nil
}

func concurrencyFlags(cmd *cobra.Command) {
	cmd.Flags().Int("transfers", 4, "blobs sent or received at once")
	cmd.Flags().Int("db-concurrency", 1, "local index operations at once")
}

// bar draws "stage  files/total  bytes/total" on standard error when it is a terminal.
type bar struct {
	out  io.Writer
	last time.Time
}

func newBar(cmd *cobra.Command) *bar { return &bar{out: terminal(cmd)} }

func (b *bar) update(p dirsync.Progress) {
	if b.out == nil || time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	const width = 24
	filled := 0
	if p.TotalBytes > 0 {
		filled = int(min(p.Bytes, p.TotalBytes) * width / p.TotalBytes)
	}
	fmt.Fprintf(b.out, "\r%-8s [%-*s] %d/%d files  %s/%s   ", p.Stage, width, strings.Repeat("=", filled), p.Files, p.TotalFiles, size(p.Bytes), size(p.TotalBytes))
}

func (b *bar) done() {
	if b.out != nil && !b.last.IsZero() {
		fmt.Fprint(b.out, "\r\033[K")
	}
}

// size prints bytes for people: 1.5 MB.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newPushCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "push DIR",
		Short: "Send a directory to the server, encrypted (only what changed)",
		Long: `Push the regular files under DIR to the server as encrypted blobs, with an index
of their paths, sizes, modes and modification times, under the name given by --as
(default: DIR's base name). Content the server already has is not sent again, from this
directory or any other; an interrupted push resumes when run again. Symbolic links and
special files are skipped. "syncctl pull NAME DIR" gets it back on any device.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if st, err := os.Stat(root); err != nil || !st.IsDir() {
				return withCode(exitUsage, fmt.Errorf("%s is not a directory", args[0]))
			}
			name := a.v.GetString("as")
			if name == "" {
				name = filepath.Base(root)
			}
			b := newBar(cmd)
			s, closeAll, err := a.dirSyncer(cmd, b.update)
			if err != nil {
				return err
			}
			defer closeAll()
			res, err := s.Push(cmd.Context(), root, name)
			b.done()
			if err != nil {
				return err
			}
			if a.v.GetString("output") == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "pushed %q: %d files, %s; sent %d new blobs (%s), %d files unchanged\n",
				name, res.Files, size(res.Dir.Bytes), res.Uploaded, size(res.Bytes), res.Unchanged)
			if len(res.Skipped) > 0 {
				fmt.Fprintf(out, "skipped %d entries that are not regular files (first: %s)\n", len(res.Skipped), res.Skipped[0])
			}
			return nil
		},
	}
	cmd.Flags().String("as", "", "name on the server (default: the directory's base name)")
	concurrencyFlags(cmd)
	return cmd
}

func newPullCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pull NAME DIR",
		Short: "Write a pushed directory into DIR (only what differs)",
		Long: `Pull the directory pushed as NAME into DIR, creating it if needed. Files already
in DIR with the same size and modification time are left alone; others are written to a
temporary file and renamed into place, so no reader sees half a file. Files DIR has and
NAME does not are left alone. A file whose content fails verification is not written:
the others are, and the command says which failed (exit code 1). An interrupted pull
resumes when run again.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b := newBar(cmd)
			s, closeAll, err := a.dirSyncer(cmd, b.update)
			if err != nil {
				return err
			}
			defer closeAll()
			res, err := s.Pull(cmd.Context(), args[0], args[1])
			b.done()
			var failed *dirsync.FailedError
			if err != nil && !errors.As(err, &failed) {
				return err
			}
			out := cmd.OutOrStdout()
			if a.v.GetString("output") == "json" {
				if werr := writeJSON(out, res); werr != nil {
					return werr
				}
			} else {
				fmt.Fprintf(out, "pulled %q into %s: %d files written, %d unchanged; received %d blobs (%s)\n",
					args[0], args[1], res.Written, res.Unchanged, res.Downloaded, size(res.Bytes))
			}
			if failed != nil {
				for _, f := range failed.Files {
					fmt.Fprintf(cmd.ErrOrStderr(), "FAILED (content does not verify, not written): %s\n", f)
				}
				return err
			}
			return nil
		},
	}
	concurrencyFlags(cmd)
	return cmd
}

func newDirsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "dirs", Short: "Directories pushed to the server"}
	cmd.AddCommand(&cobra.Command{
		Use: "ls", Short: "List the pushed directories", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, closeAll, err := a.dirSyncer(cmd, nil)
			if err != nil {
				return err
			}
			defer closeAll()
			dirs, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			sort.Slice(dirs, func(i, j int) bool { return dirs[i].Name < dirs[j].Name })
			if a.v.GetString("output") == "json" {
				return writeJSON(cmd.OutOrStdout(), dirs)
			}
			t := table(cmd.OutOrStdout(), "NAME", "FILES", "SIZE", "PUSHED", "FROM")
			for _, d := range dirs {
				t.row(d.Name, fmt.Sprint(d.Files), size(d.Bytes), time.UnixMilli(d.Pushed).Format(time.DateTime), d.From)
			}
			return t.flush()
		},
	}, &cobra.Command{
		Use: "rm NAME", Short: "Remove a pushed directory from the server (local files stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, closeAll, err := a.dirSyncer(cmd, nil)
			if err != nil {
				return err
			}
			defer closeAll()
			if err := s.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %q\n", args[0])
			return nil
		},
	})
	return cmd
}
