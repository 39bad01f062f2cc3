package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUserRoles(t *testing.T) {
	st := openTest(t)
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	// A user made by SetPassword (first-time setup, passwd) is an admin.
	if r, err := st.UserRole(ctx, "root"); err != nil || r != ScopeAdmin {
		t.Fatalf("root's role = %v, %v; want admin", r, err)
	}
	if err := st.AddUser(ctx, "ann", ScopeRead, "ann's password"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "ann", ScopeAdmin, "another password"); !errors.Is(err, ErrUserExists) {
		t.Errorf("adding ann twice: %v", err)
	}
	// Every bad argument is named at once.
	err := st.AddUser(ctx, "bad name!", ScopeNone, "short")
	for _, want := range []string{`user name "bad name!" is not allowed`, "choose viewer, operator or admin", "at least 8"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AddUser with bad arguments: %v; want it to say %q", err, want)
		}
	}
	if _, err := ParseRole("root"); err == nil || err.Error() != `role "root" is not allowed: choose viewer, operator or admin` {
		t.Errorf("ParseRole(root): %v", err)
	}
	for _, s := range Scopes() {
		if r, err := ParseRole(RoleName(s)); err != nil || r != s {
			t.Errorf("ParseRole(RoleName(%v)) = %v, %v", s, r, err)
		}
	}

	us, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Name != "ann" || us[0].Role != ScopeRead || us[0].Disabled || us[0].Created.IsZero() ||
		us[1].Name != "root" || us[1].Role != ScopeAdmin {
		t.Errorf("ListUsers = %+v", us)
	}

	// The last enabled admin can be neither demoted, nor disabled, nor
	// removed; with a second admin, it can.
	lastAdmin := []struct {
		name string
		do   func() error
	}{
		{"demote", func() error { return st.SetRole(ctx, "root", ScopeOperator) }},
		{"disable", func() error { return st.DisableUser(ctx, "root") }},
		{"remove", func() error { return st.RemoveUser(ctx, "root") }},
	}
	for _, c := range lastAdmin {
		if err := c.do(); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s the last admin: %v, want ErrLastAdmin", c.name, err)
		}
	}
	if r, _ := st.UserRole(ctx, "root"); r != ScopeAdmin {
		t.Errorf("root is %v after the refusals", r)
	}
	// A disabled admin does not count.
	if err := st.SetRole(ctx, "ann", ScopeAdmin); err != nil {
		t.Fatal(err)
	}
	if err := st.DisableUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	for _, c := range lastAdmin {
		if err := c.do(); !errors.Is(err, ErrLastAdmin) {
			t.Errorf("%s the last enabled admin: %v, want ErrLastAdmin", c.name, err)
		}
	}
	if err := st.EnableUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRole(ctx, "root", ScopeOperator); err != nil {
		t.Errorf("demoting root beside another admin: %v", err)
	}
	if err := st.SetRole(ctx, "ann", ScopeRead); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demoting ann, now the last admin: %v", err)
	}
	for _, err := range []error{st.SetRole(ctx, "nobody", ScopeRead), st.DisableUser(ctx, "nobody"), st.EnableUser(ctx, "nobody"), st.RemoveUser(ctx, "nobody")} {
		if !errors.Is(err, ErrNoUser) {
			t.Errorf("changing an unknown user: %v, want ErrNoUser", err)
		}
	}
	if err := st.RemoveUser(ctx, "root"); err != nil {
		t.Errorf("removing operator root: %v", err)
	}
	if ok, _ := st.HasUsers(ctx); !ok {
		t.Error("no users left")
	}
}

