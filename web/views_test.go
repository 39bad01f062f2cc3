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
