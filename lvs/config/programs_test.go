package config

import (
	"fmt"
	"reflect"
	"testing"
)

func TestPrograms(t *testing.T) {
	c := Default()
	c.Global.ActiveCmd = `/usr/bin/logger -t lvs "now active"`
	web := NewVirtual("web")
	web.SendProgram = "/usr/local/sbin/check %h %p"
	web.QuorumDown = "/usr/local/sbin/page web"
	web.Reals = []RealServer{NewReal("web1"), NewReal("web2")}
	web.Reals[1].NotifyUp = "/usr/local/sbin/up web2"
	c.Virtuals = []VirtualServer{NewVirtual("dns"), web}
	want := []Program{
		{Field: "active_cmd", Virtual: -1, Real: -1, Command: `/usr/bin/logger -t lvs "now active"`},
		{Field: "quorum_down", Virtual: 1, VirtualName: "web", Real: -1, Command: "/usr/local/sbin/page web"},
		{Field: "send_program", Virtual: 1, VirtualName: "web", Real: -1, Command: "/usr/local/sbin/check %h %p"},
		{Field: "notify_up", Virtual: 1, VirtualName: "web", Real: 1, RealName: "web2", Command: "/usr/local/sbin/up web2"},
	}
	got := Programs(c)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Programs = %+v\nwant %+v", got, want)
	}
	if got[0].String() != "active_cmd" || got[2].String() != "send_program of virtual server web" {
		t.Errorf("names: %q, %q", got[0], got[2])
	}
	if got[0].Path() != "/usr/bin/logger" || got[2].Path() != "/usr/local/sbin/check" {
		t.Errorf("paths: %q, %q", got[0].Path(), got[2].Path())
	}
	if p := (Program{Command: `"unclosed`}); p.Path() != "" {
		t.Errorf("the path of a command that does not split = %q", p.Path())
	}
	fe := got[2].FieldError("bad")
	if fe.Section != "virtual" || fe.Virtual != 1 || fe.VirtualName != "web" || fe.Field != "send_program" || fe.Real != -1 {
		t.Errorf("FieldError of a send_program = %+v", fe)
	}
	if fe := got[0].FieldError("bad"); fe.Section != "global" || fe.Virtual != -1 || fe.Field != "active_cmd" {
		t.Errorf("FieldError of active_cmd = %+v", fe)
	}
	if got[3].String() != "notify_up of real server web2 of virtual server web" {
		t.Errorf("name of a real server's program: %q", got[3])
	}
	if fe := got[3].FieldError("bad"); fe.Section != "server" || fe.Virtual != 1 || fe.Real != 1 || fe.RealName != "web2" || fe.Field != "notify_up" {
		t.Errorf("FieldError of a notify_up = %+v", fe)
	}
}

