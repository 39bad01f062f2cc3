//go:build !guest

package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestPreviewIsTheNextReconcile: Preview of a configuration not saved
// sends nothing, and lists the very operations the reconcile makes once
// it is saved.
func TestPreviewIsTheNextReconcile(t *testing.T) {
	st := openStore(t)
	k, c := fakeKernel(t)
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil }, Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	saved, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, sample())
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, saved.Serial)
	before := k.Services()

	next := saved.Clone()
	www := next.Virtual("www")
	www.Scheduler = "wlc"
	www.Reals = append(www.Reals, config.RealServer{Name: "web4", Active: true, Address: a("10.0.0.4"), Weight: 2})
	www.Real("web1").Weight = 5
	p, err := e.Preview(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ipvsadm -E -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0",
		"ipvsadm -e -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 5",
		"ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.4:80 -m -w 2",
	}
	if got := p.Ipvsadm(); !reflect.DeepEqual(got, want) {
		t.Fatalf("preview\n%q\nwant\n%q", got, want)
	}
	if !reflect.DeepEqual(k.Services(), before) {
		t.Fatal("Preview changed the kernel's table")
	}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, next); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, e, saved.Serial+1)
	kernelMatches(t, k, Desired(next, Configured{}))
	if p, _ := e.Preview(ctx, next); !p.Empty() {
		t.Fatalf("after the reconcile the preview still plans %q", p.Ipvsadm())
	}
}
