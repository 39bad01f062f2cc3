// Package drain ends the drains of real servers. The console's DRAIN puts
// a real server into draining (config.RealServer.Draining): the engine
// gives it weight 0, so that IPVS sends it no new connection while its
// established ones go on. Once the kernel counts none left (active and
// inactive), or its virtual server's longest drain (DrainTimeout) has
// passed, the Drainer deactivates it: a change of the configuration, by
// Author, as if an operator had pressed DEACTIVATE.
//
// It runs where the engine programs IPVS for the pair: on the active
// director (Options.Active). The standby follows the active's
// configuration by sync, and so the drain's end.
package drain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Author is the author of the changes that end drains, in HISTORY and
// the audit trail: no user's name, as store.RollbackAuthor.
const Author = "lvsconsole (drain)"

// Source is where the Drainer reads the configuration; *store.Store
// provides it.
type Source interface {
	Config(ctx context.Context) (*config.Config, error)
	Serial(ctx context.Context) (int64, error)
	Subscribe() (<-chan struct{}, func())
}

// lender is a Source that can lend its configuration rather than copy it
// (*store.Store); the Drainer only reads it.
type lender interface {
	SharedConfig(ctx context.Context) (*config.Config, error)
}

// Kernel is where it reads the connections: the engine's Status, whose
// Kernel table holds the counters of its last sample (Sampled).
type Kernel interface {
	Status() engine.Status
}

// Store writes the end of a drain: the store's Update, with author and
// note (what the revision's summary starts with), as serve adapts it.
type Store interface {
	Update(ctx context.Context, author, note string, fn func(*config.Config) error) error
}

// Options configure a Drainer.
type Options struct {
	Source Source
	Kernel Kernel
	Store  Store
	// Active reports whether this director is the active one; nil: it
	// is (no failover).
	Active func() bool
	// Every is how often it looks, besides each change of the
	// configuration. Default 1 s; the engine samples the kernel's
	// counters every 5 s by default.
	Every time.Duration
	Now   func() time.Time // default time.Now
	Log   *slog.Logger
}

// Drainer deactivates real servers whose drain is over.
type Drainer struct {
	o    Options
	zero map[drainKey]time.Time // when each drain's weight 0 was first seen in the kernel
	// The configuration last read, and whether a server of it drains:
	// while the serial stays, a look costs a query of the serial.
	cfg      *config.Config
	draining bool
}

// New returns a Drainer; Run starts it.
func New(o Options) *Drainer {
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Drainer{o: o}
}

