package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syncAccounts carries active's accounts to standby as the sync does:
// through JSON.
func syncAccounts(t *testing.T, active, standby *Store) (AccountChanges, error) {
	t.Helper()
	a, err := active.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "root's password") || strings.Contains(string(b), TokenPrefix) {
		t.Fatalf("the accounts carry a password or a token's text: %s", b)
	}
	var got Accounts
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	return standby.AdoptAccounts(WithActor(ctx, Actor{Name: "peer 192.0.2.1"}), got)
}

func passwordHash(t *testing.T, st *Store, user string) string {
	t.Helper()
	var h string
	st.ro.QueryRow(`SELECT password_hash FROM users WHERE name = ?`, user).Scan(&h)
	return h
}

func sessionsOf(st *Store, user string) int {
	var n int
	st.ro.QueryRow(`SELECT COUNT(*) FROM sessions WHERE user = ?`, user).Scan(&n)
	return n
}

func userLine(us []User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name+" "+RoleName(u.Role)+map[bool]string{true: " disabled"}[u.Disabled])
	}
	return out
}

// TestAdoptAccounts: the standby takes the active's users and tokens,
// hashes as they are, so that the active's passwords and tokens open the
// standby's console; a user who is not on the active goes with their
// sessions and tokens; sessions end for a user disabled or given another
// password, and stay for the others.
func TestAdoptAccounts(t *testing.T) {
	active, standby := openTest(t), openTest(t)
	pol := SessionPolicy{Idle: time.Hour, Absolute: 12 * time.Hour}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(active.SetPassword(ctx, "root", "root's password"))
	must(active.AddUser(ctx, "bob", ScopeOperator, "bob's password"))
	must(active.AddUser(ctx, "erin", ScopeRead, "erin's password"))
	_, ci, err := active.CreateToken(ctx, "bob", "ci", ScopeOperator)
	must(err)
	old, _, err := active.CreateToken(ctx, "root", "old", ScopeAdmin)
	must(err)
	_, err = active.RevokeToken(ctx, old.ID)
	must(err)

	// The standby has users of its own: root with another password, and
	// dave, with sessions and a token.
	must(standby.SetPassword(ctx, "root", "standby's root password"))
	must(standby.AddUser(ctx, "dave", ScopeAdmin, "dave's password"))
	rootSess, _ := standby.CreateSession(ctx, "root", pol)
	daveSess, _ := standby.CreateSession(ctx, "dave", pol)
	_, daveTok, err := standby.CreateToken(ctx, "dave", "mine", ScopeAdmin)
	must(err)

	changes, err := syncAccounts(t, active, standby)
	must(err)
	want := []string{"added bob as operator", "added erin as viewer", "password of root changed", "removed dave",
		`token 1 "ci" (operator) of bob taken`, `token 2 "old" (admin) of root taken (revoked)`}
	if !slices.Equal(changes, want) {
		t.Errorf("changes:\n%q\nwant:\n%q", changes, want)
	}
	au, _ := active.ListUsers(ctx)
	su, _ := standby.ListUsers(ctx)
	if !slices.Equal(userLine(su), userLine(au)) {
		t.Errorf("the standby's users %q, the active's %q", userLine(su), userLine(au))
	}
	for _, u := range []string{"root", "bob", "erin"} {
		if h := passwordHash(t, standby, u); h == "" || h != passwordHash(t, active, u) {
			t.Errorf("%s's hash on the standby %q, want the active's", u, h)
		}
	}
	if err := standby.CheckPassword(ctx, "root", "root's password"); err != nil {
		t.Errorf("the active's root password on the standby: %v", err)
	}
	if err := standby.CheckPassword(ctx, "root", "standby's root password"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("the standby's old root password: %v", err)
	}
	if err := standby.CheckPassword(ctx, "bob", "bob's password"); err != nil {
		t.Errorf("bob on the standby: %v", err)
	}
	if tok, err := standby.LookupToken(ctx, ci); err != nil || tok.Owner != "bob" || tok.Scope != ScopeOperator || tok.Name != "ci" {
		t.Errorf("the active's token on the standby: %+v, %v", tok, err)
	}
	if _, err := standby.LookupToken(ctx, daveTok); !errors.Is(err, ErrNoToken) {
		t.Errorf("the standby's own token: %v", err)
	}
	if ts, _ := standby.ListTokens(ctx); len(ts) != 2 || ts[0].Revoked.IsZero() || ts[0].Name != "old" {
		t.Errorf("the standby's tokens: %+v", ts)
	}
	if _, err := standby.Session(ctx, daveSess, pol); !errors.Is(err, ErrNoSession) || sessionsOf(standby, "dave") != 0 {
		t.Errorf("removed dave's session: %v", err)
	}
	if _, err := standby.Session(ctx, rootSess, pol); !errors.Is(err, ErrNoSession) {
		t.Errorf("the session of root, whose password changed: %v", err)
	}
	es, _ := standby.AuditQuery(ctx, AuditFilter{Kind: AuditAccounts})
	if len(es) != 1 || es[0].Actor != "peer 192.0.2.1" || es[0].Director == "" || es[0].Director != standby.director ||
		!strings.Contains(es[0].Detail, "from the active director: added bob as operator; ") || es[0].Fields["changes"] != "6" {
		t.Errorf("the standby's audit entries: %+v", es)
	}

	// Sessions on the standby of users whose password stays, stay; a
	// role changed on the active applies to them.
	bobSess, _ := standby.CreateSession(ctx, "bob", pol)
	erinSess, _ := standby.CreateSession(ctx, "erin", pol)
	rootSess, _ = standby.CreateSession(ctx, "root", pol)
	must(active.SetRole(ctx, "bob", ScopeAdmin))
	must(active.DisableUser(ctx, "erin"))
	must(active.AddUser(ctx, "fay", ScopeRead, "fay's password"))
	must(active.RemoveUser(ctx, "fay"))
	_, err = active.RevokeToken(ctx, 1)
	must(err)
	changes, err = syncAccounts(t, active, standby)
	must(err)
	want = []string{"role of bob: operator -> admin", "disabled erin", "token 1 revoked"}
	if !slices.Equal(changes, want) {
		t.Errorf("changes:\n%q\nwant:\n%q", changes, want)
	}
	if s, err := standby.Session(ctx, bobSess, pol); err != nil || s.User != "bob" {
		t.Errorf("bob's session on the standby: %+v, %v", s, err)
	}
	if r, _ := standby.UserRole(ctx, "bob"); r != ScopeAdmin {
		t.Errorf("bob's role on the standby: %v", r)
	}
	if _, err := standby.Session(ctx, rootSess, pol); err != nil {
		t.Errorf("root's session on the standby: %v", err)
	}
	if _, err := standby.Session(ctx, erinSess, pol); !errors.Is(err, ErrNoSession) {
		t.Errorf("disabled erin's session: %v", err)
	}
	if _, err := standby.LookupToken(ctx, ci); !errors.Is(err, ErrNoToken) {
		t.Errorf("the token revoked on the active: %v", err)
	}

	// A removed user disappears with their sessions.
	must(active.RemoveUser(ctx, "erin"))
	must(active.EnableUser(ctx, "root")) // already enabled: no change
	changes, err = syncAccounts(t, active, standby)
	must(err)
	if !slices.Equal(changes, AccountChanges{"removed erin"}) {
		t.Errorf("changes %q", changes)
	}
	if su, _ := standby.ListUsers(ctx); slices.ContainsFunc(su, func(u User) bool { return u.Name == "erin" }) {
		t.Errorf("erin is still on the standby: %q", userLine(su))
	}

	// Nothing changed: nothing written, no entry.
	n, _ := standby.LastAudit(ctx)
	if changes, err := syncAccounts(t, active, standby); err != nil || len(changes) != 0 {
		t.Errorf("a sync without changes: %q, %v", changes, err)
	}
	if m, _ := standby.LastAudit(ctx); m != n {
		t.Error("a sync without changes wrote an audit entry")
	}
	// A use of a token on either director moves its last use on, not
	// back.
	_, text, _ := active.CreateToken(ctx, "bob", "metrics", ScopeRead)
	syncAccounts(t, active, standby)
	standby.now = func() time.Time { return time.Now().Add(time.Hour) }
	tok, err := standby.LookupToken(ctx, text)
	must(err)
	if changes, err := syncAccounts(t, active, standby); err != nil || len(changes) != 0 {
		t.Errorf("a sync after a use on the standby: %q, %v", changes, err)
	}
	if got, _ := standby.Token(ctx, tok.ID); !got.LastUsed.Equal(tok.LastUsed) {
		t.Errorf("the standby's last use %v went back to %v", tok.LastUsed, got.LastUsed)
	}
}

