package store

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestLoadPacksReals: a configuration read from the database has each
// virtual server's real servers in their order, with no room to grow (an
// append by a reader copies them rather than overwriting the next virtual
// server's), and a virtual server without any has none.
func TestLoadPacksReals(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	_, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		for i, n := range []int{3, 0, 1, 5} {
			vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
			vs.Address, vs.Port = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 80
			for j := range n {
				rs := config.NewReal(fmt.Sprintf("rs%d", j))
				rs.Address, rs.Weight = netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)}), int64(j+1)
				vs.Reals = append(vs.Reals, rs)
			}
			c.Virtuals = append(c.Virtuals, vs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := loadConfig(ctx, st.ro)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, saved) {
		t.Fatalf("read back\n%+v\nsaved\n%+v", got, saved)
	}
	if cap(got.Virtuals) != len(got.Virtuals) {
		t.Errorf("virtual servers: capacity %d for %d", cap(got.Virtuals), len(got.Virtuals))
	}
	for i, vs := range got.Virtuals {
		if cap(vs.Reals) != len(vs.Reals) {
			t.Errorf("%s: capacity %d for %d real servers", vs.Name, cap(vs.Reals), len(vs.Reals))
		}
		if len(vs.Reals) == 0 && vs.Reals != nil {
			t.Errorf("%s: an empty list of real servers, not none", vs.Name)
		}
		for j, rs := range vs.Reals {
			if want := netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j + 1)}); rs.Address != want {
				t.Errorf("%s: real server %d is %v, want %v", vs.Name, j, rs.Address, want)
			}
		}
	}
}
