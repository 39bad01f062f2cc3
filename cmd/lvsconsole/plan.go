package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// planCommand prints what the stored configuration would do to this
// director's IPVS table now, as the ipvsadm commands that do the same.
func planCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		k := e.readKernel(ctx) // before the database: opening it may drop root (openStore)
		st, err := e.openExisting(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg, err := st.Config(ctx)
		if err != nil {
			return err
		}
		return e.writePlan(ctx, fmt.Sprintf("configuration serial %d", cfg.Serial), cfg, st, *db, k)
	}
}

// openExisting opens the database at path, which must exist: a command
// that only reads must not leave an empty one behind.
func (e *env) openExisting(ctx context.Context, path string) (*store.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s: %w", path, err)
	}
	return e.openStore(ctx, path)
}

// writePlan prints, as ipvsadm commands, what the engine would send to
// make this director's IPVS table the one cfg asks for (what names it):
// the plan of engine.Table.Plan, against the kernel's table as the engine
// reads it, changing only the services the ledger of st says this
// director made (st nil: none), with the health verdicts of the serve
// running on db if one answers. Notes, refusals and what ipvsadm cannot
// say are comment lines, so the output stays a shell script.
func (e *env) writePlan(ctx context.Context, what string, cfg *config.Config, st *store.Store, db string, k kernelRead) error {
	weigher, health := e.health(ctx, st, db)
	owned := map[string]bool{}
	if st != nil {
		var err error
		if owned, err = st.OwnedServices(ctx); err != nil {
			return err
		}
	}
	if k.err != nil {
		return k.err
	}
	have, kernelNote := k.owned(owned), k.note
	p := engine.Desired(cfg, weigher).Plan(have, owned)

	var b bytes.Buffer
	fmt.Fprintf(&b, "# plan of %s against this director's IPVS table\n", what)
	fmt.Fprintf(&b, "# health: %s\n", health)
	if kernelNote != "" {
		fmt.Fprintf(&b, "# %s\n", kernelNote)
	}
	for _, r := range p.Refused {
		fmt.Fprintf(&b, "# refused: %v\n", r)
	}
	if p.Empty() {
		b.WriteString("# nothing to do: the kernel's table is what the configuration asks for\n")
	}
	for _, line := range p.Ipvsadm() {
		b.WriteString(line + "\n")
	}
	_, err := e.stdout.Write(b.Bytes())
	return err
}

// kernelRead is this director's IPVS table, read whole before the
// database is opened (see openStore), or the note or error of why not.
type kernelRead struct {
	have *engine.Table
	note string // on a kernel without IPVS: the table is empty, and why
	err  error
}

// readKernel reads this director's IPVS table as the engine does; on a
// kernel without IPVS, an empty table and a note saying so.
func (e *env) readKernel(ctx context.Context) kernelRead {
	c, err := e.dialIPVS()
	switch {
	case errors.Is(err, ipvs.ErrNoIPVS):
		return kernelRead{have: &engine.Table{}, note: "IPVS is not available in this kernel (load the ip_vs module): this is the plan against an empty table"}
	case errors.Is(err, ipvs.ErrPermission):
		return kernelRead{err: fmt.Errorf("reading this director's IPVS table needs root (CAP_NET_ADMIN): %w", err)}
	case err != nil:
		return kernelRead{err: fmt.Errorf("reading this director's IPVS table: %w", err)}
	}
	defer c.Close()
	have, err := engine.ReadTable(ctx, c, nil)
	return kernelRead{have: have, err: err}
}

// owned is the table as engine.ReadOwned reads it: the destinations of
// the services the ledger owns only.
func (k kernelRead) owned(owned map[string]bool) *engine.Table {
	t := &engine.Table{Timeouts: k.have.Timeouts}
	for _, s := range k.have.Services {
		c := *s
		if !owned[engine.LedgerKey(s.ServiceKey)] {
			c.Dests = nil
		}
		t.Services = append(t.Services, &c)
	}
	return t
}

// health is whose verdicts of the real servers a plan takes: those of the
// checks of the serve running on db, which knows them, or else every
// active real server up, and why.
func (e *env) health(ctx context.Context, st *store.Store, db string) (engine.Weigher, string) {
	const allUp = "every active real server taken as up"
	if st == nil {
		return engine.Configured{}, fmt.Sprintf("%s (no database at %s)", allUp, db)
	}
	ls, err := fetchLocal(ctx, localSocket(db))
	switch {
	case errors.Is(err, errNotServing):
		return engine.Configured{}, allUp + " (lvsconsole serve is not running)"
	case err != nil:
		return engine.Configured{}, fmt.Sprintf("%s (asking lvsconsole serve failed: %v)", allUp, err)
	case ls.Engine == nil || ls.Engine.Desired == nil:
		return engine.Configured{}, allUp + " (lvsconsole serve has no engine, or has not planned yet)"
	}
	// The verdicts are for the configuration serve applied; Observed
	// carries them over to the one planned.
	_, applied, err := st.Revision(ctx, ls.Engine.Serial)
	if err != nil {
		return engine.Configured{}, fmt.Sprintf("%s (reading revision %d, which lvsconsole serve applied: %v)", allUp, ls.Engine.Serial, err)
	}
	return engine.Observed(applied, ls.Engine.Desired),
		fmt.Sprintf("the checks of the running lvsconsole serve (configuration serial %d); real servers it does not check yet taken as up", ls.Engine.Serial)
}

// writeIpvsadm writes the table cfg asks for, every active real server
// up, as ipvsadm-save -n rules for ipvsadm -R, and warns on stderr of what
// those rules cannot carry.
func (e *env) writeIpvsadm(w io.Writer, cfg *config.Config) error {
	t := engine.Desired(cfg, engine.Configured{})
	for _, s := range t.Services {
		op := ipvs.Op{Kind: ipvs.AddService, Service: s.Service}
		if _, err := op.IpvsadmArgs(); err != nil {
			fmt.Fprintf(e.stderr, "lvsconsole: warning: virtual server %s: ipvsadm -R cannot restore it exactly: %v\n", s.Virtual, err)
		}
		for _, d := range s.Dests {
			op := ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: s.ServiceKey}, Dest: d}
			if _, err := op.IpvsadmArgs(); err != nil {
				fmt.Fprintf(e.stderr, "lvsconsole: warning: virtual server %s, real server %s: ipvsadm -R cannot restore it exactly: %v\n",
					s.Virtual, d.Key(), err)
			}
			if d.UpperThreshold != 0 || d.LowerThreshold != 0 {
				fmt.Fprintf(e.stderr, "lvsconsole: warning: virtual server %s, real server %s: its thresholds (-x %d -y %d) are not part of ipvsadm-save's format\n",
					s.Virtual, d.Key(), d.UpperThreshold, d.LowerThreshold)
			}
		}
	}
	return t.WriteSave(w)
}
