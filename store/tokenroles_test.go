package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// A token's scope is never above its owner's role: CreateToken refuses it,
// naming the scope and the role, and makes nothing.
func TestTokenScopeAboveRole(t *testing.T) {
	st := openTest(t)
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role Scope
	}{{"olga", ScopeOperator}, {"vic", ScopeRead}} {
		if err := st.AddUser(ctx, u.name, u.role, "a password"); err != nil {
			t.Fatal(err)
		}
	}
	refused := []struct {
		owner string
		scope Scope
		want  string
	}{
		{"olga", ScopeAdmin, "token scope admin is above your role operator: choose viewer or operator"},
		{"vic", ScopeOperator, "token scope operator is above your role viewer: choose viewer"},
		{"vic", ScopeAdmin, "token scope admin is above your role viewer: choose viewer"},
	}
	for _, c := range refused {
		_, _, err := st.CreateToken(ctx, c.owner, "ci", c.scope)
		var se *ScopeAboveRoleError
		if !errors.Is(err, ErrScopeAboveRole) || !errors.As(err, &se) || err.Error() != c.want {
			t.Errorf("%s making a %v token: %v; want %q", c.owner, c.scope, err, c.want)
		}
	}
	if ts, _ := st.ListTokens(ctx); len(ts) != 0 {
		t.Fatalf("refused tokens were made: %+v", ts)
	}
	for _, c := range []struct {
		owner string
		scope Scope
	}{{"olga", ScopeOperator}, {"olga", ScopeRead}, {"vic", ScopeRead}, {"root", ScopeAdmin}} {
		if _, _, err := st.CreateToken(ctx, c.owner, "ok", c.scope); err != nil {
			t.Errorf("%s making a %v token: %v", c.owner, c.scope, err)
		}
	}
	// A disabled user makes no token.
	if err := st.DisableUser(ctx, "olga"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateToken(ctx, "olga", "ci", ScopeRead); !errors.Is(err, ErrNoUser) {
		t.Errorf("disabled olga making a token: %v, want ErrNoUser", err)
	}
	// Every bad argument is named at once.
	_, _, err := st.CreateTokenUntil(ctx, "root", "", ScopeNone, time.Now().Add(-time.Hour))
	for _, want := range []string{"token name is required", "token scope none is not one", "token expiry"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CreateTokenUntil with bad arguments: %v; want it to say %q", err, want)
		}
	}
}

// A token with an expiry works until then, and from then on is refused as
// expired (not as unknown); it is listed with its expiry.
func TestTokenExpiry(t *testing.T) {
	st := openTest(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st.now = func() time.Time { return clock }
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateTokenUntil(ctx, "root", "past", ScopeRead, clock); err == nil || !strings.Contains(err.Error(), "token expiry 2026-01-02T03:04:05Z is not to come") {
		t.Errorf("an expiry of now: %v", err)
	}
	until := clock.Add(24*time.Hour + 500*time.Millisecond)
	tok, text, err := st.CreateTokenUntil(ctx, "root", "deploy", ScopeAdmin, until)
	if err != nil {
		t.Fatal(err)
	}
	// Whole seconds, never earlier than asked.
	want := clock.Add(24*time.Hour + time.Second)
	if !tok.Expires.Equal(want) {
		t.Errorf("expires = %v, want %v", tok.Expires, want)
	}
	_, forever, err := st.CreateToken(ctx, "root", "monitoring", ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	clock = want.Add(-time.Second)
	if got, err := st.LookupToken(ctx, text); err != nil || got.Expired(clock) || !got.Expires.Equal(want) {
		t.Errorf("a second before its expiry: %+v, %v", got, err)
	}
	clock = want
	_, err = st.LookupToken(ctx, text)
	if !errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrNoToken) ||
		err.Error() != `API token "deploy" expired at 2026-01-03T03:04:06Z` {
		t.Errorf("at its expiry: %v, want ErrTokenExpired", err)
	}
	clock = clock.Add(365 * 24 * time.Hour)
	if _, err := st.LookupToken(ctx, forever); err != nil {
		t.Errorf("a token without expiry a year on: %v", err)
	}
	ts, err := st.ListTokens(ctx)
	if err != nil || len(ts) != 2 || !ts[1].Expires.Equal(want) || !ts[1].Expired(clock) || !ts[0].Expires.IsZero() || ts[0].Expired(clock) {
		t.Errorf("list = %+v, %v", ts, err)
	}
	// Its creation's audit entry says when it expires.
	es, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditTokenCreated})
	if len(es) != 2 || es[1].Fields["expires"] != "2026-01-03T03:04:06Z" || !strings.Contains(es[1].Detail, "expires 2026-01-03T03:04:06Z") || es[0].Fields["expires"] != "" {
		t.Errorf("audit entries: %+v", es)
	}
}

