package bgp

import (
	"net/netip"
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	a := netip.MustParsePrefix("192.0.2.1/32")
	b := netip.MustParsePrefix("192.0.2.2/32")
	c := netip.MustParsePrefix("2001:db8::1/128")
	on, off := route{draining: true}, route{}
	type set = map[netip.Prefix]bool
	type ann = map[netip.Prefix]route
	for _, tc := range []struct {
		name               string
		announced          ann
		want               set
		draining           bool
		announce, withdraw []netip.Prefix
	}{
		{name: "nothing"},
		{name: "first announcement", want: set{a: true, c: true}, announce: []netip.Prefix{a, c}},
		{name: "steady", announced: ann{a: off, b: off}, want: set{a: true, b: true}},
		{name: "one new, one gone", announced: ann{a: off, b: off}, want: set{b: true, c: true},
			announce: []netip.Prefix{c}, withdraw: []netip.Prefix{a}},
		{name: "empty set withdraws all", announced: ann{a: off, c: off}, want: set{},
			withdraw: []netip.Prefix{a, c}},
		{name: "drain re-announces all with the community", announced: ann{a: off, b: off}, want: set{a: true, b: true},
			draining: true, announce: []netip.Prefix{a, b}},
		{name: "draining and steady", announced: ann{a: on}, want: set{a: true}, draining: true},
		{name: "draining: a new one comes with the community, a gone one goes",
			announced: ann{a: on}, want: set{b: true}, draining: true,
			announce: []netip.Prefix{b}, withdraw: []netip.Prefix{a}},
		{name: "no longer draining", announced: ann{a: on, b: off}, want: set{a: true, b: true},
			announce: []netip.Prefix{a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			announce, withdraw := plan(tc.announced, tc.want, tc.draining)
			if !slices.Equal(announce, tc.announce) || !slices.Equal(withdraw, tc.withdraw) {
				t.Errorf("plan = announce %v, withdraw %v; want %v, %v", announce, withdraw, tc.announce, tc.withdraw)
			}
		})
	}
}
