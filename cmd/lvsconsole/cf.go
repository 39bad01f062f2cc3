package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/imports"
	"github.com/lvsconsole/lvsconsole/lvs/kaexport"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxCf bounds what import reads of a file: imports.Read refuses more.
const maxCf = imports.MaxSize

func importCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	check := fs.Bool("check", false, "only parse and validate the file, and print what it would do to this director's IPVS table (as lvsconsole plan); change nothing")
	format := fs.String("format", "", "the file's `format`: lvscf, keepalived (keepalived.conf, its includes followed), or ipvsadm (the rules of ipvsadm -S or -Sn: their services replace the virtual servers); by default told from its content")
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
		kind := imports.Detect(data)
		if *format != "" {
			if kind, err = imports.Parse(*format); err != nil {
				return fmt.Errorf("-format: %w", err)
			}
		}
		path := name // keepalived's includes are relative to it
		if name == "-" {
			path = "stdin"
		}
		file, err := imports.Read(ctx, kind, path, data, imports.Options{Resolver: net.DefaultResolver, Include: true})
		warns := func(w io.Writer) { printNotes(w, name, kind, file.Warnings) }
		if err != nil {
			warns(e.stdout)
			return fmt.Errorf("%s: %w", name, err)
		}
		if kind == imports.Ipvsadm {
			return e.importIpvsadm(ctx, name, file, *check, *db)
		}
		cfg, locate := file.Config, file.Locate
		if *check {
			fmt.Fprintf(e.stdout, "%s: valid: %d virtual servers\n", name, len(cfg.Virtuals))
			warns(e.stdout)
			return e.checkPlan(ctx, name, cfg, *db)
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
		saved, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: cliAuthor(), Note: "import of " + name, Elevated: true}, cfg)
		if errors.Is(err, store.ErrNoChange) {
			fmt.Fprintf(e.stdout, "%s: the configuration is already this; nothing saved\n", name)
			saved, err = old, nil
		} else if err == nil {
			fmt.Fprintf(e.stdout, "%s: imported as serial %d%s\n", name, saved.Serial, serialNote(cfg.Serial, old.Serial, saved.Serial))
		}
		if err != nil {
			return fmt.Errorf("importing %s: %w", name, locate(err))
		}
		warns(e.stdout)
		return secretNote(ctx, e.stdout, name, st, saved)
	}
}

// checkPlan prints the plan of cfg, from the file name, against this
// director's table and the ledger of the database db when there is one
// (none is made). The file is valid whatever happens here: what keeps it
// from planning (no rights to read IPVS or the database) is said, and is
// not an error.
func (e *env) checkPlan(ctx context.Context, name string, cfg *config.Config, db string) error {
	if name == "-" {
		name = "the file on stdin"
	}
	k := e.readKernel(ctx) // before the database: opening it may drop root (openStore)
	err := func() error {
		var st *store.Store
		if _, err := os.Stat(db); err == nil {
			if st, err = e.openStore(ctx, db); err != nil {
				return err
			}
			defer st.Close()
		}
		return e.writePlan(ctx, name, cfg, st, db, k)
	}()
	if err != nil {
		fmt.Fprintf(e.stdout, "# no plan of %s: %v\n", name, err)
	}
	return nil
}

// Export formats.
const (
	formatLvscf      = "lvscf"
	formatIpvsadm    = "ipvsadm"
	formatKeepalived = "keepalived"
)

func exportCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	serial := fs.Int64("serial", 0, "export revision `N` instead of the current configuration")
	out := fs.String("o", "-", "write to `file` instead of stdout")
	format := fs.String("format", formatLvscf, "`format`: lvscf, or ipvsadm: the IPVS table the configuration asks for (every active real server up) as ipvsadm-save -n rules, for ipvsadm -R, or keepalived: a keepalived.conf for one director (see -node)")
	node := fs.String("node", string(kaexport.Primary), "with -format keepalived: the director `node` the file is for, primary or backup")
	return func(ctx context.Context, e *env, args []string) error {
		write := func(w io.Writer, cfg *config.Config) error { return lvscf.Format(w, cfg) }
		switch *format {
		case formatLvscf:
		case formatIpvsadm:
			write = e.writeIpvsadm
		case formatKeepalived:
			write = func(w io.Writer, cfg *config.Config) error { return e.writeKeepalived(w, cfg, kaexport.Node(*node)) }
		default:
			return fmt.Errorf("-format: %q is not a format: use %s, %s or %s", *format, formatLvscf, formatIpvsadm, formatKeepalived)
		}
		st, err := e.openExisting(ctx, *db)
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
			return write(e.stdout, cfg)
		}
		// Write beside the target and rename, so a failed export never leaves
		// half a file where a good one was.
		tmp, err := os.CreateTemp(filepath.Dir(*out), ".lvs.cf-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if err := write(tmp, cfg); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), *out)
	}
}

// writeKeepalived writes cfg as node's keepalived.conf and lists on
// stderr what keepalived cannot express (the file says it too, as
// comments).
func (e *env) writeKeepalived(w io.Writer, cfg *config.Config, node kaexport.Node) error {
	omitted, err := kaexport.Write(w, cfg, node)
	if errors.Is(err, kaexport.ErrNode) || errors.Is(err, kaexport.ErrNoBackup) {
		return fmt.Errorf("-node: %w", err)
	}
	if err != nil {
		return err
	}
	for _, o := range omitted {
		fmt.Fprintf(e.stderr, "lvsconsole: warning: keepalived cannot express %s\n", o)
	}
	return nil
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
