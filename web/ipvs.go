package web

import (
	"context"
	"io"
	"strconv"

	"github.com/a-h/templ"
)

// ipvsService writes one service of the routing table and its
// destinations. It is Go rather than templ: a table of 10,000 destinations
// is most of CONTROL/MONITORING, and templ formats every value with fmt
// (the page took twice as long).
func ipvsService(s IPVSService) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		// w is templ's buffered writer already: write to it directly.
		b := &stringWriter{w: w}
		var num [24]byte
		text := func(v string) { b.WriteString(templ.EscapeString(v)) }
		td := func(v string) {
			b.WriteString("<td>")
			text(v)
			b.WriteString("</td>")
		}
		// Numbers are right-aligned by their column (console.css), not by a
		// class on each of 80,000 cells.
		tdNum := func(v string) {
			b.WriteString("<td>")
			b.WriteString(v) // digits and units only
			b.WriteString("</td>")
		}
		u := func(n uint64) string { return string(strconv.AppendUint(num[:0], n, 10)) }
		// A counter as ipvsadm writes it (1234M), so that the table fits
		// its card; the exact figure on hover. Written as bytes: two
		// counters a row of 10,000 would be 20,000 strings.
		var cnt [24]byte
		count := func(n uint64) {
			c, exact := AppendCount(cnt[:0], n)
			if exact {
				b.WriteString("<td>")
			} else {
				b.WriteString(`<td title="`)
				b.Write(strconv.AppendUint(num[:0], n, 10))
				b.WriteString(`">`)
			}
			b.Write(c)
			b.WriteString("</td>")
		}
		stats := func(st StatCells) {
			count(st.Conns)
			count(st.Packets)
			tdNum(Bytes(st.Bytes))
			tdNum(Rate(st.CPS))
			tdNum(Rate(st.BPS))
		}
		b.WriteString(`<tbody><tr class="service-row"><td>`)
		text(s.Service)
		if s.Virtual != "" {
			b.WriteString(` <span class="muted">`)
			text(s.Virtual)
			b.WriteString(`</span>`)
		} else {
			b.WriteString(` <span class="badge off">not lvsconsole's</span>`)
		}
		b.WriteString("</td>")
		td(s.Scheduler)
		b.WriteString(`<td colspan="6" class="muted">`)
		text(s.Flags)
		b.WriteString("</td>")
		stats(s.Stats)
		b.WriteString("</tr>\n")
		for _, d := range s.Dests {
			b.WriteString(`<tr data-dest="`)
			text(d.Addr)
			b.WriteString(`"><td colspan="3"></td>`)
			td(d.Addr)
			td(d.Forward)
			tdNum(strconv.FormatInt(int64(d.Weight), 10))
			tdNum(u(uint64(d.Active)))
			tdNum(u(uint64(d.Inactive)))
			stats(d.Stats)
			b.WriteString("</tr>\n")
		}
		b.WriteString("</tbody>\n")
		return b.err
	})
}

// stringWriter writes strings to w, keeping the first error.
type stringWriter struct {
	w   io.Writer
	err error
}

func (s *stringWriter) WriteString(v string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, v)
	}
}

// Write writes p to w, keeping the first error.
func (s *stringWriter) Write(p []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
}