// TestNewPrograms: what counts as adding or altering a program, the
// decision the store's password rule rests on.
func TestNewPrograms(t *testing.T) {
	const (
		check  = "/usr/local/sbin/check %h %p"
		other  = "/usr/local/sbin/check2 %h %p"
		notify = "/usr/bin/logger active"
	)
	vs := func(id int64, name, prog string) VirtualServer {
		v := NewVirtual(name)
		v.ID, v.SendProgram = id, prog
		return v
	}
	cfg := func(active, inactive string, vss ...VirtualServer) *Config {
		c := Default()
		c.Global.ActiveCmd, c.Global.InactiveCmd = active, inactive
		c.Virtuals = vss
		return c
	}
	for _, tc := range []struct {
		name      string
		old, next *Config
		want      []string // Program.String of each new program
	}{
		{"nothing", cfg("", ""), cfg("", ""), nil},
		{"unchanged", cfg(notify, "", vs(1, "web", check)), cfg(notify, "", vs(1, "web", check)), nil},
		{"other fields change", cfg(notify, "", vs(1, "web", check)), func() *Config {
			c := cfg(notify, "", vs(1, "web", check))
			c.Virtuals[0].Port, c.Virtuals[0].CheckKind, c.Global.TCPTimeout = 8080, "program", 9
			return c
		}(), nil},
		{"active_cmd set", cfg("", ""), cfg(notify, ""), []string{"active_cmd"}},
		{"inactive_cmd changed", cfg("", notify), cfg("", notify+" x"), []string{"inactive_cmd"}},
		{"active_cmd moved to inactive_cmd", cfg(notify, ""), cfg("", notify), []string{"inactive_cmd"}},
		{"active_cmd removed", cfg(notify, notify), cfg("", notify), nil},
		{"send_program set", cfg("", "", vs(1, "web", "")), cfg("", "", vs(1, "web", check)), []string{"send_program of virtual server web"}},
		{"send_program changed", cfg("", "", vs(1, "web", check)), cfg("", "", vs(1, "web", other)), []string{"send_program of virtual server web"}},
		{"send_program removed", cfg("", "", vs(1, "web", check)), cfg("", "", vs(1, "web", "")), nil},
		{"virtual server deleted", cfg("", "", vs(1, "web", check), vs(2, "dns", other)), cfg("", "", vs(2, "dns", other)), nil},
		{"renamed", cfg("", "", vs(1, "web", check)), cfg("", "", vs(1, "www", check)), nil},
		{"reordered", cfg("", "", vs(1, "web", check), vs(2, "dns", other)), cfg("", "", vs(2, "dns", other), vs(1, "web", check)), nil},
		{"new virtual server with a program", cfg("", "", vs(1, "web", check)), cfg("", "", vs(1, "web", check), vs(0, "web2", check)),
			[]string{"send_program of virtual server web2"}},
		{"a new virtual server takes a deleted one's id-less name", cfg("", "", vs(1, "web", check)), cfg("", "", vs(0, "web", check)),
			[]string{"send_program of virtual server web"}},
		{"programs swapped between virtual servers", cfg("", "", vs(1, "web", check), vs(2, "dns", other)),
			cfg("", "", vs(1, "web", other), vs(2, "dns", check)),
			[]string{"send_program of virtual server web", "send_program of virtual server dns"}},
		{"an import matched by name", cfg("", "", vs(0, "web", check)), cfg("", "", vs(0, "web", check)), nil},
		{"quorum_up set", cfg("", "", vs(1, "web", "")), func() *Config {
			c := cfg("", "", vs(1, "web", ""))
			c.Virtuals[0].QuorumUp = notify
			return c
		}(), []string{"quorum_up of virtual server web"}},
		{"notify_down set", withReal(cfg("", "", vs(1, "web", "")), 7, "web1", ""), withReal(cfg("", "", vs(1, "web", "")), 7, "web1", notify),
			[]string{"notify_down of real server web1 of virtual server web"}},
		{"notify_down unchanged, real server renamed", withReal(cfg("", "", vs(1, "web", "")), 7, "web1", notify),
			withReal(cfg("", "", vs(1, "web", "")), 7, "web9", notify), nil},
		{"real server with its notify_down moved to another virtual server", withReal(cfg("", "", vs(1, "web", ""), vs(2, "dns", "")), 7, "web1", notify),
			func() *Config {
				c := cfg("", "", vs(2, "dns", ""), vs(1, "web", ""))
				return withReal(c, 7, "web1", notify)
			}(), nil},
		{"an imported real server's notify_down in another virtual server", withReal(cfg("", "", vs(1, "web", ""), vs(2, "dns", "")), 0, "web1", notify),
			withReal(cfg("", "", vs(2, "dns", ""), vs(1, "web", "")), 0, "web1", notify),
			[]string{"notify_down of real server web1 of virtual server dns"}},
		{"notify_down moved to another real server", withReal(withReal(cfg("", "", vs(1, "web", "")), 7, "web1", notify), 8, "web2", ""),
			withReal(withReal(cfg("", "", vs(1, "web", "")), 7, "web1", ""), 8, "web2", notify),
			[]string{"notify_down of real server web2 of virtual server web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range NewPrograms(tc.old, tc.next) {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("NewPrograms = %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkNewPrograms is what the store's rule for programs adds to the
// save of a large configuration (1,000 virtual servers, each with a
// sending program) when nothing in it changes.
func BenchmarkNewPrograms(b *testing.B) {
	c := Default()
	for i := range 1000 {
		vs := NewVirtual(fmt.Sprintf("vs%d", i))
		vs.ID, vs.SendProgram = int64(i+1), "/usr/local/sbin/check %h %p"
		c.Virtuals = append(c.Virtuals, vs)
	}
	next := c.Clone()
	for b.Loop() {
		if len(NewPrograms(c, next)) != 0 {
			b.Fatal("an unchanged configuration has new programs")
		}
	}
}

// withReal adds to c's first virtual server a real server with id and
// name whose notify_down is prog.
func withReal(c *Config, id int64, name, prog string) *Config {
	rs := NewReal(name)
	rs.ID, rs.NotifyDown = id, prog
	c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, rs)
	return c
}
