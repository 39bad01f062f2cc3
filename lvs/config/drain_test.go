package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestMergeDrain: a draft's drain survives APPLY over a running
// configuration that changed elsewhere; a drain the running
// configuration finished (the server deactivated) is not brought back by
// a draft made while it drained.
func TestMergeDrain(t *testing.T) {
	since := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                  string
		base, theirs, yours   func(*config.RealServer)
		wantActive, wantDrain bool
	}{
		{"yours starts it", nil, nil, func(rs *config.RealServer) { rs.StartDrain() }, true, true},
		{"theirs started it", nil, func(rs *config.RealServer) { rs.Draining, rs.DrainSince = true, since }, nil, true, true},
		{"theirs finished it",
			func(rs *config.RealServer) { rs.Draining, rs.DrainSince = true, since },
			func(rs *config.RealServer) { rs.SetActive(false) },
			func(rs *config.RealServer) {}, false, false},
		{"yours reactivates it",
			func(rs *config.RealServer) { rs.Draining, rs.DrainSince = true, since },
			func(rs *config.RealServer) {},
			func(rs *config.RealServer) { rs.SetActive(true) }, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := mergeBase()
			rsIn(base, "www", "web1").Active = true
			if tc.base != nil {
				tc.base(rsIn(base, "www", "web1"))
			}
			theirs, yours := base.Clone(), base.Clone()
			theirs.Serial++
			vsIn(theirs, "dns").Port = 5353 // a change elsewhere
			if tc.theirs != nil {
				tc.theirs(rsIn(theirs, "www", "web1"))
			}
			if tc.yours != nil {
				tc.yours(rsIn(yours, "www", "web1"))
			}
			got, cs := config.Merge(base, theirs, yours)
			if len(cs) != 0 {
				t.Fatalf("conflicts: %v", cs)
			}
			rs := rsIn(got, "www", "web1")
			if rs.Active != tc.wantActive || rs.Draining != tc.wantDrain {
				t.Errorf("web1 is active %v, draining %v; want %v, %v", rs.Active, rs.Draining, tc.wantActive, tc.wantDrain)
			}
			if rs.Weight != 1 {
				t.Errorf("web1's weight is %d, want its configured 1", rs.Weight)
			}
		})
	}
}

// TestDiffSaysDrain: HISTORY says when a drain begins and ends, and a
// drain changes no registered field.
func TestDiffSaysDrain(t *testing.T) {
	a := mergeBase()
	b := a.Clone()
	rsIn(b, "www", "web2").StartDrain()
	got := config.Diff(a, b)
	if len(got) != 1 || !strings.Contains(got[0], "real server web2: draining") {
		t.Errorf("Diff = %q, want web2 draining", got)
	}
	c := b.Clone()
	rsIn(c, "www", "web2").SetActive(false)
	got = config.Diff(b, c)
	if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "no longer draining") }) {
		t.Errorf("Diff = %q, want web2 no longer draining", got)
	}
}
