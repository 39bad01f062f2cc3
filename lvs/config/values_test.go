package config_test

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestParseNetmask(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bits int // -1: not set
		ok   bool
	}{
		{"255.255.255.0", 24, true},
		{"255.255.255.255", 32, true},
		{"255.255.255.128", 25, true},
		{"255.0.0.0", 8, true},
		{"128.0.0.0", 1, true},
		{"0.0.0.0", 0, true},
		{" 255.255.0.0 ", 16, true},
		{"/64", 64, true},
		{"64", 64, true},
		{"24", 24, true},
		{"/24", 24, true},
		{"0", 0, true},
		{"/0", 0, true},
		{"128", 128, true},
		{"", -1, true},
		{"   ", -1, true},
		{"255.0.255.0", 0, false},     // not contiguous
		{"255.255.255.1", 0, false},   // not contiguous
		{"0.255.255.255", 0, false},   // zeros before ones
		{"129", 0, false},             // too long even for IPv6
		{"/129", 0, false},            //
		{"-1", 0, false},              //
		{"255.255.255", 0, false},     // not a dotted quad
		{"255.255.255.256", 0, false}, //
		{"::ffff:255.255.255.0", 0, false},
		{"ffff:ffff::", 0, false}, // IPv6 masks are prefix lengths
		{"abc", 0, false},
		{"24/", 0, false},
		{"/", 0, false},
	} {
		m, err := config.ParseNetmask(tc.in)
		if !tc.ok {
			if err == nil {
				t.Errorf("ParseNetmask(%q) = %v, want an error", tc.in, m)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseNetmask(%q): %v", tc.in, err)
			continue
		}
		if m.IsSet() != (tc.bits >= 0) || m.Bits() != tc.bits {
			t.Errorf("ParseNetmask(%q) = set %v bits %d, want bits %d", tc.in, m.IsSet(), m.Bits(), tc.bits)
		}
	}
}

func TestParseNetmaskErrorsExplain(t *testing.T) {
	_, err := config.ParseNetmask("255.0.255.0")
	if err == nil || !strings.Contains(err.Error(), "contiguous") {
		t.Errorf("ParseNetmask(255.0.255.0) error = %v, want one saying contiguous", err)
	}
	_, err = config.ParseNetmask("129")
	if err == nil || !strings.Contains(err.Error(), "0-128") {
		t.Errorf("ParseNetmask(129) error = %v, want one saying 0-128", err)
	}
}