// TestAdoptAccountsRefused: accounts of another version or columns, bad
// rows, or without an enabled admin are refused whole, every reason at
// once, and change nothing.
func TestAdoptAccountsRefused(t *testing.T) {
	active, standby := openTest(t), openTest(t)
	if err := active.SetPassword(ctx, "root", "root's password"); err != nil {
		t.Fatal(err)
	}
	if err := standby.SetPassword(ctx, "keep", "the standby's password"); err != nil {
		t.Fatal(err)
	}
	good, err := active.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(a *Accounts)) Accounts {
		b, _ := json.Marshal(good)
		var a Accounts
		json.Unmarshal(b, &a)
		f(&a)
		return a
	}
	for _, c := range []struct {
		name string
		a    Accounts
		want []string
	}{
		{"version", edit(func(a *Accounts) { a.Version = 2 }), []string{"version 2", "takes version 1"}},
		{"columns", edit(func(a *Accounts) { a.Tokens.Columns = append(a.Tokens.Columns, "color") }),
			[]string{"api_tokens sent have the columns", "color", "upgrade both directors"}},
		{"no users", edit(func(a *Accounts) { a.Users.Rows = nil }), []string{"no enabled admin"}},
		{"root disabled", edit(func(a *Accounts) { a.Users.Rows[0][3] = 1.0 }), []string{"no enabled admin"}},
		{"bad rows", edit(func(a *Accounts) {
			a.Users.Rows = append(a.Users.Rows, []any{"bad name!", "plain", "king", 2.0, "", "", "local", 0.0}, []any{"short"},
				[]any{"pam1", "$argon2id$x", "viewer", 0.0, "", "", "pam", 0.0}, []any{"ldap1", "", "viewer", 0.0, "", "", "ldap", 0.0})
			a.Tokens.Rows = [][]any{{1.0, "AAAA", "nobody", "ci", "all", 0.0, 0.0, 0.0, 0.0}}
		}), []string{`user name "bad name!" is not allowed`, "the password hash is not an argon2id one", `role "king"`,
			"disabled is 2", "users row 3: 1 values, want 8",
			"user pam1: a PAM user with a password hash", `user ldap1: source "ldap" is not local or pam`, "token 1: its hash is not a SHA-256",
			`its owner "nobody" is not among the users`, "token 1: scope"}},
		{"too many", edit(func(a *Accounts) {
			a.Users.Rows = slices.Repeat(a.Users.Rows, MaxAccountRows+1)
		}), []string{"10001 rows of users: at most 10000"}},
	} {
		_, err := standby.AdoptAccounts(ctx, c.a)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", c.name, err, w)
			}
		}
	}
	if us, _ := standby.ListUsers(ctx); len(us) != 1 || us[0].Name != "keep" {
		t.Errorf("the standby's users after the refusals: %q", userLine(us))
	}
	if es, _ := standby.AuditQuery(ctx, AuditFilter{Kind: AuditAccounts}); len(es) != 0 {
		t.Errorf("entries of refused accounts: %+v", es)
	}
}

