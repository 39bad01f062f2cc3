//go:build !guest

package engine

import (
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// observedConfig is a virtual server whose real servers are in every state
// the checks give.
func observedConfig() (*config.Config, fakeHealth) {
	c := config.Default()
	c.Global.Network = config.NAT
	www := config.NewVirtual("www")
	www.Active, www.Address, www.Quiesce = true, a("192.0.2.10"), true
	www.Reals = []config.RealServer{
		{Name: "up", Active: true, Address: a("10.0.0.1"), Weight: 4},
		{Name: "ramping", Active: true, Address: a("10.0.0.2"), Weight: 16},
		{Name: "down", Active: true, Address: a("10.0.0.3"), Weight: 1},
		{Name: "quiesced", Active: true, Address: a("10.0.0.4"), Weight: 2},
		{Name: "pending", Active: true, Address: a("10.0.0.5"), Weight: 1},
	}
	c.Virtuals = []config.VirtualServer{www}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	return c, fakeHealth{
		"up":       {4, In},
		"ramping":  {1, In}, // 16/16: the second step of slow start
		"down":     {0, Out},
		"quiesced": {0, Quiesced},
		"pending":  {0, Pending},
	}
}

// TestObservedIsTheEnginesView: for the configuration it applied, the
// running engine's verdicts give back the very table it wants.
func TestObservedIsTheEnginesView(t *testing.T) {
	applied, checks := observedConfig()
	desired := Desired(applied, checks)
	got := Desired(applied, Observed(applied, desired))
	if !reflect.DeepEqual(got, desired) {
		t.Errorf("from the observed verdicts:\n%+v\nthe engine's:\n%+v", got.Services[0], desired.Services[0])
	}
}

// TestObservedAfterAChange: the verdicts carry over to a changed
// configuration (a new weight, the same slow-start step); real servers the
// engine does not know yet are taken as up.
func TestObservedAfterAChange(t *testing.T) {
	applied, checks := observedConfig()
	desired := Desired(applied, checks)
	next, _ := observedConfig()
	next.Virtual("www").Real("up").Weight = 8
	next.Virtual("www").Real("ramping").Weight = 32
	next.Virtual("www").Reals = append(next.Virtual("www").Reals, config.RealServer{Name: "fresh", Active: true, Address: a("10.0.0.6"), Weight: 3})
	mail := config.NewVirtual("mail")
	mail.Active, mail.Address, mail.Port = true, a("192.0.2.25"), 25
	mail.Reals = []config.RealServer{{Name: "m1", Active: true, Address: a("10.0.0.1"), Weight: 5}}
	next.Virtuals = append(next.Virtuals, mail)
	if err := next.Validate(); err != nil {
		t.Fatal(err)
	}

	got := Desired(next, Observed(applied, desired))
	weights := map[string]int32{}
	for _, d := range got.Services[0].Dests {
		weights[d.Key().String()] = d.Weight
	}
	want := map[string]int32{
		"10.0.0.1:80": 8, // up: its new weight
		"10.0.0.2:80": 2, // the same slow-start step of its new weight
		"10.0.0.4:80": 0, // quiesced
		"10.0.0.6:80": 3, // not checked by that engine: taken as up
	}
	if !reflect.DeepEqual(weights, want) {
		t.Errorf("destinations %v, want %v (the down one out)", weights, want)
	}
	if p := got.Services[0].Pending; len(p) != 1 || p[0] != (ipvs.DestKey{Addr: a("10.0.0.5"), Port: 80}) {
		t.Errorf("pending %v, want 10.0.0.5:80 left as the kernel has it", p)
	}
	if d := got.Services[1].Dests; len(d) != 1 || d[0].Weight != 5 {
		t.Errorf("a new virtual server's real server: %+v, want it up at weight 5", d)
	}
}
