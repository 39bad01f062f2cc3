package store

import (
	"errors"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// An imported file keeps its serial_no when it is ahead of the store's, so
// that the serial never goes backwards for whoever compares it (piranha's
// GUI bumped serial_no on every write); a file behind the store gets the
// store's next serial. The next serial is max(current + 1, file's).
func TestReplaceKeepsAFileSerialAhead(t *testing.T) {
	st := openTest(t)
	withSerial := func(serial int64, port int) *config.Config {
		c := rich()
		c.Serial = serial
		c.Virtuals[0].Port = port
		return c
	}
	for _, step := range []struct {
		name string
		file int64
		port int
		want int64
	}{
		{"ahead", 70, 81, 70},
		{"behind", 12, 82, 71},
		{"equal to the current", 71, 83, 72},
		{"none", 0, 84, 73},
		{"just ahead", 75, 85, 75},
	} {
		saved, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Note: "import", Elevated: true}, withSerial(step.file, step.port))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if saved.Serial != step.want {
			t.Errorf("%s: file serial %d saved as %d, want %d", step.name, step.file, saved.Serial, step.want)
		}
		cur, err := st.Config(ctx)
		if err != nil || cur.Serial != step.want {
			t.Fatalf("%s: the store is at %v (%v), want %d", step.name, cur.Serial, err, step.want)
		}
		if _, _, err := st.Revision(ctx, step.want); err != nil {
			t.Errorf("%s: revision %d: %v", step.name, step.want, err)
		}
	}
	// Edits go on from there.
	saved, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error { c.Virtuals[0].Port = 90; return nil })
	if err != nil || saved.Serial != 76 {
		t.Fatalf("an edit after the import: serial %v, %v; want 76", saved.Serial, err)
	}
	// A file identical to the configuration changes nothing, whatever its
	// serial.
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test"}, withSerial(500, 90)); !errors.Is(err, ErrNoChange) {
		t.Errorf("replacing with the same configuration: %v, want ErrNoChange", err)
	}
}
