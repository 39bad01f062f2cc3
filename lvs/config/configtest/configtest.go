// Package configtest builds configurations for tests from the field
// registry, so that a field added to the registry is exercised by every
// test that uses them.
package configtest

import (
	"fmt"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Rich returns a valid configuration in which every registered field is
// set to its example, a value unlike both defaults: global settings,
// redundancy, and one virtual server with one real server. Its programs
// (active_cmd, inactive_cmd, send_program) are root's, so that the store
// takes them from an elevated change.
func Rich() *config.Config {
	c := config.Default()
	Examples(config.GlobalFields, &c.Global)
	Examples(config.RedundancyFields, &c.Redundancy)
	vs := config.NewVirtual("")
	Examples(config.VirtualFields, &vs)
	rs := config.NewReal("")
	Examples(config.RealFields, &rs)
	vs.Reals = []config.RealServer{rs}
	c.Virtuals = []config.VirtualServer{vs}
	return c
}

// Examples sets every field of fs in t to its example.
func Examples[T any](fs config.Fields[T], t *T) {
	for i := range fs {
		f := &fs[i]
		if err := f.SetText(t, f.Example); err != nil {
			panic(fmt.Sprintf("configtest: the example %q of %s: %v", f.Example, f.Key, err))
		}
	}
}
