package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestCheckSettings(t *testing.T) {
	base := func() *config.Config {
		c := config.Default()
		vs := config.NewVirtual("www")
		c.Virtuals = append(c.Virtuals, vs)
		return c
	}
	ok := []func(*config.VirtualServer){
		func(vs *config.VirtualServer) {},
		func(vs *config.VirtualServer) {
			vs.CheckKind, vs.HTTPPath, vs.HTTPHost, vs.HTTPStatus, vs.HTTPBody = "https", "/health", "www.example.org", "200-299, 301", "ok|OK"
			vs.CheckInterval, vs.CheckFailures, vs.TLSVerify = 2*time.Second, 3, true
		},
		func(vs *config.VirtualServer) { vs.CheckKind, vs.Send = "udp", `ping\n` },
		func(vs *config.VirtualServer) { vs.CheckKind, vs.SendProgram = "program", "/bin/check %h %p" },
		func(vs *config.VirtualServer) { vs.CheckKind = "tcp" },
		func(vs *config.VirtualServer) { vs.CheckKind, vs.SMTPHelo = "smtp", "director.example.org" },
		func(vs *config.VirtualServer) {
			vs.CheckKind, vs.DNSType, vs.DNSName = "dns", "AAAA", "www.example.org."
		},
		func(vs *config.VirtualServer) { vs.CheckKind, vs.DNSName = "dns", "." },
		func(vs *config.VirtualServer) { vs.CheckKind = "ping" },
		func(vs *config.VirtualServer) {
			vs.CheckKind, vs.HTTPDigest = "http", "9E107D9D372BB6826BD81D3542A419D6"
		},
		func(vs *config.VirtualServer) {
			vs.CheckKind, vs.SendProgram, vs.ProgramWeight = "program", "/bin/check %h", true
		},
	}
	for i, mod := range ok {
		c := base()
		mod(&c.Virtuals[0])
		if err := c.Validate(); err != nil {
			t.Errorf("case %d refused: %v", i, err)
		}
	}
	bad := []struct {
		mod   func(*config.VirtualServer)
		field string
		want  string
	}{
		{func(vs *config.VirtualServer) { vs.CheckKind = "icmp" }, "check", "tcp, syn, send, program, http, https, udp, smtp, dns, ping"},
		{func(vs *config.VirtualServer) { vs.HTTPDigest = "9e107d9d372bb6826bd81d3542a419d" }, "http_digest", "32 hexadecimal digits"},
		{func(vs *config.VirtualServer) { vs.HTTPDigest = "9e107d9d372bb6826bd81d3542a419dg" }, "http_digest", "not an MD5 digest"},
		{func(vs *config.VirtualServer) { vs.SMTPHelo = "my host" }, "smtp_helo", "not a HELO name"},
		{func(vs *config.VirtualServer) { vs.DNSType = "PTR" }, "dns_type", "A, NS, CNAME, SOA, MX, TXT, AAAA"},
		{func(vs *config.VirtualServer) { vs.DNSName = "a..b" }, "dns_name", "not a domain name"},
		{func(vs *config.VirtualServer) { vs.DNSName = strings.Repeat("a", 64) + ".org" }, "dns_name", "not a domain name"},
		{func(vs *config.VirtualServer) { vs.CheckKind = "program" }, "send_program", "required"},
		{func(vs *config.VirtualServer) { vs.CheckKind, vs.Send = "udp", "" }, "send", "required"},
		{func(vs *config.VirtualServer) { vs.CheckInterval = time.Millisecond }, "check_interval", "out of range"},
		{func(vs *config.VirtualServer) { vs.CheckFailures = 101 }, "check_failures", "0-100"},
		{func(vs *config.VirtualServer) { vs.HTTPPath = "health" }, "http_path", "starts with /"},
		{func(vs *config.VirtualServer) { vs.HTTPHost = "a b" }, "http_host", "not a host name"},
		{func(vs *config.VirtualServer) { vs.HTTPStatus = "2xx" }, "http_status", "e.g. 200-299,301"},
		{func(vs *config.VirtualServer) { vs.HTTPStatus = "300-200" }, "http_status", "not a status code or range"},
		{func(vs *config.VirtualServer) { vs.HTTPBody = "(" }, "http_body", "regular expression"},
	}
	for _, tc := range bad {
		c := base()
		tc.mod(&c.Virtuals[0])
		var ve *config.ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field || !strings.Contains(ve.Fields[0].Msg, tc.want) {
			t.Errorf("%s: got %v, want one error on %s saying %q", tc.field, err, tc.field, tc.want)
		}
	}
	rs, err := config.ParseStatusRanges(" 200-299 ,301")
	if err != nil || len(rs) != 2 || rs[0] != (config.StatusRange{200, 299}) || rs[1] != (config.StatusRange{301, 301}) {
		t.Errorf("ParseStatusRanges = %v, %v", rs, err)
	}
	if rs, _ := config.ParseStatusRanges(""); len(rs) != 1 || rs[0] != (config.StatusRange{200, 399}) {
		t.Errorf("default status ranges = %v", rs)
	}
}

func TestProgramWeight(t *testing.T) {
	for _, tc := range []struct {
		status  int
		ok, set bool
		weight  int64
	}{
		{0, true, false, 0}, {1, false, false, 0}, {2, true, true, 0}, {3, true, true, 1},
		{255, true, true, 253}, {256, false, false, 0}, {-1, false, false, 0},
	} {
		ok, set, w := config.ProgramWeight(tc.status)
		if ok != tc.ok || set != tc.set || w != tc.weight {
			t.Errorf("ProgramWeight(%d) = %v, %v, %d; want %v, %v, %d", tc.status, ok, set, w, tc.ok, tc.set, tc.weight)
		}
	}
}
