package cluster

import (
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestSyncDecide(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	h := func(addr netip.Addr, serial int64, digest string) heard { return heard{addr, serial, digest} }
	tests := []struct {
		name  string
		self  heard
		peers []heard
		want  syncAction
	}{
		{"alone", h(a, 5, "x"), nil, syncAction{}},
		{"all equal", h(b, 5, "x"), []heard{h(a, 5, "x"), h(c, 5, "x")}, syncAction{}},
		{"behind: the highest", h(a, 5, "x"), []heard{h(b, 7, "y"), h(c, 6, "z")}, syncAction{From: b}},
		{"behind: the lowest address of the highest", h(b, 5, "x"), []heard{h(c, 7, "y"), h(a, 7, "y")}, syncAction{From: a}},
		{"ahead: nothing", h(c, 9, "x"), []heard{h(a, 7, "y"), h(b, 8, "y")}, syncAction{}},
		{"tie, another content, lower address wins", h(b, 5, "x"), []heard{h(a, 5, "y")}, syncAction{From: a, Past: true}},
		{"tie, this director is the lowest: it waits", h(a, 5, "x"), []heard{h(b, 5, "y")}, syncAction{}},
		{"tie, the winner agrees with us", h(c, 5, "x"), []heard{h(a, 5, "x"), h(b, 5, "y")}, syncAction{}},
		{"tie, unknown content is no conflict", h(b, 5, "x"), []heard{h(a, 5, "")}, syncAction{}},
		{"tie at a lower serial than a third", h(b, 5, "x"), []heard{h(a, 5, "y"), h(c, 6, "z")}, syncAction{From: c}},
		{"unreachable directors are not heard", h(b, 5, "x"), []heard{}, syncAction{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := syncDecide(tt.self, tt.peers); got != tt.want {
				t.Errorf("syncDecide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	c1 := &config.Config{Serial: 3}
	c1.Global.Primary = netip.MustParseAddr("10.0.0.1")
	c2 := c1.Clone()
	c2.Serial = 9
	if digest(c1) != digest(c2) || digest(c1) == "" {
		t.Errorf("the serial changes the digest: %q, %q", digest(c1), digest(c2))
	}
	c2.Global.Primary = netip.MustParseAddr("10.0.0.2")
	if digest(c1) == digest(c2) {
		t.Error("another primary, the same digest")
	}
	if c1.Serial != 3 {
		t.Error("digest changed its configuration's serial")
	}
}
