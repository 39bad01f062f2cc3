package store

import (
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestOwnedServicesSurviveReopen(t *testing.T) {
	st := openTest(t)
	for _, k := range []string{"6/192.0.2.1:80", "fwm/2/3", "6/192.0.2.1:80"} {
		if err := st.Own(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Disown(ctx, "fwm/2/3"); err != nil {
		t.Fatal(err)
	}
	path := st.Path()
	st.Close()
	st2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	owned, err := st2.OwnedServices(ctx)
	if err != nil || !reflect.DeepEqual(owned, map[string]bool{"6/192.0.2.1:80": true}) {
		t.Errorf("owned after reopen = %v, %v", owned, err)
	}
}

func TestSubscribeSignalsEachSavedChange(t *testing.T) {
	st := openTest(t)
	ch, cancel := st.Subscribe()
	defer cancel()
	select {
	case <-ch:
		t.Fatal("signal before any change")
	default:
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error { c.Global.TCPTimeout = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	<-ch // a saved change signals
	// A refused change does not.
	st.Update(ctx, Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error { c.Global.TCPTimeout = -1; return nil })
	select {
	case <-ch:
		t.Error("a refused change signalled")
	default:
	}
	// Several changes coalesce into one pending signal.
	for i := range 3 {
		st.Update(ctx, Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error { c.Global.UDPTimeout = int64(10 + i); return nil })
	}
	<-ch
	select {
	case <-ch:
		t.Error("more than one pending signal")
	default:
	}
	if s, err := st.Serial(ctx); err != nil || s != 5 {
		t.Errorf("Serial = %d, %v", s, err)
	}
}
