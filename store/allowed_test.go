package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestRolesInTheWritePath: every way into the configuration (Update,
// EditDraft, ApplyDraft) checks what the change does against Change.Role,
// whoever calls it; a Change without a role changes nothing.
func TestRolesInTheWritePath(t *testing.T) {
	st := withUsers(t)
	scheduler := func(c *config.Config) error { c.Virtuals[0].Scheduler = "rr"; return nil }
	notAllowed := func(t *testing.T, err error, say string) {
		t.Helper()
		var re *RoleError
		if !errors.Is(err, ErrNotAllowed) || !errors.As(err, &re) || !strings.Contains(err.Error(), say) {
			t.Errorf("error %v, want ErrNotAllowed saying %q", err, say)
		}
	}
	serial := func() int64 { c, _ := st.Config(ctx); return c.Serial }
	before := serial()

	// No role: nothing, even what an operator may do.
	_, err := st.Update(ctx, Change{Author: "alice"}, weight(5))
	notAllowed(t, err, "may change nothing")
	// A viewer: nothing.
	_, err = st.Update(ctx, Change{Role: ScopeRead, Author: "alice"}, weight(5))
	notAllowed(t, err, "the viewer role reads only")
	_, err = st.EditDraft(ctx, Change{Role: ScopeRead, Author: "alice"}, 0, weight(5))
	notAllowed(t, err, "Weight")
	// An operator: the weight, not the scheduler, directly or in a draft.
	_, err = st.Update(ctx, Change{Role: ScopeOperator, Author: "alice"}, scheduler)
	notAllowed(t, err, "Scheduling (scheduler) wlc -> rr; that needs the admin role")
	_, err = st.EditDraft(ctx, Change{Role: ScopeOperator, Author: "alice"}, 0, scheduler)
	notAllowed(t, err, "scheduler")
	if serial() != before {
		t.Fatal("a refused change was saved")
	}
	if _, err := st.Update(ctx, Change{Role: ScopeOperator, Author: "alice"}, weight(5)); err != nil {
		t.Fatalf("an operator's weight: %v", err)
	}
	if _, err := st.EditDraft(ctx, Change{Role: ScopeOperator, Author: "alice"}, 0, weight(6)); err != nil {
		t.Fatalf("an operator's weight in a draft: %v", err)
	}

	// Bob's draft holds an admin's change; applied by bob as an operator
	// (his role lowered since), it is refused as a whole.
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "bob"}, 0, scheduler); err != nil {
		t.Fatal(err)
	}
	at := serial()
	_, err = st.ApplyDraft(ctx, Change{Role: ScopeOperator, Author: "bob"}, Apply{Version: AnyVersion})
	notAllowed(t, err, "scheduler")
	if serial() != at {
		t.Fatal("a refused APPLY was saved")
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "bob"}, Apply{Version: AnyVersion}); err != nil {
		t.Fatalf("bob's APPLY as an admin: %v", err)
	}
	// Alice's operator draft applies.
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeOperator, Author: "alice"}, Apply{Version: AnyVersion}); err != nil {
		t.Fatalf("alice's APPLY of a weight: %v", err)
	}
	if c, _ := st.Config(ctx); c.Virtuals[0].Reals[0].Weight != 6 || c.Virtuals[0].Scheduler != "rr" {
		t.Errorf("after the APPLYs: %+v", c.Virtuals[0])
	}
}
