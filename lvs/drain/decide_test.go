package drain

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
)

var t0 = time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)

// decideConfig is www (id 1) with web1 (id 11, draining since t0) and
// web2 (id 12, not draining), at serial 5.
func decideConfig() *config.Config {
	c := config.Default()
	c.Serial = 5
	vs := config.NewVirtual("www")
	vs.ID, vs.Active, vs.Address, vs.Port = 1, true, netip.MustParseAddr("192.0.2.10"), 80
	web1 := config.RealServer{ID: 11, Name: "web1", Active: true, Address: netip.MustParseAddr("10.0.0.1"), Weight: 5,
		Draining: true, DrainSince: t0}
	web2 := config.RealServer{ID: 12, Name: "web2", Active: true, Address: netip.MustParseAddr("10.0.0.2"), Weight: 5}
	vs.Reals = []config.RealServer{web1, web2}
	c.Virtuals = []config.VirtualServer{vs}
	return c
}

// status is the engine's status with web1 at weight and conns in the
// kernel (weight < 0: not in it), sampled at sampled, serial 5 applied.
func status(c *config.Config, weight int32, active, inactive uint32, sampled time.Time) engine.Status {
	vs := &c.Virtuals[0]
	t := engine.Desired(c, engine.Configured{})
	sk, dk := engine.Where(vs, &vs.Reals[0])
	s := t.Lookup(sk)
	for i := range s.Dests {
		if s.Dests[i].Key() == dk {
			s.Dests[i].Weight, s.Dests[i].ActiveConns, s.Dests[i].InactiveConns = weight, active, inactive
			if weight < 0 {
				s.Dests = append(s.Dests[:i], s.Dests[i+1:]...)
			}
			break
		}
	}
	return engine.Status{Available: true, Serial: c.Serial, Kernel: t, Sampled: sampled}
}

func TestDecide(t *testing.T) {
	k := drainKey{11, t0.UnixMilli()}
	seenAt := t0.Add(2 * time.Second)
	for _, tc := range []struct {
		name   string
		edit   func(*config.Config)
		st     func(*config.Config) engine.Status
		zero   map[drainKey]time.Time
		now    time.Time
		want   string // the End's Why, "" for none
		zeroAt time.Time
	}{
		{name: "no connections, sampled after weight 0 was seen",
			st:   func(c *config.Config) engine.Status { return status(c, 0, 0, 0, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second),
			want: "its connections ended", zeroAt: seenAt},
		{name: "weight 0 seen now: wait for a sample after it",
			st:  func(c *config.Config) engine.Status { return status(c, 0, 0, 0, t0.Add(3*time.Second)) },
			now: t0.Add(4 * time.Second), zeroAt: t0.Add(4 * time.Second)},
		{name: "a sample from before weight 0 was seen does not count",
			st:   func(c *config.Config) engine.Status { return status(c, 0, 0, 0, seenAt.Add(-time.Millisecond)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second), zeroAt: seenAt},
		{name: "active connections left",
			st:   func(c *config.Config) engine.Status { return status(c, 0, 1, 0, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second), zeroAt: seenAt},
		{name: "inactive connections left",
			st:   func(c *config.Config) engine.Status { return status(c, 0, 0, 3, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second), zeroAt: seenAt},
		{name: "the kernel still has its weight: the engine has not applied it",
			st:   func(c *config.Config) engine.Status { return status(c, 5, 0, 0, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second)},
		{name: "configuration not applied yet",
			st: func(c *config.Config) engine.Status {
				s := status(c, 0, 0, 0, seenAt.Add(time.Second))
				s.Serial--
				return s
			},
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(4 * time.Second)},
		{name: "IPVS unavailable: nothing known",
			st:  func(c *config.Config) engine.Status { return engine.Status{Serial: c.Serial} },
			now: t0.Add(time.Hour)},
		{name: "not in the table (a check took it out)",
			st:  func(c *config.Config) engine.Status { return status(c, -1, 0, 0, t0) },
			now: t0.Add(time.Second), want: "not in the IPVS table"},
		{name: "virtual server inactive",
			edit: func(c *config.Config) { c.Virtuals[0].Active = false },
			st: func(c *config.Config) engine.Status {
				return engine.Status{Available: true, Serial: c.Serial, Kernel: &engine.Table{}}
			},
			now: t0.Add(time.Second), want: "not in the IPVS table"},
		{name: "longest drain passed with connections left",
			edit: func(c *config.Config) { c.Virtuals[0].DrainTimeout = time.Minute },
			st:   func(c *config.Config) engine.Status { return status(c, 0, 7, 2, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(time.Minute),
			want: "its longest drain (1m0s) passed, 9 connections left"},
		{name: "longest drain passed, IPVS unavailable",
			edit: func(c *config.Config) { c.Virtuals[0].DrainTimeout = time.Minute },
			st:   func(c *config.Config) engine.Status { return engine.Status{Serial: c.Serial} },
			now:  t0.Add(2 * time.Minute), want: "its longest drain (1m0s) passed, connections not counted"},
		{name: "longest drain not passed yet",
			edit: func(c *config.Config) { c.Virtuals[0].DrainTimeout = time.Minute },
			st:   func(c *config.Config) engine.Status { return status(c, 0, 7, 2, seenAt.Add(time.Second)) },
			zero: map[drainKey]time.Time{k: seenAt}, now: t0.Add(time.Minute - time.Millisecond), zeroAt: seenAt},
		{name: "inactive server: no drain",
			edit: func(c *config.Config) { c.Virtuals[0].Reals[0].Active = false },
			st:   func(c *config.Config) engine.Status { return status(c, -1, 0, 0, t0) },
			now:  t0.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := decideConfig()
			if tc.edit != nil {
				tc.edit(c)
			}
			ends, zero := Decide(c, tc.st(c), tc.zero, tc.now)
			switch {
			case tc.want == "" && len(ends) != 0:
				t.Errorf("ends %+v, want none", ends)
			case tc.want != "" && (len(ends) != 1 || !strings.HasPrefix(ends[0].Why, tc.want)):
				t.Errorf("ends %+v, want web1's: %s", ends, tc.want)
			case tc.want != "" && (ends[0].VID != 1 || ends[0].RID != 11 || ends[0].Real != "web1" || !ends[0].Since.Equal(t0)):
				t.Errorf("end %+v is not web1's drain", ends[0])
			}
			if got := zero[k]; !got.Equal(tc.zeroAt) || tc.zeroAt.IsZero() && len(zero) != 0 {
				t.Errorf("remembers %v, want web1's weight 0 seen at %v", zero, tc.zeroAt)
			}
		})
	}
}
