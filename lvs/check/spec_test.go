package check_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	const s = time.Second
	for _, tc := range []struct {
		spec  check.Spec
		field string // "" = valid
		msg   string
	}{
		{check.Spec{Kind: check.TCP, Timeout: s}, "", ""},
		// piranha's configuration carries send/expect everywhere: a tcp check ignores them.
		{check.Spec{Kind: check.TCP, Timeout: s, Send: piranhaSend, Expect: "(", UseRegex: true}, "", ""},
		{check.Spec{Kind: check.Send, Timeout: s, Send: piranhaSend, Expect: "HTTP"}, "", ""},
		{check.Spec{Kind: check.Send, Timeout: s}, "", ""},
		{check.Spec{Kind: check.Program, Timeout: s, Program: `/usr/lib/lvs/check --host %h --port %p --url "/health check"`}, "", ""},
		{check.Spec{Kind: check.HTTPS, Timeout: s, Path: "/health?x=1", Host: "www.example.com:8443", Status: "200-299, 301", BodyRegex: "ok"}, "", ""},
		{check.Spec{Kind: check.UDP, Timeout: s, Send: "x"}, "", ""},

		{check.Spec{Kind: "ftp", Timeout: s}, "kind", `"ftp" is not a check kind`},
		{check.Spec{Timeout: s}, "kind", `"" is not a check kind`},
		{check.Spec{Kind: check.TCP}, "timeout", "more than 0"},
		{check.Spec{Kind: check.TCP, Timeout: -s}, "timeout", "more than 0"},
		{check.Spec{Kind: check.Send, Timeout: s, Expect: "HTTP(", UseRegex: true}, "expect", "POSIX"},
		{check.Spec{Kind: check.Send, Timeout: s, Expect: `\d+`, UseRegex: true}, "expect", "POSIX"},
		{check.Spec{Kind: check.Send, Timeout: s, UseRegex: true}, "expect", "empty"},
		{check.Spec{Kind: check.UDP, Timeout: s}, "send", "required"},
		{check.Spec{Kind: check.Program, Timeout: s}, "program", "required"},
		{check.Spec{Kind: check.Program, Timeout: s, Program: `/bin/check "unclosed`}, "program", "unclosed"},
		{check.Spec{Kind: check.Program, Timeout: s, Program: `check.sh %h`}, "program", "absolute"},
		{check.Spec{Kind: check.HTTP, Timeout: s, Status: "2xx"}, "status", `"2xx" is not a`},
		{check.Spec{Kind: check.HTTP, Timeout: s, Status: "299-200"}, "status", `"299-200" is not a`},
		{check.Spec{Kind: check.HTTP, Timeout: s, Path: "health"}, "path", "not a path"},
		{check.Spec{Kind: check.HTTP, Timeout: s, Path: "/a b"}, "path", "not a path"},
		{check.Spec{Kind: check.HTTP, Timeout: s, Host: "a b"}, "host", "not a host"},
		{check.Spec{Kind: check.HTTPS, Timeout: s, Host: "a/b"}, "host", "not a host"},
		{check.Spec{Kind: check.HTTP, Timeout: s, BodyRegex: "(("}, "body_regex", "POSIX"},
	} {
		err := tc.spec.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: %v, want valid", tc.spec, err)
			}
			continue
		}
		var fe *check.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%+v: error %v, want a *FieldError for %s", tc.spec, err, tc.field)
			continue
		}
		if fe.Field != tc.field || !strings.HasPrefix(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %q (field %s), want field %s saying %q", tc.spec, err, fe.Field, tc.field, tc.msg)
		}
	}
}

// Every kind the configuration offers is one this package runs.
func TestConfigKinds(t *testing.T) {
	t.Parallel()
	for _, k := range config.CheckKinds {
		spec := check.Spec{Kind: check.Kind(k), Timeout: time.Second, Send: "x", Program: "/bin/true"}
		if err := spec.Validate(); err != nil {
			t.Errorf("config check kind %q: %v", k, err)
		}
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"HTTP", "HTTP"},
		{`GET / HTTP/1.0\r\n\r\n`, "GET / HTTP/1.0\r\n\r\n"},
		{`a\tb`, "a\tb"},
		{`a\\b`, `a\b`},
		{`a\\nb`, `a\nb`}, // an escaped backslash, then a plain n
		{`a\\\nb`, "a\\\nb"},
		{`\d+\.`, `\d+\.`}, // other backslashes stay
		{`end\`, `end\`},
		{`\x41`, `\x41`},
		{`ünï\ncode`, "ünï\ncode"},
	} {
		if got := check.Unescape(tc.in); got != tc.want {
			t.Errorf("Unescape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Specs that check the same way are equal once canonical, so that real
// servers can share one checker.
func TestCanonical(t *testing.T) {
	t.Parallel()
	a := check.Spec{Kind: check.TCP, Timeout: time.Second, Send: piranhaSend, Expect: "HTTP"}
	b := check.Spec{Kind: check.TCP, Timeout: time.Second, Program: "/bin/true", Path: "/x"}
	if a.Canonical() != b.Canonical() {
		t.Errorf("tcp specs differ: %+v and %+v", a.Canonical(), b.Canonical())
	}
	h := check.Spec{Kind: check.HTTP, Timeout: time.Second, Verify: true, Send: "x"}
	want := check.Spec{Kind: check.HTTP, Timeout: time.Second, Path: "/", Status: "200-399"}
	if got := h.Canonical(); got != want {
		t.Errorf("Canonical() = %+v, want %+v", got, want)
	}
	p, err := check.NewProbe(h)
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec() != want {
		t.Errorf("Probe.Spec() = %+v, want %+v", p.Spec(), want)
	}
}
