package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/pamauth"
)

// TestPAMFlags: PAM is off without -pam-service; -pam-service and
// -pam-roles go together, and bad roles are refused, each named.
func TestPAMFlags(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if a, err := pamAuth("", "", log); a != nil || err != nil {
		t.Errorf("no flags: %v, %v; want PAM off", a, err)
	}
	for _, c := range []struct{ service, roles, want string }{
		{"", "admin=wheel", "-pam-roles needs -pam-service"},
		{"lvsconsole", "", "-pam-service needs -pam-roles"},
		{"lvsconsole", "admin=wheel,boss=x,viewer", `role "boss" is not allowed`},
		{"lvsconsole", "admin=wheel,boss=x,viewer", `item 3 "viewer": want ROLE=GROUP`},
	} {
		if a, err := pamAuth(c.service, c.roles, log); a != nil || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-pam-service %q -pam-roles %q: %v, %v; want %q", c.service, c.roles, a, err, c.want)
		}
	}
	a, err := pamAuth("lvsconsole", "admin=lvst-no-such-group,viewer=root", log)
	if !pamauth.Available {
		if err == nil || !strings.Contains(err.Error(), "PAM is not available in this build") {
			t.Errorf("without PAM in the build: %v, %v", a, err)
		}
		return
	}
	if a == nil || err != nil {
		t.Fatalf("PAM on: %v, %v", a, err)
	}
	if !strings.Contains(logs.String(), `roles="viewer=root,admin=lvst-no-such-group"`) ||
		!strings.Contains(logs.String(), `groups=lvst-no-such-group`) {
		t.Errorf("serve's log does not show the mapping and the unknown group:\n%s", logs.String())
	}
}
