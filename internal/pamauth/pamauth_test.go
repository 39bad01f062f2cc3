package pamauth

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/store"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestParseRoles(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[store.Scope]string
		errs []string // each in the error
	}{
		{in: "viewer=lvs-view,operator=lvs-op,admin=wheel",
			want: map[store.Scope]string{store.ScopeRead: "lvs-view", store.ScopeOperator: "lvs-op", store.ScopeAdmin: "wheel"}},
		{in: " admin=sudo ", want: map[store.Scope]string{store.ScopeAdmin: "sudo"}},
		{in: "", errs: []string{`item 1 "": want ROLE=GROUP`}},
		{in: "boss=wheel,admin", errs: []string{`item 1: role "boss" is not allowed`, `item 2 "admin": want ROLE=GROUP`}},
		{in: "admin=a,admin=b", errs: []string{"item 2: role admin is given twice"}},
		{in: "viewer=a b,operator=x:y", errs: []string{`item 1: group "a b" is not allowed`, `item 2: group "x:y"`}},
	} {
		got, err := ParseRoles(c.in)
		if len(c.errs) == 0 {
			if err != nil || !maps.Equal(got, c.want) {
				t.Errorf("ParseRoles(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseRoles(%q) = %v, want errors %q", c.in, got, c.errs)
			continue
		}
		for _, e := range c.errs {
			if !strings.Contains(err.Error(), e) {
				t.Errorf("ParseRoles(%q): %v\nwant it to say %q", c.in, err, e)
			}
		}
	}
}