// Run looks at every change of the configuration and every Every, until
// ctx ends.
func (d *Drainer) Run(ctx context.Context) error {
	changes, cancel := d.o.Source.Subscribe()
	defer cancel()
	t := time.NewTicker(d.o.Every)
	defer t.Stop()
	for {
		if err := d.Once(ctx); err != nil && ctx.Err() == nil {
			d.o.Log.Error("ending drains", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		case <-t.C:
		}
	}
}

// errOver says a drain ended otherwise (reactivated, deactivated,
// deleted) before its end was written.
var errOver = errors.New("no longer draining")

// Once ends the drains that are over now.
func (d *Drainer) Once(ctx context.Context) error {
	if d.o.Active != nil && !d.o.Active() {
		d.zero = nil // the active director decides; start afresh if this one becomes it
		return nil
	}
	serial, err := d.o.Source.Serial(ctx)
	if err != nil {
		return err
	}
	if d.cfg == nil || d.cfg.Serial != serial {
		var cfg *config.Config
		if l, ok := d.o.Source.(lender); ok {
			cfg, err = l.SharedConfig(ctx) // kept while it drains: not a copy of 10,000 x 10
		} else {
			cfg, err = d.o.Source.Config(ctx)
		}
		if err != nil {
			return err
		}
		d.cfg, d.draining = cfg, anyDraining(cfg)
	}
	if !d.draining {
		d.zero = nil
		return nil
	}
	var ends []End
	ends, d.zero = Decide(d.cfg, d.o.Kernel.Status(), d.zero, d.o.Now())
	var errs []error
	for _, e := range ends {
		err := d.o.Store.Update(ctx, Author, "drain of "+e.Real+" finished: "+e.Why, func(c *config.Config) error {
			rs := realByID(c, e.VID, e.RID)
			if rs == nil || !rs.Draining || !rs.DrainSince.Equal(e.Since) {
				return errOver
			}
			rs.SetActive(false)
			return nil
		})
		switch {
		case errors.Is(err, errOver):
		case err != nil:
			errs = append(errs, fmt.Errorf("deactivating %s of %s: %w", e.Real, e.Virtual, err))
		default:
			d.o.Log.Info("drain finished: real server deactivated", "virtual", e.Virtual, "real", e.Real, "why", e.Why)
		}
	}
	return errors.Join(errs...)
}

func anyDraining(c *config.Config) bool {
	for i := range c.Virtuals {
		for j := range c.Virtuals[i].Reals {
			if rs := &c.Virtuals[i].Reals[j]; rs.Draining && rs.Active {
				return true
			}
		}
	}
	return false
}

func realByID(c *config.Config, vid, rid int64) *config.RealServer {
	for i := range c.Virtuals {
		if vs := &c.Virtuals[i]; vs.ID == vid {
			for j := range vs.Reals {
				if vs.Reals[j].ID == rid {
					return &vs.Reals[j]
				}
			}
		}
	}
	return nil
}

// End is a drain that is over: its real server is to be deactivated.
type End struct {
	Virtual, Real string
	VID, RID      int64
	Since         time.Time // when it began draining
	Why           string
}

// drainKey is one drain: a real server, and when it began draining.
type drainKey struct {
	rid   int64
	since int64 // Unix milliseconds
}

// Decide returns the drains of cfg that are over at now, given the
// engine's status st, and what to remember for next time. zero says when
// each drain's weight 0 was first seen in the kernel's table: only a
// sample of the counters taken after that counts, so that a connection
// made while the weight was still the configured one is not missed.
//
// A drain is over when its virtual server's DrainTimeout has passed;
// or, with IPVS read and the configuration applied, when its real server
// is not in the kernel's table (there is nothing to wait for: a check
// found it down, or its virtual server is not active), or when a sample
// after its weight 0 counts no active and no inactive connection.
func Decide(cfg *config.Config, st engine.Status, zero map[drainKey]time.Time, now time.Time) ([]End, map[drainKey]time.Time) {
	var ends []End
	seen := map[drainKey]time.Time{}
	applied := st.Available && st.Kernel != nil && st.Serial >= cfg.Serial
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !rs.Draining {
				continue
			}
			end := End{Virtual: vs.Name, Real: rs.Name, VID: vs.ID, RID: rs.ID, Since: rs.DrainSince}
			k := drainKey{rs.ID, rs.DrainSince.UnixMilli()}
			var dest *ipvs.Destination
			if applied {
				dest = lookup(st.Kernel, vs, rs)
			}
			switch {
			case vs.DrainTimeout > 0 && !rs.DrainSince.IsZero() && now.Sub(rs.DrainSince) >= vs.DrainTimeout:
				left := "connections not counted"
				if dest != nil {
					left = fmt.Sprintf("%d connections left", dest.ActiveConns+dest.InactiveConns)
				}
				end.Why = fmt.Sprintf("its longest drain (%v) passed, %s", vs.DrainTimeout, left)
			case !applied:
				continue // nothing known of its connections yet
			case dest == nil:
				end.Why = "not in the IPVS table, so no connections to wait for"
			case dest.Weight != 0:
				continue // the engine has not given it weight 0 yet
			default:
				at, ok := zero[k]
				if !ok {
					at = now
				}
				seen[k] = at
				if !st.Sampled.After(at) || dest.ActiveConns+dest.InactiveConns != 0 {
					continue
				}
				end.Why = "its connections ended"
			}
			ends = append(ends, end)
		}
	}
	return ends, seen
}

// lookup returns rs's destination in the kernel's table t, or nil.
func lookup(t *engine.Table, vs *config.VirtualServer, rs *config.RealServer) *ipvs.Destination {
	if !vs.Active {
		return nil
	}
	sk, dk := engine.Where(vs, rs)
	s := t.Lookup(sk)
	if s == nil {
		return nil
	}
	for i := range s.Dests {
		if s.Dests[i].Key() == dk {
			return &s.Dests[i]
		}
	}
	return nil
}
