package store

import (
	"path/filepath"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestGuardShared: a reader that changes what the store lent is caught,
// in the running configuration and in a draft.
func TestGuardShared(t *testing.T) {
	open := func() *Store { // not openTest, whose guard would fail the test
		st, err := Open(ctx, filepath.Join(t.TempDir(), "guard.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open()
	st.GuardShared()
	if err := st.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	c, err := st.SharedConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SharedConfig(ctx); err != nil || st.SharedChanged() != nil {
		t.Fatalf("nothing changed: %v, %v", err, st.SharedChanged())
	}
	c.Global.TCPTimeout = 5
	if err := st.SharedChanged(); err == nil {
		t.Error("a change of the lent configuration was not seen")
	}

	other := open()
	other.GuardShared()
	if err := other.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
		c.Global.TCPTimeout = 7
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d, err := other.SharedDraft(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	d.Config.Virtuals = append(d.Config.Virtuals, config.NewVirtual("x"))
	if err := other.SharedChanged(); err == nil {
		t.Error("a change of the lent draft was not seen")
	}
}
