package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"

	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxCf bounds what import reads of a file: lvscf refuses more than 8 MiB.
const maxCf = 8 << 20

func importCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	check := fs.Bool("check", false, "only parse and validate the file; change nothing")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) != 1 {
			return errors.New("import takes one file name (or - for stdin)")
		}
		name := args[0]
		var r io.Reader = e.stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		// Read whole, to name the lines of what the store refuses; lvscf
		// refuses a file of more than its limit, which this reads one byte
		// past.
		data, err := io.ReadAll(io.LimitReader(r, maxCf+1))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		cfg, warns, err := lvscf.Import(ctx, bytes.NewReader(data), lvscf.Options{Resolver: net.DefaultResolver})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if *check {
			fmt.Fprintf(e.stdout, "%s: valid: %d virtual servers\n", name, len(cfg.Virtuals))
			printWarnings(e.stdout, name, warns)
			return nil
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		old, err := st.Config(ctx)
		if err != nil {
			return err
		}
		// Whoever can write the database could write anything into it: the
		// command line needs no password for programs (Elevated), but they
		// must still be files only root can change.
		saved, err := st.Replace(ctx, store.Change{Author: cliAuthor(), Note: "import of " + name, Elevated: true}, cfg)
		if errors.Is(err, store.ErrNoChange) {
			fmt.Fprintf(e.stdout, "%s: the configuration is already this; nothing saved\n", name)
			saved, err = old, nil
		} else if err == nil {
			fmt.Fprintf(e.stdout, "%s: imported as serial %d%s\n", name, saved.Serial, serialNote(cfg.Serial, old.Serial, saved.Serial))
		}
		if err != nil {
			return fmt.Errorf("importing %s: %w", name, lvscf.Locate(data, err))
		}
		printWarnings(e.stdout, name, warns)
		return secretNote(ctx, e.stdout, name, st, saved)
	}
}

func exportCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	serial := fs.Int64("serial", 0, "export revision `N` instead of the current configuration")
	out := fs.String("o", "-", "write to `file` instead of stdout")
	return func(ctx context.Context, e *env, args []string) error {
		if _, err := os.Stat(*db); err != nil {
			return fmt.Errorf("no database at %s: %w", *db, err)
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg, err := st.Config(ctx)
		if *serial != 0 {
			_, cfg, err = st.Revision(ctx, *serial)
		}
		if err != nil {
			return err
		}
		if *out == "-" {
			return lvscf.Format(e.stdout, cfg)
		}
		// Write beside the target and rename, so a failed export never leaves
		// half a file where a good one was.
		tmp, err := os.CreateTemp(filepath.Dir(*out), ".lvs.cf-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if err := lvscf.Format(tmp, cfg); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), *out)
	}
}

// cliAuthor names who made a change from the command line in the history.
func cliAuthor() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return "cli:" + u
	}
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}
