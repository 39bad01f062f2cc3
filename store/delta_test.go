package store

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestRevisionDeltas: edits in place are recorded as deltas (a whole
// configuration every snapshotEvery revisions), and every revision reads
// back as the configuration saved then, across the chains; a restore of
// one in the middle of a chain brings it back.
func TestRevisionDeltas(t *testing.T) {
	st := openTest(t)
	first, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	saved := map[int64]*config.Config{first.Serial: first}
	for i := range 2*snapshotEvery + 3 {
		c, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
			c.Virtuals[i%len(c.Virtuals)].Reals[0].Weight = int64(10 + i)
			if i%5 == 0 {
				c.Virtuals[1].Name = fmt.Sprintf("dns6-%d", i)
			}
			if i%7 == 0 {
				c.Global.TCPTimeout = int64(100 + i)
			}
			if i == snapshotEvery+4 { // a deletion: whole again
				c.Virtuals[0].Reals = c.Virtuals[0].Reals[:1]
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		saved[c.Serial] = c
	}
	var deltas, wholes int
	rows, err := st.ro.QueryContext(ctx, `SELECT base, depth FROM revisions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var base, depth int64
		if err := rows.Scan(&base, &depth); err != nil {
			t.Fatal(err)
		}
		if depth >= snapshotEvery {
			t.Errorf("a chain of %d deltas", depth)
		}
		if base == 0 {
			wholes++
		} else {
			deltas++
		}
	}
	rows.Close()
	if deltas < 2*snapshotEvery-4 || wholes < 4 {
		t.Errorf("%d deltas and %d whole revisions", deltas, wholes)
	}
	for serial, want := range saved {
		_, got, err := st.Revision(ctx, serial)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("revision %d reads back\n%+v\nsaved\n%+v", serial, got, want)
		}
	}
	mid := first.Serial + snapshotEvery/2
	restored, err := st.Restore(ctx, Change{Role: ScopeAdmin, Author: "admin", Elevated: true}, mid)
	if err != nil {
		t.Fatal(err)
	}
	want := saved[mid].Clone()
	want.Serial = restored.Serial
	if !reflect.DeepEqual(restored, want) {
		t.Errorf("restored %d\n%+v\nwant\n%+v", mid, restored, want)
	}
}
