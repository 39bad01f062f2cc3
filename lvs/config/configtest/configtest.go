// Package configtest builds configurations for tests from the field
// registry, so that a field added to the registry is exercised by every
// test that uses them.
package configtest

import (
	"fmt"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Rich returns a valid configuration in which every registered field is
// set to its example, a value unlike both defaults (but backup_active,
// off: Rich is a cluster, and a cluster has no backup): global settings,
// redundancy, and one virtual server with one real server. Its programs
// (active_cmd, inactive_cmd, send_program) are root's, so that the store
// takes them from an elevated change.
func Rich() *config.Config {
	c := config.Default()
	Examples(config.GlobalFields, &c.Global)
	Examples(config.RedundancyFields, &c.Redundancy)
	// The examples of backup_active and cluster are both on, which
	// Validate refuses (a pair or a cluster): Rich is a cluster, so that
	// cluster mode's rules and fields go through every round trip, and
	// keeps the pair's other settings.
	c.Redundancy.BackupActive = false
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

// Single is a configuration in which one field is at its example.
type Single struct {
	Field  string // section and form name: "virtual http_body"
	Config *config.Config
}

// Singles returns, for each registered field, the console's defaults with
// one virtual server www and its real server web1, and that field at its
// example. Not all of them are valid: an example may need others (a
// sorry server's address family needs the virtual server's address).
func Singles() []Single {
	base := func() *config.Config {
		c := config.Default()
		vs := config.NewVirtual("www")
		vs.Reals = []config.RealServer{config.NewReal("web1")}
		c.Virtuals = []config.VirtualServer{vs}
		return c
	}
	var out []Single
	add := func(field string, set func(c *config.Config) error) {
		c := base()
		if err := set(c); err != nil {
			panic(fmt.Sprintf("configtest: the example of %s: %v", field, err))
		}
		out = append(out, Single{field, c})
	}
	for i := range config.GlobalFields {
		f := &config.GlobalFields[i]
		add("global "+f.Form, func(c *config.Config) error { return f.SetText(&c.Global, f.Example) })
	}
	for i := range config.RedundancyFields {
		f := &config.RedundancyFields[i]
		add("redundancy "+f.Form, func(c *config.Config) error { return f.SetText(&c.Redundancy, f.Example) })
	}
	for i := range config.VirtualFields {
		f := &config.VirtualFields[i]
		add("virtual "+f.Form, func(c *config.Config) error { return f.SetText(&c.Virtuals[0], f.Example) })
	}
	for i := range config.RealFields {
		f := &config.RealFields[i]
		add("server "+f.Form, func(c *config.Config) error { return f.SetText(&c.Virtuals[0].Reals[0], f.Example) })
	}
	return out
}