func TestNetmaskFormatRoundTrip(t *testing.T) {
	for n := 0; n <= 32; n++ {
		m := config.MaskBits(n)
		s := m.Format(false)
		if strings.Count(s, ".") != 3 {
			t.Errorf("MaskBits(%d).Format(false) = %q, want a dotted quad", n, s)
		}
		back, err := config.ParseNetmask(s)
		if err != nil {
			t.Errorf("ParseNetmask(%q) (from /%d): %v", s, n, err)
			continue
		}
		if back != m {
			t.Errorf("ParseNetmask(MaskBits(%d).Format(false) = %q) = /%d", n, s, back.Bits())
		}
		if got, want := m.String(), "/"+strconv.Itoa(n); got != want {
			t.Errorf("MaskBits(%d).String() = %q, want %q", n, got, want)
		}
	}
	for n := 0; n <= 128; n++ {
		m := config.MaskBits(n)
		back, err := config.ParseNetmask(m.Format(true))
		if err != nil || back != m {
			t.Errorf("IPv6 /%d: Format(true) = %q, parsed back to %v, %v", n, m.Format(true), back, err)
		}
	}
	for n, want := range map[int]string{0: "0.0.0.0", 8: "255.0.0.0", 20: "255.255.240.0", 24: "255.255.255.0", 31: "255.255.255.254", 32: "255.255.255.255"} {
		if got := config.MaskBits(n).Format(false); got != want {
			t.Errorf("MaskBits(%d).Format(false) = %q, want %q", n, got, want)
		}
	}
	if got := config.MaskBits(64).Format(true); got != "64" {
		t.Errorf("MaskBits(64).Format(true) = %q, want 64", got)
	}
	var unset config.Netmask
	if unset.IsSet() || unset.Bits() != -1 || unset.Format(false) != "" || unset.Format(true) != "" || unset.String() != "" {
		t.Errorf("zero Netmask: set %v bits %d format %q/%q string %q; want unset, -1 and empty",
			unset.IsSet(), unset.Bits(), unset.Format(false), unset.Format(true), unset.String())
	}
	if !config.MaskBits(0).IsSet() {
		t.Error("MaskBits(0) is not set; /0 must differ from unset")
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"80", 80, true},
		{" 443 ", 443, true},
		{"0x50", 80, true},
		{"0", 0, true},
		{"", 0, true},
		{"65535", 65535, true},
		{"65536", 65536, true}, // range is Validate's business
		{"-1", -1, true},       // likewise
		{"http", 80, true},
		{"HTTP", 80, true},
		{"https", 443, true},
		{"ssh", 22, true},
		{"domain", 53, true},
		{"mysql", 3306, true},
		{"http-alt", 8080, true},
		{"bogus-service-name", 0, false},
		{"80a", 0, false},
		{"8.0", 0, false},
		{"99999999999999999999", 0, false},
		{"-", 0, false},
	} {
		got, err := config.ParsePort(tc.in)
		if !tc.ok {
			if err == nil {
				t.Errorf("ParsePort(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePort(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{" -7 ", -7, true},
		{"0x10", 16, true},
		{"010", 8, true}, // piranha's strtol(..., 0) for integers
		{"2147483648", 2147483648, true},
		{"", 0, false},
		{"abc", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, err := config.ParseInt(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseInt(%q) = %d, %v; want %d (ok=%v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if _, err := config.ParseInt("99999999999999999999"); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("ParseInt(huge) error = %v, want one saying out of range", err)
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{
		"1": true, "yes": true, "on": true, "true": true, " TRUE ": true, "Yes": true,
		"0": false, "no": false, "off": false, "false": false, "": false,
	} {
		got, err := config.ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "y", "maybe", "-1"} {
		if _, err := config.ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) accepted", in)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"6", 6 * time.Second, true},
		{" 18 ", 18 * time.Second, true},
		{"0", 0, true},
		{"", 0, true},
		{"0.2", 200 * time.Millisecond, true},
		{"010", 10 * time.Second, true}, // decimal, not octal
		{"0.6", 600 * time.Millisecond, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"0.001", time.Millisecond, true},
		{"2.0006", 2001 * time.Millisecond, true}, // rounded to the millisecond
		{"200ms", 200 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"3600", time.Hour, true},
		{"-1", 0, false},
		{"-0.5", 0, false},
		{"-1s", 0, false},
		{"abc", 0, false},
		{"1,5", 0, false},
		{"NaN", 0, false},
		{"nan", 0, false},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{"1e10", 0, false},
		{"4294967296.5", 0, false},
	} {
		got, err := config.ParseSeconds(tc.in)
		if !tc.ok {
			if err == nil {
				t.Errorf("ParseSeconds(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0",
		6 * time.Second:         "6",
		200 * time.Millisecond:  "0.2",
		1500 * time.Millisecond: "1.5",
		10 * time.Millisecond:   "0.01",
		time.Millisecond:        "0.001",
		time.Hour:               "3600",
		24 * time.Hour:          "86400",
		-time.Second:            "-1",
	} {
		if got := config.FormatSeconds(d); got != want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", d, got, want)
		}
	}
	// FormatSeconds is the inverse of ParseSeconds for every millisecond
	// count up to a few seconds, and for larger whole and fractional values.
	check := func(d time.Duration) {
		t.Helper()
		s := config.FormatSeconds(d)
		back, err := config.ParseSeconds(s)
		if err != nil || back != d {
			t.Errorf("ParseSeconds(FormatSeconds(%v) = %q) = %v, %v", d, s, back, err)
		}
	}
	for ms := 0; ms <= 5000; ms++ {
		check(time.Duration(ms) * time.Millisecond)
	}
	for _, d := range []time.Duration{time.Hour, 24*time.Hour + 1, 86399999 * time.Millisecond, 123456789 * time.Millisecond} {
		check(d.Truncate(time.Millisecond))
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want netip.Addr
		ok   bool
	}{
		{"192.0.2.10", netip.MustParseAddr("192.0.2.10"), true},
		{" 192.0.2.10 ", netip.MustParseAddr("192.0.2.10"), true},
		{"2001:db8::10", netip.MustParseAddr("2001:db8::10"), true},
		{"0.0.0.0", netip.IPv4Unspecified(), true},
		{"::", netip.IPv6Unspecified(), true},
		{"", netip.Addr{}, true},
		{"fe80::1%eth0", netip.Addr{}, false},
		{"::ffff:1.2.3.4", netip.Addr{}, false},
		{"::ffff:c000:20a", netip.Addr{}, false},
		{"192.0.2", netip.Addr{}, false},
		{"192.0.2.256", netip.Addr{}, false},
		{"192.0.2.10/24", netip.Addr{}, false},
		{"host.example.com", netip.Addr{}, false},
	} {
		got, err := config.ParseAddr(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAddr(%q) = %v, %v; want %v (ok=%v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if a, err := config.ParseAddr(""); err != nil || a.IsValid() {
		t.Errorf("ParseAddr(\"\") = %v, %v; want the zero address", a, err)
	}
	if _, err := config.ParseAddr("::ffff:1.2.3.4"); err == nil || !strings.Contains(err.Error(), "1.2.3.4") {
		t.Errorf("ParseAddr(::ffff:1.2.3.4) error = %v, want one suggesting 1.2.3.4", err)
	}
	if _, err := config.ParseAddr("fe80::1%eth0"); err == nil || !strings.Contains(err.Error(), "zone") {
		t.Errorf("ParseAddr(fe80::1%%eth0) error = %v, want one saying zone", err)
	}
	if got := config.FormatAddr(netip.Addr{}); got != "" {
		t.Errorf("FormatAddr(zero) = %q, want empty", got)
	}
	if got := config.FormatAddr(netip.MustParseAddr("2001:db8::1")); got != "2001:db8::1" {
		t.Errorf("FormatAddr = %q", got)
	}
}

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t ", nil},
		{"/bin/true", []string{"/bin/true"}},
		{"  /bin/echo   a\tb  ", []string{"/bin/echo", "a", "b"}},
		{`/bin/echo 'a b' "c d"`, []string{"/bin/echo", "a b", "c d"}},
		{`/bin/echo ''`, []string{"/bin/echo", ""}},
		{`/bin/echo "" x`, []string{"/bin/echo", "", "x"}},
		{`a"b c"d`, []string{"ab cd"}},
		{`'it'\''s'`, []string{"it's"}},
		{`"say \"hi\""`, []string{`say "hi"`}},
		{`"back\\slash"`, []string{`back\slash`}},
		{`"keep \n and \$"`, []string{`keep \n and \$`}},
		{`'no \escapes "here"'`, []string{`no \escapes "here"`}},
		{`a\ b`, []string{"a b"}},
		{`\'quoted\'`, []string{"'quoted'"}},
		{`\\`, []string{`\`}},
		{`--url=%h:%p/x?a=1&b=2`, []string{"--url=%h:%p/x?a=1&b=2"}},
		{`$HOME * ; | >out`, []string{"$HOME", "*", ";", "|", ">out"}}, // no expansion
		{"héllo wörld", []string{"héllo", "wörld"}},
	} {
		got, err := config.SplitArgs(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		`/bin/echo 'abc`:    "unclosed ' quote",
		`/bin/echo "abc`:    `unclosed " quote`,
		`/bin/echo "abc\"`:  `unclosed " quote`,
		`"`:                 `unclosed " quote`,
		`/bin/echo abc\`:    "lone backslash",
		`\`:                 "lone backslash",
		`/bin/echo 'a' 'b`:  "unclosed ' quote",
		`/bin/echo "a'b`:    `unclosed " quote`,
		`/bin/echo 'a"b' "`: `unclosed " quote`,
	} {
		got, err := config.SplitArgs(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want an error saying %q", in, got, err, want)
		}
	}
}

// quoteArgs is the inverse of SplitArgs: it single-quotes every argument.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{
		"", " ", "/bin/true", `/bin/echo 'a b' "c d"`, `'it'\''s'`, `"say \"hi\""`,
		`a\`, `'abc`, `"abc`, `"\`, `\\`, "a\tb", "\xff\xfe", `"'"'"'`, "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := config.SplitArgs(s)
		if err != nil {
			if args != nil {
				t.Fatalf("SplitArgs(%q) returned %q with error %v", s, args, err)
			}
			return
		}
		for _, a := range args {
			if !utf8.ValidString(a) {
				t.Fatalf("SplitArgs(%q) returned invalid UTF-8 %q", s, a)
			}
		}
		// Quoting the words and splitting again gives the same words.
		again, err := config.SplitArgs(quoteArgs(args))
		if err != nil || !reflect.DeepEqual(again, args) {
			t.Fatalf("SplitArgs(%q) = %q, but its quoted form %q splits into %q, %v", s, args, quoteArgs(args), again, err)
		}
	})
}
