package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPAMUsers: a PAM user's row is made and re-mapped by PAMLogin,
// disabled by PAMUnmapped (sessions ended) and enabled again by a login
// whose groups map; a local user's name and a PAM user disabled in the
// console are refused; a PAM user's password cannot be set or checked.
func TestPAMUsers(t *testing.T) {
	ctx := context.Background()
	st := openTest(t)
	if err := st.SetPassword(ctx, "root", "root password"); err != nil {
		t.Fatal(err)
	}
	role := func(name string) Scope {
		t.Helper()
		r, err := st.UserRole(ctx, name)
		if err != nil && !errors.Is(err, ErrNoUser) {
			t.Fatal(err)
		}
		return r
	}
	if err := st.PAMLogin(ctx, "ann", ScopeOperator); err != nil {
		t.Fatal(err)
	}
	if src, err := st.UserSource(ctx, "ann"); err != nil || src != SourcePAM {
		t.Errorf("ann's source: %q, %v; want pam", src, err)
	}
	if err := st.PAMLogin(ctx, "ann", ScopeAdmin); err != nil || role("ann") != ScopeAdmin {
		t.Errorf("ann re-mapped to admin: %v, role %v", err, role("ann"))
	}
	if err := st.PAMLogin(ctx, "root", ScopeAdmin); !errors.Is(err, ErrLocalUser) {
		t.Errorf("PAMLogin of local root: %v, want %v", err, ErrLocalUser)
	}
	if err := st.SetPassword(ctx, "ann", "ann's password"); !errors.Is(err, ErrPAMUser) {
		t.Errorf("SetPassword of PAM user ann: %v, want %v", err, ErrPAMUser)
	}
	if err := st.CheckPassword(ctx, "ann", ""); !errors.Is(err, ErrBadPassword) {
		t.Errorf("CheckPassword of PAM user ann (no hash): %v, want %v", err, ErrBadPassword)
	}

	// Groups that no longer map: disabled, sessions ended; mapped again:
	// enabled, with the new role.
	token, err := st.CreateSession(ctx, "ann", SessionPolicy{Idle: time.Hour, Absolute: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PAMUnmapped(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if role("ann") != ScopeNone {
		t.Errorf("unmapped ann has role %v", role("ann"))
	}
	if _, err := st.Session(ctx, token, SessionPolicy{Idle: time.Hour, Absolute: time.Hour}); !errors.Is(err, ErrNoSession) {
		t.Errorf("unmapped ann's session: %v, want %v", err, ErrNoSession)
	}
	if err := st.PAMLogin(ctx, "ann", ScopeRead); err != nil || role("ann") != ScopeRead {
		t.Errorf("ann mapped again: %v, role %v; want viewer", err, role("ann"))
	}

	// Disabled in the console: PAM does not enable her.
	if err := st.DisableUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := st.PAMLogin(ctx, "ann", ScopeRead); !errors.Is(err, ErrDisabled) {
		t.Errorf("PAMLogin of ann disabled in the console: %v, want %v", err, ErrDisabled)
	}
	// PAMUnmapped leaves local users alone.
	if err := st.PAMUnmapped(ctx, "root"); err != nil || role("root") != ScopeAdmin {
		t.Errorf("PAMUnmapped(root): %v, role %v; want admin still", err, role("root"))
	}
	us, err := st.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].Name != "ann" || us[0].Source != SourcePAM || us[1].Source != SourceLocal {
		t.Errorf("ListUsers: %+v", us)
	}
}
