package web

import (
	"strings"
	"testing"
	"time"
)

// TestStampHasZone: a time says its zone, so that an admin reading it on
// another continent, or comparing it with a log, knows which it is.
func TestStampHasZone(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 3, 7, 0, time.UTC)
	s := Stamp(at)
	zone := at.Local().Format("MST")
	if !strings.HasPrefix(s, at.Local().Format("2006-01-02 15:04:05")) || !strings.HasSuffix(s, " "+zone) {
		t.Errorf("Stamp = %q, want the local time with its zone %s", s, zone)
	}
}

// TestCount: counters as ipvsadm --stats writes them (print_largenum).
func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n     uint64
		want  string
		exact bool
	}{
		{0, "0", true},
		{99999999, "99999999", true},
		{100000000, "100000K", false},
		{999999999, "999999K", false},
		{1000000000, "1000M", false},
		{98765432109, "98765M", false},
		{100000000000, "100G", false},
		{99999999999999, "99999G", false},
		{100000000000000, "100T", false},
		{18446744073709551615, "18446744T", false},
	} {
		if got, exact := Count(tc.n); got != tc.want || exact != tc.exact {
			t.Errorf("Count(%d) = %q, %v; want %q, %v", tc.n, got, exact, tc.want, tc.exact)
		}
	}
}
