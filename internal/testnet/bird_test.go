package testnet

import (
	"slices"
	"testing"
)

// TestParseNextHops: a plain route's gateway, an ECMP route's next hops,
// no route.
func TestParseNextHops(t *testing.T) {
	for _, tc := range []struct {
		js   string
		want []string
	}{
		{`[{"dst":"192.0.2.10","gateway":"10.0.1.2","dev":"d1"}]`, []string{"10.0.1.2"}},
		{`[{"dst":"192.0.2.10","nexthops":[{"gateway":"10.0.3.2"},{"gateway":"10.0.1.2"}]}]`, []string{"10.0.1.2", "10.0.3.2"}},
		{`[]`, nil},
	} {
		got, err := ParseNextHops([]byte(tc.js))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseNextHops(%s) = %q, %v; want %q", tc.js, got, err, tc.want)
		}
	}
	if _, err := ParseNextHops([]byte("Error")); err == nil {
		t.Error("not JSON: no error")
	}
}
