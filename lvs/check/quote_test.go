package check

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"HTTP/1.1 503 Service Unavailable\r\n", `'HTTP/1.1 503 Service Unavailable\r\n'`},
		{"a\tb\\c", `'a\tb\\c'`},
		{"\x00\x1b[0m\xff", `'\x00\x1b[0m\xff'`},
		{"héllo", "'héllo'"},
		{strings.Repeat("x", 61), "'" + strings.Repeat("x", 60) + "...'"},
		{strings.Repeat("x", 60), "'" + strings.Repeat("x", 60) + "'"},
	} {
		if got := quote([]byte(tc.in)); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestMatcherDecided(t *testing.T) {
	t.Parallel()
	m := matcher{prefix: []byte("HTTP")}
	for _, tc := range []struct {
		in       string
		done, ok bool
	}{
		{"", false, true},
		{"HT", false, true},
		{"HX", true, false},
		{"HTTP", true, true},
		{"HTTP/1.1", true, true},
	} {
		done, ok := m.decided([]byte(tc.in))
		if done != tc.done || (done && ok != tc.ok) {
			t.Errorf("decided(%q) = %v, %v; want %v, %v", tc.in, done, ok, tc.done, tc.ok)
		}
	}
}
