package config_test

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// mergeBase is the configuration a draft is made on: www (id 1) with web1
// and web2, dns (id 2) with ns1.
func mergeBase() *config.Config {
	c := config.Default()
	c.Serial = 7
	www := config.NewVirtual("www")
	www.ID = 1
	www.Reals = []config.RealServer{newReal(11, "web1"), newReal(12, "web2")}
	dns := config.NewVirtual("dns")
	dns.ID, dns.Protocol, dns.Port = 2, config.UDP, 53
	dns.Reals = []config.RealServer{newReal(21, "ns1")}
	c.Virtuals = []config.VirtualServer{www, dns}
	return c
}

func newReal(id int64, name string) config.RealServer {
	rs := config.NewReal(name)
	rs.ID = id
	return rs
}

func newVirtual(id int64, name string, port int) config.VirtualServer {
	vs := config.NewVirtual(name)
	vs.ID, vs.Port = id, port
	return vs
}

// vsIn and rsIn return an entry by name; a test that asks for a missing
// one is wrong, and says which.
func vsIn(c *config.Config, name string) *config.VirtualServer {
	if vs := c.Virtual(name); vs != nil {
		return vs
	}
	panic("no virtual server " + name)
}

func rsIn(c *config.Config, vs, name string) *config.RealServer {
	if rs := vsIn(c, vs).Real(name); rs != nil {
		return rs
	}
	panic("no real server " + name + " in " + vs)
}

func deleteVirtual(c *config.Config, name string) {
	c.Virtuals = slices.DeleteFunc(c.Virtuals, func(vs config.VirtualServer) bool { return vs.Name == name })
}

func deleteReal(c *config.Config, vs, name string) {
	v := vsIn(c, vs)
	v.Reals = slices.DeleteFunc(v.Reals, func(rs config.RealServer) bool { return rs.Name == name })
}

