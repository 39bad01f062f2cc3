package load

import (
	"testing"
	"time"
)

// The cases are worked by hand from nanny.c's adjustWeight.
func TestPiranha(t *testing.T) {
	for _, c := range []struct {
		name               string
		weight, ceil, last int64
		load               float64
		next               int64
		changed            bool
	}{
		{"idle climbs by weight/2", 10, 100, 10, 0, 15, true},
		{"load 0.875: step 5*0.5 = 2.5 is the threshold", 10, 100, 10, 0.875, 12, false}, // 12.5 -> 12, |2| < 2.5
		{"load 0.488: step 5*0.8 = 4", 10, 100, 10, 0.488, 14, true},
		{"stops at the ceiling", 10, 100, 98, 0, 100, false}, // +5 -> 100, |2| < 2.5
		{"reaches the ceiling", 10, 100, 96, 0, 100, true},
		{"max_weight as the ceiling", 10, 12, 10, 0, 12, false},
		{"busy falls by weight/2", 10, 100, 40, 2, 35, true},
		{"load 9: step 5*2 = 10", 10, 100, 40, 9, 30, true},
		{"never below the weight", 10, 100, 12, 9, 10, false}, // 2 -> 10, |2| < 2.5
		{"back to the weight", 10, 100, 14, 9, 10, true},
		{"load 1 is neutral", 10, 100, 30, 1, 30, false},
		{"a failed read changes nothing", 10, 100, 30, -1, 30, false},
		{"weight 1 never moves", 1, 10, 1, 0, 1, false},
		{"weight 2 moves by 1", 2, 20, 2, 0, 3, true},
	} {
		next, changed := Piranha(c.weight, c.ceil, c.last, c.load)
		if changed != c.changed || (changed && next != c.next) || (!changed && next != c.last) {
			t.Errorf("%s: Piranha(%d, %d, %d, %v) = %d, %v; want %d, %v", c.name, c.weight, c.ceil, c.last, c.load, next, changed, c.next, c.changed)
		}
	}
}

func TestShare(t *testing.T) {
	for _, c := range []struct {
		configured, ceil int64
		percent          int
		absolute         int64
		want             int64
	}{
		{100, 1000, 75, -1, 75},
		{10, 100, 75, -1, 8}, // 7.5 rounds up
		{1, 10, 10, 0, 1},    // at least 1
		{1, 10, 0, 0, 0},
		{10, 100, 250, -1, 25},
		{10, 20, 250, -1, 20}, // the ceiling
		{10, 100, -1, 42, 42},
		{10, 100, -1, 420, 100},
		{0, 0, 50, -1, 0},
	} {
		if got := Share(c.configured, c.ceil, c.percent, c.absolute); got != c.want {
			t.Errorf("Share(%d, %d, %d, %d) = %d, want %d", c.configured, c.ceil, c.percent, c.absolute, got, c.want)
		}
	}
}

func TestSmooth(t *testing.T) {
	for _, c := range []struct {
		last, target, want int64
		changed            bool
	}{
		{100, 109, 100, false},
		{100, 110, 100, false}, // exactly a tenth is not more
		{100, 111, 111, true},
		{100, 89, 89, true},
		{5, 6, 6, true},
		{5, 0, 0, true},
		{0, 1, 1, true},
		{7, 7, 7, false},
	} {
		next, changed := Smooth(c.last, c.target)
		if next != c.want || changed != c.changed {
			t.Errorf("Smooth(%d, %d) = %d, %v; want %d, %v", c.last, c.target, next, changed, c.want, c.changed)
		}
	}
}

func TestCeilingAndInterval(t *testing.T) {
	if c := Ceiling(10, 0); c != 100 {
		t.Errorf("Ceiling(10, 0) = %d, want 100", c)
	}
	if c := Ceiling(10, 15); c != 15 {
		t.Errorf("Ceiling(10, 15) = %d, want 15", c)
	}
	if c := Ceiling(MaxWeight, 0); c != MaxWeight {
		t.Errorf("Ceiling(MaxWeight, 0) = %d", c)
	}
	if d := Interval(0, 6*time.Second); d != 20*time.Second {
		t.Errorf("Interval(0, 6s) = %v", d)
	}
	if d := Interval(0, time.Minute); d != time.Minute {
		t.Errorf("Interval(0, 1m) = %v", d)
	}
	if d := Interval(5*time.Second, time.Minute); d != 5*time.Second {
		t.Errorf("Interval(5s, 1m) = %v", d)
	}
}