// BenchmarkAdoptAccounts is what the standby does every 5 s with 1000
// users and 1000 API tokens that did not change: the answer's size (JSON,
// before sealing) and the time to decode and compare it.
func BenchmarkAdoptAccounts(b *testing.B) {
	st := openTest(b)
	var a Accounts
	a.Version = AccountsVersion
	a.Users.Columns, a.Tokens.Columns = syncUsers.names(), syncTokens.names()
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range 1000 {
		name := "user" + strconv.Itoa(i)
		a.Users.Rows = append(a.Users.Rows, []any{name, dummyHash, "admin", int64(0), now, now})
		h := hashToken(strconv.Itoa(i))
		a.Tokens.Rows = append(a.Tokens.Rows, []any{int64(i + 1), h, name, "ci", "read", time.Now().Unix(), int64(0), int64(0)})
	}
	if _, err := st.AdoptAccounts(ctx, a); err != nil {
		b.Fatal(err)
	}
	wire, err := json.Marshal(a)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var got Accounts
		dec := json.NewDecoder(bytes.NewReader(wire))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			b.Fatal(err)
		}
		if ch, err := st.AdoptAccounts(ctx, got); err != nil || len(ch) != 0 {
			b.Fatal(ch, err)
		}
	}
	b.ReportMetric(float64(len(wire)), "bytes/answer")
}

// TestAdoptAccountsPAMUser: a user who logged in through PAM on the active
// (no password hash here) reaches the standby as a PAM user, with the role
// their groups gave.
func TestAdoptAccountsPAMUser(t *testing.T) {
	active, standby := openTest(t), openTest(t)
	if err := active.SetPassword(ctx, "root", "root's password"); err != nil {
		t.Fatal(err)
	}
	if err := active.PAMLogin(ctx, "paula", ScopeOperator); err != nil {
		t.Fatal(err)
	}
	if _, err := syncAccounts(t, active, standby); err != nil {
		t.Fatalf("syncing a PAM user: %v", err)
	}
	if src, err := standby.UserSource(ctx, "paula"); err != nil || src != "pam" {
		t.Errorf("paula on the standby: source %q, %v", src, err)
	}
	if role, err := standby.UserRole(ctx, "paula"); err != nil || role != ScopeOperator {
		t.Errorf("paula on the standby: role %v, %v", role, err)
	}
}
