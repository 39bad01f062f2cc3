package lvscf

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// largeFile is the lvs.cf of 1,000 virtual servers x 10 real servers.
func largeFile(b *testing.B) []byte {
	c := config.Default()
	for i := range 1000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active = true
		vs.Address = netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active = true
			rs.Address = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	var buf bytes.Buffer
	if err := Format(&buf, c); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkParseLarge measures importing 1,000 x 10 (parse and validate).
func BenchmarkParseLarge(b *testing.B) {
	data := largeFile(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFormatLarge measures exporting it.
func BenchmarkFormatLarge(b *testing.B) {
	c, err := Parse(bytes.NewReader(largeFile(b)))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Format(&buf, c); err != nil {
			b.Fatal(err)
		}
	}
}
