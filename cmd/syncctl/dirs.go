package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dustin/go-humanize"
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
	st, err := blob.Open(blobDir(a), keys.For("blobs"))
	if err != nil {
		acct.close()
		return nil, nil, err
	}
	s := dirsync.New(dirsync.Options{
		Blob: blob.Options{Store: st, Client: acct.client, Keys: keys, Logger: &a.log,
			DBLimit: a.v.GetInt("db-concurrency"), TransferLimit: a.v.GetInt("transfers")},
		Progress:  progress,
		PulledDir: filepath.Join(dataDir(), a.profileName()+"-pulled"),
	})
	return s, func() { st.Close(); acct.close() }, nil
}

func concurrencyFlags(cmd *cobra.Command) {
	cmd.Flags().Int("transfers", 8, "blobs sent or received at once")
	cmd.Flags().Int("db-concurrency", 1, "local index operations at once")
}

// bar shows a push's or pull's stage on standard error when it is a terminal.
type bar struct{ p *progress }

func newBar(cmd *cobra.Command) *bar { return &bar{newByteProgress(cmd)} }

func (b *bar) update(p dirsync.Progress) {
	label := fmt.Sprintf("%s %d/%d files", p.Stage, p.Files, p.TotalFiles)
	if p.TotalFiles == 0 || b.p.narrow() {
		label = p.Stage
	}
	b.p.set(p.Stage, p.Bytes, p.TotalBytes)
	if b.p.bar != nil {
		b.p.bar.Describe(label)
	}
}

func (b *bar) done() { b.p.done() }

