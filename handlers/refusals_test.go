package handlers

import (
	"errors"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/web"
)

func fieldErr(section string, vi, ri int, field, msg string) *config.FieldError {
	return &config.FieldError{Section: section, Virtual: vi, Real: ri, Field: field, Msg: msg}
}

func TestJoinRefusals(t *testing.T) {
	other := errors.New("the disk is full")
	cases := []struct {
		name    string
		unread  []*config.FieldError
		verdict error
		want    string // "section/virtual/real/field:msg" joined by " | ", or the error
	}{
		{"nothing", nil, nil, ""},
		{"only the reader", []*config.FieldError{fieldErr("virtual", 0, -1, "address", "not an IP address")}, nil,
			"virtual/0/-1/address:not an IP address"},
		{"only Validate", nil, &config.ValidationError{Fields: []*config.FieldError{fieldErr("virtual", 0, -1, "port", "out of range")}},
			"virtual/0/-1/port:out of range"},
		{"Validate's verdict on an unread value is dropped",
			[]*config.FieldError{fieldErr("virtual", 0, -1, "address", "not an IP address")},
			&config.ValidationError{Fields: []*config.FieldError{
				fieldErr("virtual", 0, -1, "name", "is required"),
				fieldErr("virtual", 0, -1, "address", "is required: the virtual IP address"),
				fieldErr("virtual", 0, -1, "port", "out of range")}},
			"virtual/0/-1/name:is required | virtual/0/-1/address:not an IP address | virtual/0/-1/port:out of range"},
		{"the same field of another entry is kept",
			[]*config.FieldError{fieldErr("server", 0, 1, "address", "not an IP address")},
			&config.ValidationError{Fields: []*config.FieldError{fieldErr("server", 0, 0, "address", "already active")}},
			"server/0/0/address:already active | server/0/1/address:not an IP address"},
		{"entries in order, the reader's unsorted",
			[]*config.FieldError{fieldErr("redundancy", -1, -1, "syncd_id", "x"), fieldErr("global", -1, -1, "tcp_timeout", "y"), fieldErr("global", -1, -1, "primary", "z")},
			&config.ValidationError{Fields: []*config.FieldError{fieldErr("global", -1, -1, "network", "w"), fieldErr("virtual", 1, -1, "port", "v")}},
			"global/-1/-1/primary:z | global/-1/-1/network:w | global/-1/-1/tcp_timeout:y | redundancy/-1/-1/syncd_id:x | virtual/1/-1/port:v"},
		{"another error is returned as it is", []*config.FieldError{fieldErr("global", -1, -1, "primary", "z")}, other, "the disk is full"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := joinRefusals(tc.unread, tc.verdict)
			var got string
			var ve *config.ValidationError
			switch {
			case err == nil:
			case errors.As(err, &ve):
				var parts []string
				for _, fe := range ve.Fields {
					parts = append(parts, fe.Section+"/"+itoa(int64(fe.Virtual))+"/"+itoa(int64(fe.Real))+"/"+fe.Field+":"+fe.Msg)
				}
				got = strings.Join(parts, " | ")
			default:
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestFormMessage: a field left blank, read as 0 and refused for it, is
// "required"; every other refusal keeps config's words.
func TestFormMessage(t *testing.T) {
	f := web.NewForm(0)
	f.Values["port"], f.Values["weight"], f.Values["name"] = " ", "-1", ""
	cases := []struct {
		fe   *config.FieldError
		want string
	}{
		{&config.FieldError{Field: "port", Msg: "0 is out of range: use 1-65535", Rule: "use 1-65535"}, "is required: use 1-65535"},
		{&config.FieldError{Field: "weight", Msg: "-1 is out of range: use 0-2147483647", Rule: "use 0-2147483647"}, "-1 is out of range: use 0-2147483647"},
		{&config.FieldError{Field: "name", Msg: "is required: 1-63 letters"}, "is required: 1-63 letters"},
		{&config.FieldError{Field: "fwmark", Msg: "0 is out of range: use 1-9", Rule: "use 1-9"}, "0 is out of range: use 1-9"}, // not on the form
	}
	for _, tc := range cases {
		if got := formMessage(f, tc.fe); got != tc.want {
			t.Errorf("formMessage(%s: %q) = %q, want %q", tc.fe.Field, tc.fe.Msg, got, tc.want)
		}
	}
}
