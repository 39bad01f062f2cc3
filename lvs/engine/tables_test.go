package engine

import (
	"net/netip"
	"reflect"
)

// sameTables compares what the plan reads of two tables read from the
// kernel: the services, their destinations and order, the timeouts.
func sameTables(a, b *Table) bool {
	if len(a.Services) != len(b.Services) || a.Timeouts != b.Timeouts {
		return false
	}
	for i := range a.Services {
		x, y := a.Services[i], b.Services[i]
		if x.Service != y.Service || !reflect.DeepEqual(x.Order, y.Order) || len(x.Dests) != len(y.Dests) {
			return false
		}
		for j := range x.Dests {
			if !sameDest(&x.Dests[j], &y.Dests[j]) || x.Dests[j].Key() != y.Dests[j].Key() {
				return false
			}
		}
	}
	return true
}

func dumpTable(t *Table) string {
	s := ""
	for _, sv := range t.Services {
		s += sv.ServiceKey.String() + ":"
		for _, d := range sv.Dests {
			s += " " + netip.AddrPortFrom(d.Addr, d.Port).String()
		}
		s += "\n"
	}
	return s
}