// Lowering a user's role lowers their tokens above it to it (a token
// within the new role, and a revoked one, stay as they were), and a token
// looked up is never above its owner's role.
func TestSetRoleLowersTokens(t *testing.T) {
	st := openTest(t)
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "ann", ScopeAdmin, "ann's password"); err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{}
	ids := map[string]int64{}
	for name, scope := range map[string]Scope{"adm": ScopeAdmin, "op": ScopeOperator, "rd": ScopeRead, "gone": ScopeAdmin} {
		tok, text, err := st.CreateToken(ctx, "ann", name, scope)
		if err != nil {
			t.Fatal(err)
		}
		texts[name], ids[name] = text, tok.ID
	}
	if _, err := st.RevokeToken(ctx, ids["gone"]); err != nil {
		t.Fatal(err)
	}
	scopes := func() map[string]Scope {
		m := map[string]Scope{}
		ts, _ := st.ListTokens(ctx)
		for _, tk := range ts {
			m[tk.Name] = tk.Scope
		}
		return m
	}
	if err := st.SetRole(ctx, "ann", ScopeOperator); err != nil {
		t.Fatal(err)
	}
	if got := scopes(); got["adm"] != ScopeOperator || got["op"] != ScopeOperator || got["rd"] != ScopeRead || got["gone"] != ScopeAdmin {
		t.Errorf("after demoting ann to operator: %v", got)
	}
	if tk, err := st.LookupToken(ctx, texts["adm"]); err != nil || tk.Scope != ScopeOperator {
		t.Errorf("ann's former admin token: %+v, %v", tk, err)
	}
	es, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditUser})
	if want := fmt.Sprintf(`token %d "adm" of ann lowered from admin to operator, ann's role`, ids["adm"]); len(es) == 0 || es[0].Detail != want || es[0].Fields["was"] != "admin" {
		t.Errorf("audit: %+v", es)
	}
	if err := st.SetRole(ctx, "ann", ScopeRead); err != nil {
		t.Fatal(err)
	}
	if got := scopes(); got["adm"] != ScopeRead || got["op"] != ScopeRead || got["rd"] != ScopeRead {
		t.Errorf("after demoting ann to viewer: %v", got)
	}
	// Raising the role again does not raise the tokens: they were made
	// for what they do now.
	if err := st.SetRole(ctx, "ann", ScopeAdmin); err != nil {
		t.Fatal(err)
	}
	if got := scopes(); got["adm"] != ScopeRead {
		t.Errorf("after promoting ann: %v", got)
	}

	// LookupToken caps a token at its owner's role, whatever the table
	// says (a role written by other means than SetRole).
	if _, err := st.rw.Exec(`UPDATE users SET role = 'viewer' WHERE name = 'root'`); err != nil {
		t.Fatal(err)
	}
	_, rootText, err := st.CreateToken(ctx, "ann", "x", ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.rw.Exec(`UPDATE users SET role = 'operator' WHERE name = 'ann'`); err != nil {
		t.Fatal(err)
	}
	if tk, err := st.LookupToken(ctx, rootText); err != nil || tk.Scope != ScopeOperator {
		t.Errorf("an admin token of operator ann: %+v, %v", tk, err)
	}

	// A removed user's tokens go with them; a disabled user's open
	// nothing (TestDisabledUser).
	if err := st.RemoveUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LookupToken(ctx, texts["rd"]); !errors.Is(err, ErrNoToken) {
		t.Errorf("removed ann's token: %v", err)
	}
}

// A change made with an API token names it in the revision, beside its
// owner, and in the audit entry.
func TestRevisionToken(t *testing.T) {
	st := openTest(t)
	if _, err := st.Replace(ctx, Change{Author: "root"}, large(2, 2)); err != nil {
		t.Fatal(err)
	}
	weight := func(w int64) func(*config.Config) error {
		return func(c *config.Config) error { c.Virtuals[0].Reals[0].Weight = w; return nil }
	}
	saved, err := st.Update(ctx, Change{Author: "alice", Token: "deploy", Note: "api"}, weight(7))
	if err != nil {
		t.Fatal(err)
	}
	// A conflict names the token too.
	_, err = st.Update(ctx, Change{Author: "carol", Base: saved.Serial - 1}, weight(9))
	if err == nil || !strings.Contains(err.Error(), "but alice (token deploy) saved serial") {
		t.Errorf("conflict: %v", err)
	}
	if _, err := st.Update(ctx, Change{Author: "bob"}, weight(8)); err != nil {
		t.Fatal(err)
	}
	revs, err := st.Revisions(ctx, 0, 2)
	if err != nil || len(revs) != 2 {
		t.Fatal(revs, err)
	}
	if revs[1].Author != "alice" || revs[1].Token != "deploy" || revs[1].By() != "alice (token deploy)" ||
		revs[0].Token != "" || revs[0].By() != "bob" {
		t.Errorf("revisions = %+v", revs)
	}
	if rev, _, err := st.Revision(ctx, saved.Serial); err != nil || rev.Token != "deploy" {
		t.Errorf("revision %d = %+v, %v", saved.Serial, rev, err)
	}
	es, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditApply, Actor: "alice"})
	if len(es) != 1 || es[0].Fields["token"] != "deploy" || !strings.Contains(es[0].Detail, "(token deploy)") {
		t.Errorf("audit = %+v", es)
	}
}

// BenchmarkLookupToken measures the check of an API token, which every API
// request with one makes (its use is written at most once a minute, so
// this is the read).
func BenchmarkLookupToken(b *testing.B) {
	st := openTest(b)
	if err := st.SetPassword(ctx, "root", "long enough"); err != nil {
		b.Fatal(err)
	}
	var text string
	for i := range 100 {
		_, t, err := st.CreateToken(ctx, "root", "t", ScopeAdmin)
		if err != nil {
			b.Fatal(err)
		}
		if i == 50 {
			text = t
		}
	}
	if _, err := st.LookupToken(ctx, text); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.LookupToken(ctx, text); err != nil {
			b.Fatal(err)
		}
	}
}