// A disabled user cannot log in, their sessions and tokens end at once, and
// enabling them lets them log in again (with no session back).
func TestDisabledUser(t *testing.T) {
	st := openTest(t)
	pol := SessionPolicy{Idle: time.Hour, Absolute: 12 * time.Hour}
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "bob", ScopeOperator, "bob's password"); err != nil {
		t.Fatal(err)
	}
	sess, err := st.CreateSession(ctx, "bob", pol)
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := st.CreateToken(ctx, "bob", "ci", ScopeOperator)
	if err != nil {
		t.Fatal(err)
	}
	rootSess, _ := st.CreateSession(ctx, "root", pol)
	if err := st.DisableUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(ctx, "bob", "bob's password"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("disabled bob logs in: %v", err)
	}
	if _, err := st.Session(ctx, sess, pol); !errors.Is(err, ErrNoSession) {
		t.Errorf("disabled bob's session: %v", err)
	}
	var n int
	st.ro.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user = 'bob'`).Scan(&n)
	if n != 0 {
		t.Errorf("disabled bob still has %d sessions stored", n)
	}
	if _, err := st.LookupToken(ctx, tok); !errors.Is(err, ErrNoToken) {
		t.Errorf("disabled bob's token: %v", err)
	}
	if _, err := st.UserRole(ctx, "bob"); !errors.Is(err, ErrNoUser) {
		t.Errorf("disabled bob's role: %v", err)
	}
	if _, err := st.Session(ctx, rootSess, pol); err != nil {
		t.Errorf("root's session ended with bob's: %v", err)
	}
	us, _ := st.ListUsers(ctx)
	if len(us) != 2 || !us[0].Disabled || us[0].Role != ScopeOperator {
		t.Errorf("ListUsers = %+v", us)
	}
	if err := st.EnableUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(ctx, "bob", "bob's password"); err != nil {
		t.Errorf("enabled bob cannot log in: %v", err)
	}
	if _, err := st.Session(ctx, sess, pol); !errors.Is(err, ErrNoSession) {
		t.Errorf("bob's old session came back: %v", err)
	}
	if _, err := st.LookupToken(ctx, tok); err != nil {
		t.Errorf("enabled bob's token: %v", err)
	}
	// Removing bob removes his sessions and tokens with him.
	st.CreateSession(ctx, "bob", pol)
	if err := st.RemoveUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	st.ro.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user = 'bob'`).Scan(&n)
	if n != 0 {
		t.Errorf("removed bob still has %d sessions", n)
	}
	if _, err := st.LookupToken(ctx, tok); !errors.Is(err, ErrNoToken) {
		t.Errorf("removed bob's token: %v", err)
	}
}

// TestUserChangesAudited: every change of a user or role is in the audit
// trail, in the change's own transaction, with who made it (the console's
// actor, or the CLI's author) and what changed; a refused change and a
// change to what already was write nothing.
func TestUserChangesAudited(t *testing.T) {
	st := openTest(t)
	admin := WithActor(ctx, Actor{Name: "root", Client: "192.0.2.7"})
	cli := WithActor(ctx, Actor{Name: "cli:ops"})
	if err := st.SetPassword(cli, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	start, _ := st.LastAudit(ctx)
	steps := []struct {
		name string
		do   func() error
		// want is actor|client|detail|change|role, or "" for no entry.
		want string
	}{
		{"add", func() error { return st.AddUser(admin, "bob", ScopeOperator, "bob's password") },
			"root|192.0.2.7|added bob as operator|added|operator"},
		{"add again (refused)", func() error { st.AddUser(admin, "bob", ScopeRead, "bob's password"); return nil }, ""},
		{"role", func() error { return st.SetRole(admin, "bob", ScopeAdmin) },
			"root|192.0.2.7|role of bob: operator -> admin|role|admin"},
		{"same role", func() error { return st.SetRole(admin, "bob", ScopeAdmin) }, ""},
		{"disable", func() error { return st.DisableUser(cli, "bob") }, "cli:ops||disabled bob|disabled|admin"},
		{"disable again", func() error { return st.DisableUser(cli, "bob") }, ""},
		{"last admin (refused)", func() error { st.DisableUser(admin, "root"); return nil }, ""},
		{"enable", func() error { return st.EnableUser(admin, "bob") }, "root|192.0.2.7|enabled bob|enabled|admin"},
		{"enable again", func() error { return st.EnableUser(admin, "bob") }, ""},
		{"password reset by an admin", func() error { return st.SetPassword(admin, "bob", "a new password") },
			"root|192.0.2.7|password set for bob|password|"},
		{"remove", func() error { return st.RemoveUser(admin, "bob") }, "root|192.0.2.7|removed bob (admin)|removed|"},
		{"remove unknown (refused)", func() error { st.RemoveUser(admin, "bob"); return nil }, ""},
	}
	last := start
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		es, err := st.AuditQuery(ctx, AuditFilter{After: last})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			if e.Kind != AuditUser || e.Fields["user"] == "" || e.Director == "" {
				t.Errorf("%s: entry %+v", s.name, e)
			}
			got = append(got, strings.Join([]string{e.Actor, e.Client, e.Detail, e.Fields["change"], e.Fields["role"]}, "|"))
			last = e.ID
		}
		switch {
		case s.want == "" && len(got) != 0:
			t.Errorf("%s: entries %q, want none", s.name, got)
		case s.want != "" && (len(got) != 1 || got[0] != s.want):
			t.Errorf("%s: entries %q, want %q", s.name, got, s.want)
		}
	}
	if es, _ := st.AuditQuery(ctx, AuditFilter{After: start, Kind: AuditUser}); len(es) != 6 {
		t.Errorf("%d user entries, want 6", len(es))
	}
}
