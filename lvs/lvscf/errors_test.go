package lvscf

import (
	"errors"
	"strings"
	"testing"
)

// wantErr is one expected error: Col 0 means "any column".
type wantErr struct {
	line, col int
	key       string
	msg       []string // substrings of Msg
}

func parseErrors(t *testing.T, src string) Errors {
	t.Helper()
	c, err := Parse(strings.NewReader(src))
	if err == nil {
		t.Fatalf("Parse accepted:\n%s\ngiving %+v", src, c)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse error is %T, not Errors: %v", err, err)
	}
	return es
}

func matchErrors(t *testing.T, es Errors, want []wantErr) {
	t.Helper()
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(es), len(want), es)
		return
	}
	for i, w := range want {
		e := es[i]
		ok := e.Line == w.line && (w.col == 0 || e.Col == w.col) && e.Key == w.key
		for _, m := range w.msg {
			ok = ok && strings.Contains(e.Msg, m)
		}
		if !ok {
			t.Errorf("error %d = %q (line %d col %d key %q), want line %d col %d key %q containing %q",
				i, e.Error(), e.Line, e.Col, e.Key, w.line, w.col, w.key, w.msg)
		}
	}
}

const virtualHead = "virtual www {\n     address = 192.0.2.1 eth0:1\n"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []wantErr
	}{
		{"unknown key", virtualHead + "     colour = blue\n}\n",
			[]wantErr{{3, 6, "", []string{`unknown key "colour" in a virtual block`, "allowed: active, address,"}}}},
		{"key of another scope", "weight = 3\n",
			[]wantErr{{1, 1, "", []string{`unknown key "weight" in the global section`, "belongs in the server block"}}}},
		{"comment after value", virtualHead + "     port = 80 # comment\n}\n",
			[]wantErr{{3, 13, "port", []string{`"80 # comment" is not a port`, "# starts a comment only at the beginning of a line"}}}},
		{"text after quote", virtualHead + "     send = \"GET /\" # x\n}\n",
			[]wantErr{{3, 21, "send", []string{"nothing may follow the closing quote"}}}},
		{"unclosed quote", virtualHead + "     send = \"GET / HTTP/1.0\\r\\n\n}\n",
			[]wantErr{{3, 13, "send", []string{`the " quote is not closed`}}}},
		{"escaped closing quote", virtualHead + "     expect = 'it\\'\n}\n",
			[]wantErr{{3, 15, "expect", []string{"quote is not closed"}}}},
		{"missing } at EOF", "serial_no = 1\n" + virtualHead + "     server a {\n         address = 10.0.0.1\n     }\n",
			[]wantErr{{2, 1, "", []string{"virtual www { is not closed", "} is missing"}}}},
		{"missing } of a server", virtualHead + "     server a {\n         address = 10.0.0.1\n}\n",
			[]wantErr{{1, 1, "", []string{"virtual www { is not closed"}}}},
		{"stray }", "serial_no = 1\n}\n",
			[]wantErr{{2, 1, "", []string{"} without an open"}}}},
		{"} with text", virtualHead + "} # end\n",
			[]wantErr{{3, 1, "", []string{"} must be alone on its line"}}}},
		{"server outside virtual", "server web1 {\n     address = 10.0.0.1\n}\n",
			[]wantErr{{1, 1, "", []string{"server web1 is outside any virtual block"}}}},
		{"nested virtual", virtualHead + "virtual two {\n     address = 192.0.2.2\n}\n",
			[]wantErr{
				{1, 1, "", []string{"virtual www { is not closed"}},
				{3, 1, "", []string{"virtual two is inside virtual www (line 1)", "is a } missing?"}},
			}},
		{"{ on the next line", "virtual www\n{\n     address = 192.0.2.1\n}\n",
			[]wantErr{{1, 1, "", []string{`expected "virtual NAME {"`, "same line"}}}},
		{"name of two words", "virtual my www {\n     address = 192.0.2.1\n}\n",
			[]wantErr{{1, 1, "", []string{"the name is one word"}}}},
		{"name missing", "virtual {\n     address = 192.0.2.1\n}\n",
			[]wantErr{{1, 1, "", []string{"the name is missing"}}}},
		{"not a key line", "serial_no 12\n",
			[]wantErr{{1, 1, "", []string{"expected key = value"}}}},
		{"bad address", "virtual www {\n     address = 192.0.2.300 eth0:1\n}\n",
			// Only the parse error: Validate's "address is required" would
			// be noise about a value nobody wrote.
			[]wantErr{{2, 16, "address", []string{`"192.0.2.300" is not an IP address`}}}},
		{"address with three words", "virtual www {\n     address = 192.0.2.1 eth0 eth1\n}\n",
			[]wantErr{{2, 16, "address", []string{"expected an address and a device"}}}},
		{"nat_router of a Unicode space and a device", "nat_router = \"\u00a0 eth1\"\n",
			[]wantErr{{1, 14, "nat_router", []string{"is not an IP address"}}}},
		{"bad netmask", virtualHead + "     vip_nmask = 255.0.255.0\n}\n",
			[]wantErr{{3, 18, "vip_nmask", []string{"not a contiguous netmask"}}}},
		{"weight -1 (Validate)", virtualHead + "     server web1 {\n         address = 10.0.0.1\n         weight = -1\n     }\n}\n",
			[]wantErr{{5, 10, "weight", []string{"-1 is out of range"}}}},
		{"scheduler foo (Validate)", virtualHead + "     scheduler = foo\n}\n",
			[]wantErr{{3, 6, "scheduler", []string{`"foo" is not a kernel scheduler`}}}},
		{"port 70000 (Validate)", virtualHead + "     port = 70000\n}\n",
			[]wantErr{{3, 6, "port", []string{"70000 is out of range: use 1-65535"}}}},
		{"missing address (Validate, default)", "serial_no = 1\nvirtual www {\n     active = 1\n     port = 80\n}\n",
			[]wantErr{{2, 1, "address", []string{"is required"}}}},
		{"global default (Validate)", "serial_no = 1\nbackup_active = 1\nbackup = 192.0.2.2\n",
			[]wantErr{{1, 1, "primary", []string{"is required when a backup director is active"}}}},
		{"device (Validate) at address", "virtual www {\n     address = 192.0.2.1 eth0:1:2:3:4:5:6:7\n}\n",
			[]wantErr{{2, 6, "device", []string{"is not an interface name"}}}},
		{"bad name (Validate) at header", "virtual -www {\n     address = 192.0.2.1\n}\n",
			[]wantErr{{1, 1, "name", []string{`"-www" is not allowed`}}}},
		{"duplicate server name (Validate)", virtualHead + "     server a {\n         address = 10.0.0.1\n     }\n     server a {\n         address = 10.0.0.2\n     }\n}\n",
			[]wantErr{{6, 6, "name", []string{"already the name of real server #1"}}}},
		{"bad bool", "heartbeat = yes please\n",
			[]wantErr{{1, 13, "heartbeat", []string{"not a boolean"}}}},
		{"bad sched_flags", virtualHead + "     scheduler = sh\n     sched_flags = fallback,hash\n}\n",
			[]wantErr{{4, 20, "sched_flags", []string{`"hash" is not a scheduler flag`}}}},
		{"sched_flags with wlc (Validate)", virtualHead + "     sched_flags = port\n}\n",
			[]wantErr{{3, 6, "sched_flags", []string{"only to the sh and mh"}}}},
		{"control character (Validate)", virtualHead + "     send = \"a\x01b\"\n}\n",
			[]wantErr{{3, 6, "send", []string{"control character"}}}},
		{"columns count characters", virtualHead + "     send_program = \"/bin/é\" x\n}\n",
			[]wantErr{{3, 30, "send_program", []string{"nothing may follow"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			matchErrors(t, parseErrors(t, tc.src), tc.want)
		})
	}
}

// One import run shows every problem, in file order, whether the parser
// or Validate found it.
func TestParseErrorsAll(t *testing.T) {
	src := `serial_no = 1
keepalive = often
virtual www {
     address = 192.0.2.1 eth0:1
     scheduler = foo
     colour = blue
     server web1 {
         address = 10.0.0.1
         weight = -1
     }
     server web2 {
         address = 10.0.0.x
     }
}
}
server stray {
}
`
	matchErrors(t, parseErrors(t, src), []wantErr{
		{2, 13, "keepalive", []string{"not a number of seconds"}},
		{5, 6, "scheduler", []string{"not a kernel scheduler"}},
		{6, 6, "", []string{"unknown key"}},
		{9, 10, "weight", []string{"out of range"}},
		{12, 20, "address", []string{"not an IP address"}},
		{15, 1, "", []string{"} without an open"}},
		{16, 1, "", []string{"outside any virtual block"}},
	})
}

func TestParseErrorsCapped(t *testing.T) {
	src := strings.Repeat("nonsense\n", 200)
	es := parseErrors(t, src)
	if len(es) != maxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(es), maxErrors+1)
	}
	if last := es[len(es)-1]; !strings.Contains(last.Msg, "too many errors") {
		t.Errorf("last error = %v", last)
	}
}
