//go:build !guest

package engine

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestProgramSetsTheWeight: a program check with program_weight (keepalived's
// misc_dynamic) sets the real server's weight in the table by its exit
// status: 2-255 is weight status-2, 0 the configured weight, 1 out.
func TestProgramSetsTheWeight(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	setStatus := func(s string) {
		if err := os.WriteFile(status, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setStatus("12")

	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = config.CheckProgram, 50*time.Millisecond, 0
	vs.SendProgram, vs.ProgramWeight, vs.Expect = "/usr/bin/sh -c 'exit $(cat \"$0\")' "+status, true, ""
	vs.Reals = []config.RealServer{{Name: "r", Active: true, Address: a("10.0.0.1"), Weight: 32}}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	checks := NewChecks()
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { checks.Run(runCtx); done <- struct{}{} }()
	go func() { e.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	rs := netip.AddrPortFrom(a("10.0.0.1"), 80)
	waitFor(t, e, "weight 10 from exit status 12", func() bool { return destsOf(k, key)[rs] == 10 })
	setStatus("0")
	waitFor(t, e, "the configured weight from exit status 0", func() bool { return destsOf(k, key)[rs] == 32 })
	setStatus("2")
	waitFor(t, e, "weight 0 from exit status 2", func() bool { w, in := destsOf(k, key)[rs]; return in && w == 0 })
	setStatus("1")
	waitFor(t, e, "out on exit status 1", func() bool { _, in := destsOf(k, key)[rs]; return !in })
}