// size prints bytes for people, in SI units as du --si and most file managers do:
// 2.0 MB, 352 kB.
func size(n int64) string { return humanize.Bytes(uint64(max(n, 0))) }

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
			dry := a.v.GetBool("dry-run")
			res, err := s.Push(cmd.Context(), root, name, dirsync.PushOptions{DryRun: dry, Checksum: a.v.GetBool("checksum")})
			b.done()
			if err != nil {
				return err
			}
			return a.one(cmd, res, func(out io.Writer) error {
				if dry {
					fmt.Fprintf(out, "dry run: pushing %q would send %s (%s unchanged); nothing was sent\n",
						name, plural(len(res.WouldSend), "file", "files"), plural(res.Unchanged, "file", "files"))
					for _, f := range res.WouldSend {
						fmt.Fprintf(out, "  %s\n", f)
					}
				} else {
					fmt.Fprintf(out, "pushed %q: %s, %s; sent %s (%s), %s unchanged\n",
						name, plural(res.Files, "file", "files"), size(res.Dir.Bytes), plural(res.Uploaded, "new blob", "new blobs"), size(res.Bytes), plural(res.Unchanged, "file", "files"))
				}
				if len(res.Skipped) > 0 {
					fmt.Fprintf(out, "skipped %d entries that are not regular files (first: %s)\n", len(res.Skipped), res.Skipped[0])
				}
				return nil
			})
		},
	}
	cmd.Flags().String("as", "", "name on the server (default: the directory's base name)")
	cmd.Flags().Bool("dry-run", false, "send nothing: list the files whose content the server lacks")
	cmd.Flags().Bool("checksum", false, "read and hash every file (by default a file whose size, times and inode are unchanged since the last push is not read)")
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
NAME does not are left alone. A file changed in DIR since the last pull wrote it (or
there before, with other content) is not overwritten: the pull writes nothing and lists
them, and --force overwrites them. --dry-run lists what a pull would write. --hardlink makes identical files one
file; --delete removes what NAME does not list. A file whose content fails verification is not written:
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
			dry := a.v.GetBool("dry-run")
			res, err := s.Pull(cmd.Context(), args[0], args[1], dirsync.PullOptions{DryRun: dry, Force: a.v.GetBool("force"),
				Hardlink: a.v.GetBool("hardlink"), Delete: a.v.GetBool("delete")})
			b.done()
			if errors.Is(err, dirsync.ErrLocalEdits) {
				for _, f := range res.Edited {
					fmt.Fprintf(cmd.ErrOrStderr(), "changed here since the last pull: %s\n", f)
				}
				return fmt.Errorf("%s in %s changed since the last pull: nothing was written (--force overwrites them; --dry-run lists what would be written)",
					plural(len(res.Edited), "file", "files"), args[1])
			}
			var failed *dirsync.FailedError
			if err != nil && !errors.As(err, &failed) {
				return err
			}
			werr := a.one(cmd, res, func(out io.Writer) error {
				if dry {
					fmt.Fprintf(out, "dry run: pulling %q would write %s into %s (%s unchanged); nothing was written\n",
						args[0], plural(len(res.WouldWrite), "file", "files"), args[1], plural(res.Unchanged, "file", "files"))
					for _, f := range res.WouldWrite {
						fmt.Fprintf(out, "  %s\n", f)
					}
					if len(res.Deleted) > 0 {
						fmt.Fprintf(out, "and would delete %s the directory does not list:\n", plural(len(res.Deleted), "file", "files"))
						for _, f := range res.Deleted {
							fmt.Fprintf(out, "  %s\n", f)
						}
					}
					return nil
				}
				_, err := fmt.Fprintf(out, "pulled %q into %s: %s written, %s unchanged; received %s (%s)\n",
					args[0], args[1], plural(res.Written, "file", "files"), plural(res.Unchanged, "file", "files"), plural(res.Downloaded, "blob", "blobs"), size(res.Bytes))
				if err == nil && res.Linked > 0 {
					_, err = fmt.Fprintf(out, "%s hard-linked to identical ones\n", plural(res.Linked, "file", "files"))
				}
				if err == nil && len(res.Deleted) > 0 {
					_, err = fmt.Fprintf(out, "deleted %s the directory does not list\n", plural(len(res.Deleted), "file", "files"))
				}
				return err
			})
			if werr != nil {
				return werr
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
	cmd.Flags().Bool("force", false, "overwrite files changed in DIR since the last pull")
	cmd.Flags().Bool("dry-run", false, "write nothing: list the files a pull would write (and, with --delete, remove)")
	cmd.Flags().Bool("hardlink", false, "make files of identical content, mode and mtime hard links to one file")
	cmd.Flags().Bool("delete", false, "remove files in DIR the pushed directory does not list (a mirror; try --dry-run first)")
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
			l := a.list(cmd, "NAME", "FILES", "SIZE", "PUSHED", "FROM")
			for _, d := range dirs {
				l.Add(d, d.Name, fmt.Sprint(d.Files), size(d.Bytes), a.when(time.UnixMilli(d.Pushed)), d.From)
			}
			if err := l.Close(); err != nil || a.format.Machine() {
				return err
			}
			used, err := s.ServerUsage(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "on the server: %s of blobs (`syncctl dirs gc` removes the ones no directory uses)\n", size(used))
			return nil
		},
	})
	gc := &cobra.Command{
		Use: "gc", Short: "Remove from the server the blobs no pushed directory uses", Args: cobra.NoArgs,
		Long: `Remove from the server every blob that no pushed directory uses (what a removed or
re-pushed directory left behind), except those written within --grace. It reads every
directory's index (only a device with the keys can), and does not run while another
device pushes (nor does a push run while it does): the one that starts second gives way
with exit code 4, and running it again later works.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, closeAll, err := a.dirSyncer(cmd, nil)
			if err != nil {
				return err
			}
			defer closeAll()
			dry := a.v.GetBool("dry-run")
			res, err := s.GC(cmd.Context(), dirsync.GCOptions{DryRun: dry, Grace: a.v.GetDuration("grace")})
			if errors.Is(err, dirsync.ErrBusy) {
				return withCode(exitUnavailable, err)
			}
			if err != nil {
				return err
			}
			return a.one(cmd, res, func(out io.Writer) error {
				verb := "removed"
				if dry {
					verb = "dry run: would remove"
				}
				_, err := fmt.Fprintf(out, "%s %s (%s); %s use %s; %s younger than %s kept\n",
					verb, plural(res.Removed, "unused blob", "unused blobs"), plural(res.Records, "record", "records"),
					plural(res.Dirs, "directory", "directories"), plural(res.Referenced, "blob", "blobs"),
					plural(res.Young, "unused blob", "unused blobs"), a.v.GetDuration("grace"))
				return err
			})
		},
	}
	gc.Flags().Bool("dry-run", false, "remove nothing: count what would go")
	gc.Flags().Duration("grace", time.Hour, "keep unused blobs written this recently")
	cmd.AddCommand(gc)
	rm := &cobra.Command{
		Use: "rm NAME", Short: "Remove a pushed directory from the server (local files stay)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := confirm(cmd, a.v.GetBool("yes"), fmt.Sprintf("remove the directory %q from the server (every device loses it)", args[0])); err != nil {
				return err
			}
			s, closeAll, err := a.dirSyncer(cmd, nil)
			if err != nil {
				return err
			}
			defer closeAll()
			if err := s.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			res := struct {
				Removed string `json:"removed"`
			}{args[0]}
			return a.one(cmd, res, say("removed %q from the server", args[0]))
		},
	}
	rm.Flags().Bool("yes", false, "do not ask")
	cmd.AddCommand(rm)
	return cmd
}
