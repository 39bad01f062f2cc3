package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func TestAuditAppendQueryPage(t *testing.T) {
	st := openTest(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st.now = func() time.Time { return clock }
	actx := WithActor(ctx, Actor{Name: "alice", Client: "192.0.2.7"})
	for i := range 25 {
		kind := AuditLogin
		if i%5 == 0 {
			kind = AuditLogout
		}
		e := AuditEntry{Kind: kind, Detail: fmt.Sprint("event ", i), Time: clock.Add(time.Duration(i) * time.Minute)}
		c := actx
		if i%2 == 1 {
			e.Actor = "bob"
		}
		if err := st.Audit(c, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.AuditQuery(ctx, AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 || all[0].Detail != "event 24" || all[24].Detail != "event 0" {
		t.Fatalf("got %d entries, first %+v", len(all), all[0])
	}
	if e := all[24]; e.Actor != "alice" || e.Client != "192.0.2.7" || e.Director == "" || !e.Time.Equal(clock) || e.Kind != AuditLogout {
		t.Errorf("first entry = %+v", e)
	}
	bob, _ := st.AuditQuery(ctx, AuditFilter{Actor: "bob"})
	if len(bob) != 12 {
		t.Errorf("bob has %d entries, want 12", len(bob))
	}
	outs, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditLogout})
	if len(outs) != 5 {
		t.Errorf("%d logouts, want 5", len(outs))
	}
	win, _ := st.AuditQuery(ctx, AuditFilter{Since: clock.Add(10 * time.Minute), Until: clock.Add(15 * time.Minute)})
	if len(win) != 5 || win[0].Detail != "event 14" || win[4].Detail != "event 10" {
		t.Errorf("time window: %+v", win)
	}
	// Paging: 10 at a time, each page below the last id of the one before.
	var seen []string
	before := int64(0)
	for range 5 {
		page, err := st.AuditQuery(ctx, AuditFilter{Limit: 10, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			seen = append(seen, e.Detail)
		}
		before = page[len(page)-1].ID
	}
	if len(seen) != 25 || seen[0] != "event 24" || seen[24] != "event 0" {
		t.Errorf("paged: %d entries %v", len(seen), seen)
	}
	// Following: after an id, oldest first.
	last, err := st.LastAudit(ctx)
	if err != nil || last != all[0].ID {
		t.Errorf("LastAudit = %d, %v; want %d", last, err, all[0].ID)
	}
	after, _ := st.AuditQuery(ctx, AuditFilter{After: all[3].ID, Limit: 2})
	if len(after) != 2 || after[0].ID != all[2].ID || after[1].ID != all[1].ID {
		t.Errorf("after %d: %+v", all[3].ID, after)
	}
}

func TestAuditBounds(t *testing.T) {
	st := openTest(t)
	long := strings.Repeat("é", 5000)
	if err := st.Audit(ctx, AuditEntry{Kind: AuditLogin, Actor: long, Detail: long}); err != nil {
		t.Fatal(err)
	}
	if err := st.Audit(ctx, AuditEntry{Actor: "x"}); err == nil {
		t.Error("an entry without a kind was accepted")
	}
	if err := st.Audit(ctx, AuditEntry{Kind: "k", Fields: map[string]string{"a": strings.Repeat("x", 5000)}}); err == nil {
		t.Error("fields of 5000 bytes were accepted")
	}
	got, _ := st.AuditQuery(ctx, AuditFilter{})
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	if n := len([]rune(got[0].Detail)); n != MaxAuditDetail {
		t.Errorf("detail of %d characters, want %d", n, MaxAuditDetail)
	}
	if n := len([]rune(got[0].Actor)); n != maxAuditActor {
		t.Errorf("actor of %d characters, want %d", n, maxAuditActor)
	}
	for range MaxAuditLimit + 5 {
		st.Audit(ctx, AuditEntry{Kind: "k"})
	}
	got, _ = st.AuditQuery(ctx, AuditFilter{Limit: 1 << 30})
	if len(got) != MaxAuditLimit {
		t.Errorf("a query returned %d entries, the bound is %d", len(got), MaxAuditLimit)
	}
	// No actor named: the system.
	if got[0].Actor != SystemActor {
		t.Errorf("actor %q, want %q", got[0].Actor, SystemActor)
	}
}

func TestAuditPrune(t *testing.T) {
	st := openTest(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		st.Audit(ctx, AuditEntry{Kind: "k", Time: t0.AddDate(0, 0, i)})
	}
	n, err := st.PruneAudit(ctx, t0.AddDate(0, 0, 4))
	if err != nil || n != 4 {
		t.Fatalf("pruned %d, %v; want 4", n, err)
	}
	got, _ := st.AuditQuery(ctx, AuditFilter{})
	if len(got) != 6 || !got[5].Time.Equal(t0.AddDate(0, 0, 4)) {
		t.Errorf("left: %+v", got)
	}
}

// TestAuditInTransactions: what the store changes writes its entry in the
// same transaction: a revision (with its serial and author, and its kind),
// a password, the peer secret, tokens, an expired session.
func TestAuditInTransactions(t *testing.T) {
	st := openTest(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st.now = func() time.Time { return clock }
	actx := WithActor(ctx, Actor{Name: "alice", Client: "192.0.2.9"})
	if err := st.SetPassword(actx, "alice", "long enough"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPeerSecret(actx, make([]byte, MinSecret)); err != nil {
		t.Fatal(err)
	}
	cur, _ := st.Config(ctx)
	saved, err := st.Update(actx, Change{Role: ScopeAdmin, Author: "alice", Base: cur.Serial}, func(c *config.Config) error {
		c.Global.TCPTimeout = 66
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Restore(actx, Change{Role: ScopeAdmin, Author: "alice", Note: fmt.Sprintf("restored revision %d", cur.Serial)}, cur.Serial); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(actx, Change{Role: ScopeAdmin, Author: "cli:root", Note: "import of lvs.cf"}, func(c *config.Config) error {
		c.Global.TCPTimeout = 77
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tok, text, err := st.CreateToken(actx, "alice", "ci", ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.LookupToken(WithActor(ctx, Actor{Client: "192.0.2.10"}), text); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute) // used again: not in the trail
	st.LookupToken(ctx, text)
	clock = clock.Add(time.Hour) // an hour on: in it again
	st.LookupToken(ctx, text)
	if _, err := st.RevokeToken(actx, tok.ID); err != nil {
		t.Fatal(err)
	}
	st.RevokeToken(actx, tok.ID) // twice: one entry
	policy := SessionPolicy{Idle: time.Minute, Absolute: time.Hour}
	sess, _ := st.CreateSession(ctx, "alice", policy)
	clock = clock.Add(2 * time.Minute)
	st.Session(ctx, sess, policy)
	st.Session(ctx, sess, policy) // met again: gone, no second entry
	st.CreateSession(ctx, "alice", policy)
	clock = clock.Add(2 * time.Minute)
	if _, err := st.CreateSession(ctx, "alice", policy); err != nil { // sweeps the one before
		t.Fatal(err)
	}

	got, err := st.AuditQuery(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := len(got) - 1; i >= 0; i-- {
		e := got[i]
		lines = append(lines, e.Actor+"|"+e.Client+"|"+e.Kind+"|"+e.Detail)
	}
	want := []string{
		"alice|192.0.2.9|user changed|password set for alice",
		"alice|192.0.2.9|secret changed|peer secret replaced",
		fmt.Sprintf("alice|192.0.2.9|apply|serial %d: ", saved.Serial),
		fmt.Sprintf("alice|192.0.2.9|restore|serial %d: restored revision %d", saved.Serial+1, cur.Serial),
		fmt.Sprintf("cli:root|192.0.2.9|import|serial %d: import of lvs.cf", saved.Serial+2),
		`alice|192.0.2.9|token created|token 1 "ci" (read) for alice`,
		`token ci|192.0.2.10|token used|token 1 "ci" of alice`,
		`token ci||token used|token 1 "ci" of alice`,
		"alice|192.0.2.9|token revoked|token 1",
		"alice||session expired|session of alice ended by the session policy",
		"alice||session expired|session of alice ended by the session policy (swept)",
	}
	if len(lines) != len(want) {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("entry %d = %q, want it to start %q", i, lines[i], want[i])
		}
	}
	if f := got[len(got)-3].Fields; f["serial"] != fmt.Sprint(saved.Serial) || f["author"] != "alice" {
		t.Errorf("the apply's fields = %v", f)
	}
}