// order writes the entries of c in order: "www[web1 web2] dns[ns1]".
func order(c *config.Config) string {
	var b strings.Builder
	for i, vs := range c.Virtuals {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vs.Name + "[")
		for j, rs := range vs.Reals {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(rs.Name)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// sameConfig compares deeply, an empty list of reals being none (Clone
// makes them so).
func sameConfig(a, b *config.Config) bool { return reflect.DeepEqual(a.Clone(), b.Clone()) }

func conflictLines(cs []config.Conflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// TestMerge: each rule of the rebase of a draft (yours) made on base onto
// the running configuration (theirs).
func TestMerge(t *testing.T) {
	none := func(*config.Config) {}
	for _, tc := range []struct {
		name   string
		base   func(c *config.Config) // changes to mergeBase, if any
		theirs func(c *config.Config) // their changes to base
		yours  func(c *config.Config) // your changes to base
		want   func(c *config.Config) // the merge, as changes to base
		// conflicts are their String()s.
		conflicts []string
	}{
		{name: "nothing changed", theirs: none, yours: none, want: none},

		// Fields.
		{name: "a global field changed by you",
			theirs: none,
			yours:  func(c *config.Config) { c.Global.TCPTimeout = 900 },
			want:   func(c *config.Config) { c.Global.TCPTimeout = 900 }},
		{name: "a redundancy field changed by them",
			theirs: func(c *config.Config) { c.Redundancy.Keepalive = 2 * time.Second },
			yours:  none,
			want:   func(c *config.Config) { c.Redundancy.Keepalive = 2 * time.Second }},
		{name: "different fields of one entry changed by each: both kept",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { vsIn(c, "www").Scheduler = "rr"; rsIn(c, "www", "web1").Weight = 3 },
			want: func(c *config.Config) {
				vsIn(c, "www").Port, vsIn(c, "www").Scheduler, rsIn(c, "www", "web1").Weight = 8080, "rr", 3
			}},
		{name: "a field changed by both to the same value",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			want:   func(c *config.Config) { vsIn(c, "www").Port = 8080 }},
		{name: "a field changed by both differently keeps theirs",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { vsIn(c, "www").Port = 81; vsIn(c, "www").Scheduler = "rr" },
			want:   func(c *config.Config) { vsIn(c, "www").Port = 8080; vsIn(c, "www").Scheduler = "rr" },
			conflicts: []string{
				"virtual server www: Application port (port): was 80, now 8080 in the running configuration, 81 in your changes",
			}},
		{name: "conflicts in global, redundancy and a real server",
			theirs: func(c *config.Config) {
				c.Global.Network = config.NAT
				c.Redundancy.Keepalive = 2 * time.Second
				rsIn(c, "www", "web1").Weight = 5
			},
			yours: func(c *config.Config) {
				c.Global.Network = config.Tunnel
				c.Redundancy.Keepalive = 3 * time.Second
				rsIn(c, "www", "web1").Weight = 3
			},
			want: func(c *config.Config) {
				c.Global.Network = config.NAT
				c.Redundancy.Keepalive = 2 * time.Second
				rsIn(c, "www", "web1").Weight = 5
			},
			conflicts: []string{
				"global: Use network type (network): was direct, now nat in the running configuration, tunnel in your changes",
				"redundancy: Heartbeat interval (keepalive): was 6s, now 2s in the running configuration, 3s in your changes",
				"virtual server www, real server web1: Weight (weight): was 1, now 5 in the running configuration, 3 in your changes",
			}},
		{name: "renamed by you, changed by them",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { vsIn(c, "www").Name = "site"; rsIn(c, "site", "web1").Name = "node1" },
			want: func(c *config.Config) {
				vsIn(c, "www").Port, vsIn(c, "www").Name = 8080, "site"
				rsIn(c, "site", "web1").Name = "node1"
			}},
		{name: "renamed by both differently: the conflict names theirs",
			theirs: func(c *config.Config) { vsIn(c, "www").Name = "site" },
			yours:  func(c *config.Config) { vsIn(c, "www").Name = "portal"; rsIn(c, "portal", "web1").Weight = 2 },
			want:   func(c *config.Config) { vsIn(c, "www").Name = "site"; rsIn(c, "site", "web1").Weight = 2 },
			conflicts: []string{
				`virtual server site: Name (name): was "www", now "site" in the running configuration, "portal" in your changes`,
			}},

		// Virtual servers deleted.
		{name: "deleted by you",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { deleteVirtual(c, "dns") },
			want:   func(c *config.Config) { vsIn(c, "www").Port = 8080; deleteVirtual(c, "dns") }},
		{name: "deleted by you, changed by them: theirs stays",
			theirs: func(c *config.Config) { vsIn(c, "dns").Port = 5353 },
			yours:  func(c *config.Config) { deleteVirtual(c, "dns") },
			want:   func(c *config.Config) { vsIn(c, "dns").Port = 5353 },
			conflicts: []string{
				"virtual server dns: was present, now changed in the running configuration, deleted in your changes",
			}},
		{name: "deleted by you, a real server of it changed by them",
			theirs: func(c *config.Config) { rsIn(c, "dns", "ns1").Weight = 2 },
			yours:  func(c *config.Config) { deleteVirtual(c, "dns") },
			want:   func(c *config.Config) { rsIn(c, "dns", "ns1").Weight = 2 },
			conflicts: []string{
				"virtual server dns: was present, now changed in the running configuration, deleted in your changes",
			}},
		{name: "deleted by you, a real server added to it by them",
			theirs: func(c *config.Config) { vsIn(c, "dns").Reals = append(vsIn(c, "dns").Reals, newReal(22, "ns2")) },
			yours:  func(c *config.Config) { deleteVirtual(c, "dns") },
			want:   func(c *config.Config) { vsIn(c, "dns").Reals = append(vsIn(c, "dns").Reals, newReal(22, "ns2")) },
			conflicts: []string{
				"virtual server dns: was present, now changed in the running configuration, deleted in your changes",
			}},
		{name: "deleted by them",
			theirs: func(c *config.Config) { deleteVirtual(c, "dns") },
			yours:  func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			want:   func(c *config.Config) { vsIn(c, "www").Port = 8080; deleteVirtual(c, "dns") }},
		{name: "deleted by them, changed by you: it stays deleted",
			theirs: func(c *config.Config) { deleteVirtual(c, "dns") },
			yours:  func(c *config.Config) { vsIn(c, "dns").Scheduler = "rr" },
			want:   func(c *config.Config) { deleteVirtual(c, "dns") },
			conflicts: []string{
				"virtual server dns: was present, now deleted in the running configuration, changed in your changes",
			}},
		{name: "deleted by them, renamed by you: the conflict names yours",
			theirs: func(c *config.Config) { deleteVirtual(c, "dns") },
			yours:  func(c *config.Config) { vsIn(c, "dns").Name = "resolver" },
			want:   func(c *config.Config) { deleteVirtual(c, "dns") },
			conflicts: []string{
				"virtual server resolver: was present, now deleted in the running configuration, changed in your changes",
			}},
		{name: "deleted by them, a real server of it changed by you",
			theirs: func(c *config.Config) { deleteVirtual(c, "dns") },
			yours:  func(c *config.Config) { rsIn(c, "dns", "ns1").Active = true },
			want:   func(c *config.Config) { deleteVirtual(c, "dns") },
			conflicts: []string{
				"virtual server dns: was present, now deleted in the running configuration, changed in your changes",
			}},
		{name: "deleted by both",
			theirs: func(c *config.Config) { deleteVirtual(c, "dns") },
			yours:  func(c *config.Config) { deleteVirtual(c, "dns") },
			want:   func(c *config.Config) { deleteVirtual(c, "dns") }},

		// Virtual servers added.
		{name: "added by them",
			theirs: func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21)) },
			yours:  none,
			want:   func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21)) }},
		{name: "added by you, after theirs' additions, in your order",
			theirs: func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21)) },
			yours: func(c *config.Config) {
				c.Virtuals = append(c.Virtuals, newVirtual(-1, "mail", 25), newVirtual(-2, "imap", 143))
			},
			want: func(c *config.Config) {
				c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21), newVirtual(-1, "mail", 25), newVirtual(-2, "imap", 143))
			}},

		// Real servers.
		{name: "a real server added by you to a virtual server they changed",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { vsIn(c, "www").Reals = append(vsIn(c, "www").Reals, newReal(-1, "web3")) },
			want: func(c *config.Config) {
				vsIn(c, "www").Port = 8080
				vsIn(c, "www").Reals = append(vsIn(c, "www").Reals, newReal(-1, "web3"))
			}},
		{name: "real servers added by both, theirs first",
			theirs: func(c *config.Config) { vsIn(c, "www").Reals = append(vsIn(c, "www").Reals, newReal(13, "web3")) },
			yours:  func(c *config.Config) { vsIn(c, "www").Reals = append(vsIn(c, "www").Reals, newReal(-1, "web4")) },
			want: func(c *config.Config) {
				vsIn(c, "www").Reals = append(vsIn(c, "www").Reals, newReal(13, "web3"), newReal(-1, "web4"))
			}},
		{name: "a real server deleted by you",
			theirs: none,
			yours:  func(c *config.Config) { deleteReal(c, "www", "web2") },
			want:   func(c *config.Config) { deleteReal(c, "www", "web2") }},
		{name: "a real server deleted by you, changed by them: theirs stays",
			theirs: func(c *config.Config) { rsIn(c, "www", "web2").Weight = 9 },
			yours:  func(c *config.Config) { deleteReal(c, "www", "web2") },
			want:   func(c *config.Config) { rsIn(c, "www", "web2").Weight = 9 },
			conflicts: []string{
				"virtual server www, real server web2: was present, now changed in the running configuration, deleted in your changes",
			}},
		{name: "a real server deleted by them, changed by you: it stays deleted",
			theirs: func(c *config.Config) { deleteReal(c, "www", "web2") },
			yours:  func(c *config.Config) { rsIn(c, "www", "web2").Port = 8080 },
			want:   func(c *config.Config) { deleteReal(c, "www", "web2") },
			conflicts: []string{
				"virtual server www, real server web2: was present, now deleted in the running configuration, changed in your changes",
			}},
		{name: "a real server deleted by both",
			theirs: func(c *config.Config) { deleteReal(c, "www", "web2") },
			yours:  func(c *config.Config) { deleteReal(c, "www", "web2") },
			want:   func(c *config.Config) { deleteReal(c, "www", "web2") }},
		{name: "a virtual server's last real server deleted by them",
			theirs: func(c *config.Config) { deleteReal(c, "dns", "ns1") },
			yours:  func(c *config.Config) { vsIn(c, "dns").Port = 5353 },
			want:   func(c *config.Config) { deleteReal(c, "dns", "ns1"); vsIn(c, "dns").Port = 5353 }},

		// Entries without ids (not stored yet) are matched by name.
		{name: "without ids: changed by them, deleted by you",
			base: zeroIDs,
			theirs: func(c *config.Config) {
				vsIn(c, "www").Port = 8080
				rsIn(c, "dns", "ns1").Weight = 2
			},
			yours: func(c *config.Config) { deleteVirtual(c, "dns"); deleteReal(c, "www", "web1") },
			want: func(c *config.Config) {
				vsIn(c, "www").Port = 8080
				rsIn(c, "dns", "ns1").Weight = 2
				deleteReal(c, "www", "web1")
			},
			conflicts: []string{
				"virtual server dns: was present, now changed in the running configuration, deleted in your changes",
			}},
		{name: "without ids: added by both alike",
			base:   zeroIDs,
			theirs: func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(0, "ftp", 21)) },
			yours:  func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(0, "ftp", 21)) },
			want:   func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(0, "ftp", 21)) }},
		{name: "without ids: added by both differently",
			base: zeroIDs,
			theirs: func(c *config.Config) {
				ftp := newVirtual(0, "ftp", 21)
				ftp.Reals = []config.RealServer{newReal(0, "f1")}
				c.Virtuals = append(c.Virtuals, ftp)
			},
			yours: func(c *config.Config) {
				ftp := newVirtual(0, "ftp", 2121)
				ftp.Scheduler = "rr"
				f1 := newReal(0, "f1")
				f1.Weight = 4
				ftp.Reals = []config.RealServer{f1, newReal(0, "f2")}
				c.Virtuals = append(c.Virtuals, ftp)
			},
			want: func(c *config.Config) {
				ftp := newVirtual(0, "ftp", 21)
				ftp.Reals = []config.RealServer{newReal(0, "f1"), newReal(0, "f2")}
				c.Virtuals = append(c.Virtuals, ftp)
			},
			conflicts: []string{
				"virtual server ftp: Application port (port): was (none), now 21 in the running configuration, 2121 in your changes",
				"virtual server ftp: Scheduling (scheduler): was (none), now wlc in the running configuration, rr in your changes",
				"virtual server ftp, real server f1: Weight (weight): was (none), now 1 in the running configuration, 4 in your changes",
			}},

		// Order.
		{name: "reordered by them",
			theirs: func(c *config.Config) { slices.Reverse(c.Virtuals) },
			yours:  func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			want:   func(c *config.Config) { slices.Reverse(c.Virtuals); vsIn(c, "www").Port = 8080 }},
		{name: "reordered by you alone: your order",
			theirs: func(c *config.Config) { vsIn(c, "www").Port = 8080 },
			yours:  func(c *config.Config) { slices.Reverse(c.Virtuals); slices.Reverse(vsIn(c, "www").Reals) },
			want: func(c *config.Config) {
				slices.Reverse(c.Virtuals)
				slices.Reverse(vsIn(c, "www").Reals)
				vsIn(c, "www").Port = 8080
			}},
		{name: "reordered by you alone, added by both: theirs after what it follows in theirs, yours where you put it",
			theirs: func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21)) },
			yours: func(c *config.Config) {
				slices.Reverse(c.Virtuals)
				c.Virtuals = slices.Insert(c.Virtuals, 0, newVirtual(-1, "mail", 25))
			},
			want: func(c *config.Config) {
				c.Virtuals = []config.VirtualServer{newVirtual(-1, "mail", 25), *vsIn(c, "dns"), newVirtual(3, "ftp", 21), *vsIn(c, "www")}
			}},
		{name: "reordered by both: theirs' order",
			base: func(c *config.Config) { c.Virtuals = append(c.Virtuals, newVirtual(3, "ftp", 21)) },
			theirs: func(c *config.Config) {
				c.Virtuals = []config.VirtualServer{*vsIn(c, "ftp"), *vsIn(c, "www"), *vsIn(c, "dns")}
			},
			yours: func(c *config.Config) {
				c.Virtuals = []config.VirtualServer{*vsIn(c, "dns"), *vsIn(c, "www"), *vsIn(c, "ftp")}
			},
			want: func(c *config.Config) {
				c.Virtuals = []config.VirtualServer{*vsIn(c, "ftp"), *vsIn(c, "www"), *vsIn(c, "dns")}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := mergeBase()
			if tc.base != nil {
				tc.base(base)
			}
			theirs, yours, want := base.Clone(), base.Clone(), base.Clone()
			theirs.Serial = base.Serial + 3
			tc.theirs(theirs)
			tc.yours(yours)
			want.Serial = theirs.Serial
			tc.want(want)
			before := []*config.Config{base.Clone(), theirs.Clone(), yours.Clone()}

			got, cs := config.Merge(base, theirs, yours)

			if !sameConfig(got, want) {
				t.Errorf("merged:\n %s\nwant\n %s\nDiff(want, merged): %q", order(got), order(want), config.Diff(want, got))
				if got.Serial != want.Serial {
					t.Errorf("serial %d, want theirs' %d", got.Serial, want.Serial)
				}
			}
			if lines := conflictLines(cs); !slices.Equal(lines, tc.conflicts) {
				t.Errorf("conflicts:\n %q\nwant\n %q", lines, tc.conflicts)
			}
			// Neither Merge nor a change of its result touches the inputs.
			scribble(got)
			for i, in := range []*config.Config{base, theirs, yours} {
				if !sameConfig(in, before[i]) {
					t.Errorf("input %d changed: %q", i, config.Diff(before[i], in))
				}
			}
		})
	}
}

