package store

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/kaexport"
	"github.com/lvsconsole/lvsconsole/lvs/keepalived"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
)

// Issue 20: the store at ten times BenchmarkUpdateOneWeight's size, 10,000
// virtual servers x 10 real servers (100,000 real servers).

// large20 returns nv virtual servers of nr real servers each, every
// address distinct (nv up to 65,000).
func large20(nv, nr int) *config.Config {
	c := config.Default()
	for i := range nv {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active = true
		vs.Address = netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(1 + i%250)})
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

// cpuPerOp starts counting the CPU time the process spends (user and
// system, the GC's included) and returns the func that reports it per
// iteration: on a machine shared with other work the wall time spreads,
// this much less. Call it after the setup, and its func after the loop.
func cpuPerOp(b *testing.B) func() {
	b.Helper()
	runtime.GC() // the setup's garbage is not the edit's
	start := cpuTime(b)
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		}
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func open20(b *testing.B) *Store {
	b.Helper()
	st := openTest(b)
	if err := st.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, large20(10000, 10)); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkUpdateOneWeight10000x10 is one weight applied at once
// (store.Update: the API's ?apply=now): read, validate, diff, one row, the
// revision, the commit.
func BenchmarkUpdateOneWeight10000x10(b *testing.B) {
	st := open20(b)
	done := cpuPerOp(b)
	for i := 0; b.Loop(); i++ {
		if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "bench"}, func(c *config.Config) error {
			c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkEditDraftOneWeight10000x10 is the console's ACCEPT of that
// weight (into the user's pending changes), and
// BenchmarkApplyDraft10000x10 its APPLY.
func BenchmarkEditDraftOneWeight10000x10(b *testing.B) {
	st := open20(b)
	done := cpuPerOp(b)
	for i := 0; b.Loop(); i++ {
		if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
			c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func BenchmarkApplyDraft10000x10(b *testing.B) {
	st := open20(b)
	done := cpuPerOp(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
			c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, Apply{Version: AnyVersion}); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkReplace10000x10 is the store's part of an import: the whole
// configuration into an empty database.
func BenchmarkReplace10000x10(b *testing.B) {
	c := large20(10000, 10)
	done := cpuPerOp(b)
	for b.Loop() {
		b.StopTimer()
		st := openTest(b)
		b.StartTimer()
		if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "bench"}, c); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// BenchmarkAdopt10000x10 is the standby's part of the configuration sync:
// the active's configuration, one weight different, adopted at its serial.
func BenchmarkAdopt10000x10(b *testing.B) {
	st := open20(b)
	c := large20(10000, 10)
	cur, err := st.Config(ctx)
	if err != nil {
		b.Fatal(err)
	}
	done := cpuPerOp(b)
	for i := 0; b.Loop(); i++ {
		c.Serial = cur.Serial + int64(i) + 1
		c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
		if _, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer"}, c); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// Import and export at 10,000 x 10 through the real parsers and writers
// and the store, as `lvsconsole import` and the console's upload do: the
// file parsed and validated, then saved whole into a store holding the
// default configuration (a first import) or the same 10,000 x 10 with one
// weight different (a re-import).

func files20(b *testing.B) (cf, ka []byte) {
	b.Helper()
	c := large20(10000, 10)
	var buf bytes.Buffer
	if err := lvscf.Format(&buf, c); err != nil {
		b.Fatal(err)
	}
	cf = bytes.Clone(buf.Bytes())
	buf.Reset()
	if _, err := kaexport.Write(&buf, c, kaexport.Primary); err != nil {
		b.Fatal(err)
	}
	return cf, bytes.Clone(buf.Bytes())
}

func importCF(b *testing.B, st *Store, data []byte) {
	c, _, err := lvscf.Import(context.Background(), bytes.NewReader(data), lvscf.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "import", Note: "import of lvs.cf", Elevated: true}, c); err != nil {
		b.Fatal(err)
	}
}

func importKA(b *testing.B, st *Store, data []byte) {
	c, _, err := keepalived.Import("keepalived.conf", data, keepalived.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "import", Note: "import of keepalived.conf", Elevated: true}, c); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkImportLVSCF10000x10(b *testing.B) {
	cf, _ := files20(b)
	b.SetBytes(int64(len(cf)))
	done := cpuPerOp(b)
	for b.Loop() {
		b.StopTimer()
		st := openTest(b)
		b.StartTimer()
		importCF(b, st, cf)
	}
	done()
}

func BenchmarkImportKeepalived10000x10(b *testing.B) {
	_, ka := files20(b)
	b.SetBytes(int64(len(ka)))
	done := cpuPerOp(b)
	for b.Loop() {
		b.StopTimer()
		st := openTest(b)
		b.StartTimer()
		importKA(b, st, ka)
	}
	done()
}

// BenchmarkReimportLVSCF10000x10 imports, over the same 10,000 x 10, the
// file with one weight different.
func BenchmarkReimportLVSCF10000x10(b *testing.B) {
	st := open20(b)
	c := large20(10000, 10)
	done := cpuPerOp(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
		var buf bytes.Buffer
		if err := lvscf.Format(&buf, c); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		importCF(b, st, buf.Bytes())
	}
	done()
}

// BenchmarkExportLVSCF10000x10 and BenchmarkExportKeepalived10000x10 read
// the configuration from the store and write the file.
func BenchmarkExportLVSCF10000x10(b *testing.B) {
	st := open20(b)
	var buf bytes.Buffer
	done := cpuPerOp(b)
	for b.Loop() {
		buf.Reset()
		c, err := st.Config(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := lvscf.Format(&buf, c); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
	done()
}

func BenchmarkExportKeepalived10000x10(b *testing.B) {
	st := open20(b)
	var buf bytes.Buffer
	done := cpuPerOp(b)
	for b.Loop() {
		buf.Reset()
		c, err := st.Config(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := kaexport.Write(&buf, c, kaexport.Primary); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
	done()
}
