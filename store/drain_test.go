package store

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestDrainIsStamped: the store sets when a drain begins, keeps it while
// the drain goes on whatever a change brings (a draft made earlier, a
// revision), clears it with the drain and for a server that is not
// active, and the drain comes back from the database.
func TestDrainIsStamped(t *testing.T) {
	st := openTest(t)
	now := time.Date(2026, 12, 2, 15, 0, 0, 123456789, time.UTC)
	st.now = func() time.Time { return now }
	cfg := config.Default()
	vs := config.NewVirtual("www")
	vs.Active, vs.Address = true, netip.MustParseAddr("192.0.2.10")
	vs.Reals = []config.RealServer{{Name: "web1", Active: true, Address: netip.MustParseAddr("10.0.0.1"), Weight: 5}}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(rs *config.RealServer)) config.RealServer {
		t.Helper()
		saved, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
			fn(&c.Virtuals[0].Reals[0])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := loadConfig(ctx, st.ro)
		if err != nil {
			t.Fatal(err)
		}
		got.Serial = saved.Serial
		if !reflect.DeepEqual(got, saved) {
			t.Fatalf("the database gives back %+v, saved %+v", got.Virtuals[0].Reals[0], saved.Virtuals[0].Reals[0])
		}
		return saved.Virtuals[0].Reals[0]
	}
	began := now.Truncate(time.Millisecond)
	if rs := edit((*config.RealServer).StartDrain); !rs.Draining || !rs.DrainSince.Equal(began) || rs.Weight != 5 {
		t.Fatalf("drained: %+v, want draining since %v at weight 5", rs, began)
	}
	now = now.Add(time.Minute)
	if rs := edit(func(rs *config.RealServer) { rs.Weight = 7 }); !rs.Draining || !rs.DrainSince.Equal(began) {
		t.Errorf("a weight change moved the drain: %+v", rs)
	}
	_, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals[0].Reals[0].DrainSince = time.Time{} // as a draft made before would have it
		return nil
	})
	if !errors.Is(err, ErrNoChange) {
		t.Errorf("a change of the drain's time alone = %v, want ErrNoChange (the drain goes on as it was)", err)
	}
	if rs := edit(func(rs *config.RealServer) { rs.Active = false }); rs.Draining || !rs.DrainSince.IsZero() {
		t.Errorf("deactivated, still draining: %+v", rs)
	}
	if rs := edit(func(rs *config.RealServer) { rs.Active, rs.Draining = true, true }); !rs.DrainSince.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("a new drain is stamped %v, want %v", rs.DrainSince, now)
	}
	if rs := edit(func(rs *config.RealServer) { rs.SetActive(true) }); rs.Draining || !rs.DrainSince.IsZero() || rs.Weight != 7 {
		t.Errorf("activated: %+v, want no drain at weight 7", rs)
	}
}
