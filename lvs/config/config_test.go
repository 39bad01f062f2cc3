package config_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestLookupByName(t *testing.T) {
	c := valid()
	if vs := c.Virtual("web6"); vs != &c.Virtuals[vWeb6] {
		t.Errorf("Virtual(web6) = %p, want %p", vs, &c.Virtuals[vWeb6])
	}
	if vs := c.Virtual("nope"); vs != nil {
		t.Errorf("Virtual(nope) = %v, want nil", vs)
	}
	if rs := web(c).Real("web2"); rs != web2(c) {
		t.Errorf("Real(web2) = %p, want %p", rs, web2(c))
	}
	if rs := web(c).Real("m1"); rs != nil {
		t.Errorf("Real(m1) in web = %v, want nil", rs)
	}
}

func TestCloneIsDeep(t *testing.T) {
	c := valid()
	n := c.Clone()
	if err := n.Validate(); err != nil {
		t.Fatalf("clone is refused: %v", err)
	}
	n.Virtuals[vWeb].Name = "changed"
	n.Virtuals[vWeb].Reals[0].Weight = 99
	n.Virtuals = append(n.Virtuals, config.NewVirtual("extra"))
	n.Global.Network = config.NAT
	if web(c).Name != "web" || web1(c).Weight != 1 || len(c.Virtuals) != 3 || c.Global.Network != config.Direct {
		t.Error("changing the clone changed the original")
	}
}

func TestEffectivePortAndForward(t *testing.T) {
	c := valid()
	if got := web1(c).EffectivePort(web(c)); got != 80 {
		t.Errorf("web1 EffectivePort = %d, want the virtual's 80", got)
	}
	if got := web2(c).EffectivePort(web(c)); got != 8080 {
		t.Errorf("web2 EffectivePort = %d, want its own 8080", got)
	}
	g := &c.Global
	if got := web1(c).EffectiveForward(g); got != config.Direct {
		t.Errorf("web1 EffectiveForward = %q, want the global direct", got)
	}
	if got := web2(c).EffectiveForward(g); got != config.NAT {
		t.Errorf("web2 EffectiveForward = %q, want its own nat", got)
	}
	g.Network = config.Tunnel
	if got := web1(c).EffectiveForward(g); got != config.Tunnel {
		t.Errorf("web1 EffectiveForward = %q, want the global tunnel", got)
	}
	g.Network = ""
	if got := web1(c).EffectiveForward(g); got != config.Direct {
		t.Errorf("web1 EffectiveForward with no global = %q, want direct", got)
	}
	if !marked(c).IsFWMark() || web(c).IsFWMark() {
		t.Error("IsFWMark is wrong")
	}
}

// TestJSONBeforeClusterMode: a configuration stored as JSON before cluster
// mode (a revision, a draft) reads back with its virtual servers announced
// and BGP's timers at their defaults, not off and zero.
func TestJSONBeforeClusterMode(t *testing.T) {
	old := `{"Redundancy":{"BackupActive":true,"Keepalive":6000000000},"Virtuals":[{"Name":"www","Active":true,"Reals":[{"Name":"web1"}]}]}`
	var c config.Config
	if err := json.Unmarshal([]byte(old), &c); err != nil {
		t.Fatal(err)
	}
	r, vs := c.Redundancy, c.Virtuals[0]
	if !r.BackupActive || r.Keepalive != 6*time.Second || r.BGPHoldTime != 9*time.Second || r.BGPDrain != 10*time.Second || r.Cluster {
		t.Errorf("redundancy = %+v: want the stored values, hold time 9 s, drain 10 s", r)
	}
	if !vs.Announce || vs.Name != "www" || !vs.Active || len(vs.Reals) != 1 || vs.Reals[0].Name != "web1" {
		t.Errorf("virtual server = %+v: want it announced, with its stored values", vs)
	}
	// What a value says wins over the default.
	var vs2 config.VirtualServer
	if err := json.Unmarshal([]byte(`{"Announce":false,"Port":443}`), &vs2); err != nil || vs2.Announce || vs2.Port != 443 {
		t.Errorf("decoded %+v, %v: want Announce false, port 443", vs2, err)
	}
}
