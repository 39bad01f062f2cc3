package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/imports"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// importIpvsadm imports the rules of ipvsadm -S or -Sn (data, from the
// file name): their services become the virtual servers, the global and
// redundancy settings stay. With check, nothing is saved: the result is
// validated and its plan printed.
func (e *env) importIpvsadm(ctx context.Context, name string, file *imports.File, check bool, db string) error {
	vss := file.Config.Virtuals
	warns := file.Warnings
	if check {
		cfg := config.Default()
		cfg.Virtuals = vss
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%s: %w", name, file.Locate(err))
		}
		fmt.Fprintf(e.stdout, "%s: valid: %d virtual servers\n", name, len(vss))
		printNotes(e.stdout, name, imports.Ipvsadm, warns)
		return e.checkPlan(ctx, name, cfg, db)
	}
	st, err := e.openStore(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	ch := store.Change{Role: store.ScopeAdmin, Author: cliAuthor(), Note: "import of " + name + " (ipvsadm rules)", Elevated: true}
	next, err := st.Update(ctx, ch, func(c *config.Config) error {
		c.Virtuals = vss
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNoChange):
		fmt.Fprintf(e.stdout, "%s: the configuration is already this; nothing saved\n", name)
	case err != nil:
		return fmt.Errorf("importing %s: %w", name, file.Locate(err))
	default:
		fmt.Fprintf(e.stdout, "%s: imported as serial %d: %d virtual servers (the global and redundancy settings are kept)\n", name, next.Serial, len(vss))
	}
	printNotes(e.stdout, name, imports.Ipvsadm, warns)
	return nil
}

// printNotes prints the warnings of an import of name: keepalived's name
// their file (it may have included others), the others their line.
func printNotes(w io.Writer, name string, f imports.Format, notes []string) {
	for _, n := range notes {
		if f == imports.Keepalived {
			fmt.Fprintf(w, "warning: %s\n", n)
			continue
		}
		fmt.Fprintf(w, "%s: warning: %s\n", name, n)
	}
}

