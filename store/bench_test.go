package store

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// large returns a configuration of nv virtual servers with nr real servers
// each.
func large(nv, nr int) *config.Config {
	c := config.Default()
	for i := range nv {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active = true
		vs.Address = netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		for j := range nr {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active = true
			rs.Address = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	return c
}

// BenchmarkUpdateOneWeight measures an admin's edit of one weight in a
// configuration of 1,000 virtual servers x 10 real servers: read, validate,
// diff, write one row, record the revision.
func BenchmarkUpdateOneWeight(b *testing.B) {
	st := openTest(b)
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large(1000, 10)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "bench"}, func(c *config.Config) error {
			c.Virtuals[500].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadConfig measures reading that configuration.
func BenchmarkLoadConfig(b *testing.B) {
	st := openTest(b)
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large(1000, 10)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Config(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplaceLarge measures importing 1,000 x 10 into an empty store.
func BenchmarkReplaceLarge(b *testing.B) {
	c := large(1000, 10)
	for b.Loop() {
		b.StopTimer()
		st := openTest(b)
		b.StartTimer()
		if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadConfigCold measures reading it from the tables, as a process
// does at start or after another process wrote (no cache).
func BenchmarkLoadConfigCold(b *testing.B) {
	st := openTest(b)
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large(1000, 10)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := loadConfig(ctx, st.ro); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEditDraftOneWeight is BenchmarkUpdateOneWeight's edit made in
// a user's pending changes instead, and BenchmarkApplyDraft the APPLY of
// one such change.
func BenchmarkEditDraftOneWeight(b *testing.B) {
	st := openTest(b)
	if err := st.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large(1000, 10)); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
			c.Virtuals[500].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyDraft(b *testing.B) {
	st := openTest(b)
	if err := st.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large(1000, 10)); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
			c.Virtuals[500].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, Apply{Version: AnyVersion}); err != nil {
			b.Fatal(err)
		}
	}
}