func zeroIDs(c *config.Config) {
	for i := range c.Virtuals {
		c.Virtuals[i].ID = 0
		for j := range c.Virtuals[i].Reals {
			c.Virtuals[i].Reals[j].ID = 0
		}
	}
}

// scribble changes everything of c in place, as a caller may.
func scribble(c *config.Config) {
	c.Global.TCPTimeout++
	c.Redundancy.SyncID++
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		vs.Name += "-scribbled"
		for j := range vs.Reals {
			vs.Reals[j].Weight += 100
		}
		vs.Reals = append(vs.Reals[:cap(vs.Reals)], config.NewReal("scribble"))
	}
}

// TestConflictFields: a conflict carries the field's registry label and
// key and HISTORY's values; over an entry, words.
func TestConflictFields(t *testing.T) {
	base := mergeBase()
	theirs, yours := base.Clone(), base.Clone()
	rsIn(theirs, "www", "web1").Forward = config.NAT
	rsIn(yours, "www", "web1").Forward = config.Tunnel
	vsIn(theirs, "dns").Send = "PING"
	deleteVirtual(yours, "dns")
	_, cs := config.Merge(base, theirs, yours)
	want := []config.Conflict{
		{Where: "virtual server www, real server web1", Label: "Forwarding method", Key: "fwd",
			Base: "(global setting)", Theirs: "nat", Yours: "tunnel"},
		{Where: "virtual server dns", Base: "present", Theirs: "changed", Yours: "deleted"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("conflicts:\n %+v\nwant\n %+v", cs, want)
	}
}

func TestConflictString(t *testing.T) {
	for _, tc := range []struct {
		c    config.Conflict
		want string
	}{
		{config.Conflict{Where: "virtual server www", Label: "Application port", Key: "port", Base: "80", Theirs: "8080", Yours: "81"},
			"virtual server www: Application port (port): was 80, now 8080 in the running configuration, 81 in your changes"},
		{config.Conflict{Where: "global", Label: "Primary server public IP", Key: "primary", Base: "(none)", Theirs: "192.0.2.1", Yours: "192.0.2.9"},
			"global: Primary server public IP (primary): was (none), now 192.0.2.1 in the running configuration, 192.0.2.9 in your changes"},
		{config.Conflict{Where: "virtual server www, real server web1", Base: "present", Theirs: "deleted", Yours: "changed"},
			"virtual server www, real server web1: was present, now deleted in the running configuration, changed in your changes"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("String() = %q\nwant       %q", got, tc.want)
		}
	}
}

// TestMergeEveryField: for every field of the registry, a change by one
// side is kept, the same change by both is no conflict, and different
// changes are a conflict naming the field, with HISTORY's values. A new
// field is covered as soon as it is registered.
func TestMergeEveryField(t *testing.T) {
	mergeEveryField(t, "global", config.GlobalFields,
		func(c *config.Config) *config.Global { return &c.Global },
		func(*config.Config) string { return "global" })
	mergeEveryField(t, "redundancy", config.RedundancyFields,
		func(c *config.Config) *config.Redundancy { return &c.Redundancy },
		func(*config.Config) string { return "redundancy" })
	mergeEveryField(t, "virtual", config.VirtualFields,
		func(c *config.Config) *config.VirtualServer { return &c.Virtuals[0] },
		func(c *config.Config) string { return "virtual server " + c.Virtuals[0].Name })
	mergeEveryField(t, "server", config.RealFields,
		func(c *config.Config) *config.RealServer { return &c.Virtuals[0].Reals[0] },
		func(c *config.Config) string {
			return "virtual server " + c.Virtuals[0].Name + ", real server " + c.Virtuals[0].Reals[0].Name
		})
}

func mergeEveryField[T any](t *testing.T, section string, fs config.Fields[T], at func(*config.Config) *T, where func(*config.Config) string) {
	for i := range fs {
		f := &fs[i]
		t.Run(section+" "+f.Form, func(t *testing.T) {
			// Names unlike the examples, and ids, so that a new name is
			// a rename.
			base := config.Default()
			vs, rs := config.NewVirtual("site"), config.NewReal("node1")
			vs.ID, rs.ID = 1, 2
			vs.Reals = []config.RealServer{rs}
			base.Virtuals = []config.VirtualServer{vs}

			changed := base.Clone()
			if err := f.SetText(at(changed), f.Example); err != nil {
				t.Fatalf("example %q: %v", f.Example, err)
			}
			if f.Value(at(changed)) == f.Value(at(base)) {
				t.Fatalf("example %q is the default", f.Example)
			}
			for _, side := range []struct {
				name          string
				theirs, yours *config.Config
			}{
				{"yours alone", base, changed},
				{"theirs alone", changed, base},
				{"both alike", changed, changed},
			} {
				got, cs := config.Merge(base, side.theirs, side.yours)
				if len(cs) != 0 {
					t.Errorf("%s: conflicts %q", side.name, conflictLines(cs))
				}
				if !sameConfig(got, changed) {
					t.Errorf("%s: not kept: Diff(changed, merged) = %q", side.name, config.Diff(changed, got))
				}
			}

			// A bool has no third value: two changes of it are alike.
			if f.Kind == config.KindBool {
				return
			}
			other := base.Clone()
			f.Copy(at(other), thirdValue(t, f, at(base), at(changed)))
			got, cs := config.Merge(base, changed, other)
			if len(cs) != 1 {
				t.Fatalf("different changes: conflicts %q, want 1", conflictLines(cs))
			}
			c := cs[0]
			if c.Where != where(changed) || c.Label != f.Label || c.Key != f.Key {
				t.Errorf("conflict %+v: want Where %q, Label %q, Key %q", c, where(changed), f.Label, f.Key)
			}
			if f.Secret {
				// Nor does a conflict say what a secret is.
				for _, v := range []string{c.Base, c.Theirs, c.Yours} {
					if v != "(none)" && v != "(hidden)" {
						t.Errorf("conflict %+v shows the secret", c)
					}
				}
				if !sameConfig(got, changed) {
					t.Errorf("a conflict does not keep theirs: Diff(theirs, merged) = %q", config.Diff(changed, got))
				}
				return
			}
			// Its values are HISTORY's.
			for _, d := range []struct {
				side  *config.Config
				value string
			}{{changed, c.Theirs}, {other, c.Yours}} {
				line := fmt.Sprintf(": %s (%s) %s -> %s", f.Label, f.Key, c.Base, d.value)
				if !slices.ContainsFunc(config.Diff(base, d.side), func(s string) bool { return strings.HasSuffix(s, line) }) {
					t.Errorf("conflict %+v: HISTORY says %q", c, config.Diff(base, d.side))
				}
			}
			if !sameConfig(got, changed) {
				t.Errorf("a conflict does not keep theirs: Diff(theirs, merged) = %q", config.Diff(changed, got))
			}
		})
	}
}

// thirdValue returns an entry whose field f is neither a's nor b's: a
// choice of an enum, or a small number, address or text.
func thirdValue[T any](t *testing.T, f *config.Field[T], a, b *T) *T {
	t.Helper()
	var cands []string
	for _, c := range f.Choices {
		cands = append(cands, c.Value)
	}
	for n := range 10 {
		cands = append(cands, strconv.Itoa(n+1), "192.0.2."+strconv.Itoa(n+1))
	}
	for _, s := range cands {
		x := *b
		if f.SetText(&x, s) == nil && f.Value(&x) != f.Value(a) && f.Value(&x) != f.Value(b) {
			return &x
		}
	}
	t.Fatalf("no third value of %s", f.Key)
	return nil
}

// TestMergeKnowsEveryModelField: Merge merges the registry's fields and
// handles the others itself: ids (by matching entries), the lists of
// entries and the serial. A new field outside the registry fails here
// until Merge handles it.
func TestMergeKnowsEveryModelField(t *testing.T) {
	checkUnregistered(t, config.GlobalFields)
	checkUnregistered(t, config.RedundancyFields)
	checkUnregistered(t, config.VirtualFields, "ID", "Reals")
	checkUnregistered(t, config.RealFields, "ID", "Draining", "DrainSince")
	var names []string
	for f := range reflect.TypeFor[config.Config]().Fields() {
		names = append(names, f.Name)
	}
	if want := []string{"Serial", "Global", "Redundancy", "Virtuals"}; !slices.Equal(names, want) {
		t.Errorf("Config has %v; Merge handles %v", names, want)
	}
}

func checkUnregistered[T any](t *testing.T, fs config.Fields[T], handled ...string) {
	t.Helper()
	registered := map[string]bool{}
	for i := range fs {
		registered[goField(t, fs[i].Ref).Name] = true
	}
	var others []string
	for f := range reflect.TypeFor[T]().Fields() {
		if !registered[f.Name] {
			others = append(others, f.Name)
		}
	}
	if !slices.Equal(others, handled) {
		t.Errorf("%s has %v outside the registry; Merge handles %v", reflect.TypeFor[T]().Name(), others, handled)
	}
}