// adoptCommand takes the services in this director's kernel that the
// configuration lacks into it and into the ledger, so that the engine
// keeps them as they are.
func adoptCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	yes := fs.Bool("yes", false, "take them without asking")
	return func(ctx context.Context, e *env, args []string) error {
		// The kernel before the database: opening it may drop root
		// (openStore).
		have, err := e.wholeKernelTable(ctx)
		if err != nil {
			return err
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		cur, err := st.Config(ctx)
		if err != nil {
			return err
		}
		a := planAdoption(cur, have)
		var b strings.Builder
		for _, l := range a.left {
			fmt.Fprintf(&b, "# left alone: %s\n", l)
		}
		if len(a.take) == 0 {
			b.WriteString("# nothing to take: every service in this director's IPVS table is in the configuration or left alone\n")
			_, err := io.WriteString(e.stdout, b.String())
			return err
		}
		fmt.Fprintf(&b, "# the services to take, as ipvsadm commands:\n")
		for _, t := range a.take {
			for _, l := range t.lines {
				b.WriteString(l + "\n")
			}
		}
		fmt.Fprintf(&b, "# the configuration will gain:\n")
		for _, t := range a.take {
			b.WriteString("#   " + describeVirtual(&t.vs) + "\n")
		}
		fmt.Fprintf(&b, "# warning: %s\n", engine.NoCheckNote)
		if _, err := io.WriteString(e.stdout, b.String()); err != nil {
			return err
		}
		if !*yes {
			fmt.Fprintf(e.stdout, "Take these %d services into the configuration and let lvsconsole manage them? [y/N] ", len(a.take))
			ans, _ := bufio.NewReader(io.LimitReader(e.stdin, 64)).ReadString('\n')
			if ans = strings.ToLower(strings.TrimSpace(ans)); ans != "y" && ans != "yes" {
				fmt.Fprintln(e.stdout, "nothing taken")
				return nil
			}
		}
		ch := store.Change{Role: store.ScopeAdmin, Author: cliAuthor(), Note: "adopt", Elevated: true}
		next, err := st.Update(ctx, ch, func(c *config.Config) error {
			again := planAdoption(c, have)
			if !sameAdoption(a, again) {
				return errors.New("the configuration changed while adopt asked: run it again")
			}
			for _, t := range a.take {
				c.Virtuals = append(c.Virtuals, t.vs)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("adopt: %w", err)
		}
		// The ledger after the configuration: a service owned but not
		// configured would be deleted by a running engine; one configured
		// but not owned is only refused until this is written.
		keys := make([]string, len(a.take))
		for i, t := range a.take {
			keys[i] = engine.LedgerKey(t.key)
		}
		if err := st.Own(ctx, keys...); err != nil {
			return fmt.Errorf("adopt: the configuration took the services as serial %d, but recording them as lvsconsole's failed (the engine leaves them alone until they are): %w", next.Serial, err)
		}
		fmt.Fprintf(e.stdout, "adopted %d services as serial %d\n", len(a.take), next.Serial)
		return nil
	}
}

// wholeKernelTable reads every service of this director's IPVS with its
// destinations.
func (e *env) wholeKernelTable(ctx context.Context) (*engine.Table, error) {
	c, err := e.dialIPVS()
	switch {
	case errors.Is(err, ipvs.ErrNoIPVS):
		return nil, fmt.Errorf("IPVS is not available in this kernel, so there is nothing to adopt: %w", err)
	case errors.Is(err, ipvs.ErrPermission):
		return nil, fmt.Errorf("reading this director's IPVS table needs root (CAP_NET_ADMIN): %w", err)
	case err != nil:
		return nil, fmt.Errorf("reading this director's IPVS table: %w", err)
	}
	defer c.Close()
	return engine.ReadTable(ctx, c, nil)
}

// adoption is what adopt takes from the kernel, and what it leaves and
// why.
type adoption struct {
	take []taken
	left []string
}

type taken struct {
	key   ipvs.ServiceKey
	vs    config.VirtualServer
	lines []string // as ipvsadm commands
}

// planAdoption decides which services of the kernel's table have becomes
// virtual servers of cfg: those cfg does not have yet, that it can hold
// exactly, and that have an address.
func planAdoption(cfg *config.Config, have *engine.Table) adoption {
	var a adoption
	configured := map[ipvs.ServiceKey]string{}
	for i := range cfg.Virtuals {
		if k, ok := engine.ServiceKeyOf(&cfg.Virtuals[i]); ok {
			configured[k] = cfg.Virtuals[i].Name
		}
	}
	names := map[string]bool{}
	for i := range cfg.Virtuals {
		names[cfg.Virtuals[i].Name] = true
	}
	for _, s := range have.Services {
		if name, ok := configured[s.ServiceKey]; ok {
			a.left = append(a.left, fmt.Sprintf("%s: already in the configuration as virtual server %s", s.ServiceKey, name))
			continue
		}
		if s.FWMark != 0 {
			a.left = append(a.left, fmt.Sprintf("%s: a firewall-mark service has no address in IPVS, and a virtual server needs its virtual IP address: add it by hand", s.ServiceKey))
			continue
		}
		vs, err := engine.VirtualOf(&s.Service, s.Dests)
		if err != nil {
			a.left = append(a.left, err.Error())
			continue
		}
		base := vs.Name
		for n := 2; names[vs.Name]; n++ {
			vs.Name = fmt.Sprintf("%s-%d", base, n)
		}
		names[vs.Name] = true
		t := taken{key: s.ServiceKey, vs: vs}
		op := ipvs.Op{Kind: ipvs.AddService, Service: s.Service}
		t.lines = append(t.lines, op.Ipvsadm())
		for _, d := range s.Dests {
			op := ipvs.Op{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: s.ServiceKey}, Dest: d}
			t.lines = append(t.lines, op.Ipvsadm())
		}
		a.take = append(a.take, t)
	}
	return a
}

func sameAdoption(a, b adoption) bool {
	return slices.EqualFunc(a.take, b.take, func(x, y taken) bool { return x.key == y.key && x.vs.Name == y.vs.Name })
}

// describeVirtual says in a line what a virtual server taken from IPVS
// is.
func describeVirtual(vs *config.VirtualServer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual server %s (%s, scheduler %s", vs.Name, vs.ServiceString(), vs.Scheduler)
	if vs.Persistence > 0 {
		fmt.Fprintf(&b, ", persistence %d s", vs.Persistence)
	}
	b.WriteString(")")
	if len(vs.Reals) == 0 {
		b.WriteString(" without real servers")
	}
	for i, rs := range vs.Reals {
		sep := ", "
		if i == 0 {
			sep = " with real servers "
		}
		fmt.Fprintf(&b, "%s%s (%s, weight %d)", sep, rs.Name, rs.Forward, rs.Weight)
	}
	return b.String()
}
