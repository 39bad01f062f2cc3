package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Diff lists what changed from a to b in words an admin reads in the
// revision history, with the console's labels and the lvs.cf keys:
// "virtual server www: Application port (port) 80 -> 8080", "virtual
// server www, real server web3 added". Entries are matched by id, or by
// name when they have none.
func Diff(a, b *Config) []string {
	changed, same := ChangedVirtuals(a, b)
	return DiffChanged(a, b, changed, same)
}

// DiffChanged is Diff with what ChangedVirtuals(a, b) returned.
func DiffChanged(a, b *Config, changed []int, same bool) []string {
	var out []string
	if a.Global != b.Global {
		out = diffFields(out, "global", GlobalFields, &a.Global, &b.Global)
	}
	if a.Redundancy != b.Redundancy {
		out = diffFields(out, "redundancy", RedundancyFields, &a.Redundancy, &b.Redundancy)
	}

	// An edit of a few entries compares only those (ChangedVirtuals):
	// the same words as the loop below, at a fraction of its cost.
	if same {
		for _, i := range changed {
			out = diffVirtual(out, &a.Virtuals[i], &b.Virtuals[i])
		}
		return out
	}
	olds := map[key]*VirtualServer{}
	for i := range a.Virtuals {
		olds[entryKey(a.Virtuals[i].ID, a.Virtuals[i].Name)] = &a.Virtuals[i]
	}
	seen := map[key]bool{}
	for i := range b.Virtuals {
		vs := &b.Virtuals[i]
		key := entryKey(vs.ID, vs.Name)
		seen[key] = true
		prev, ok := olds[key]
		if !ok {
			out = append(out, fmt.Sprintf("virtual server %s added", vs.Name))
			continue
		}
		out = diffVirtual(out, prev, vs)
	}
	for i := range a.Virtuals {
		if !seen[entryKey(a.Virtuals[i].ID, a.Virtuals[i].Name)] {
			out = append(out, fmt.Sprintf("virtual server %s deleted", a.Virtuals[i].Name))
		}
	}
	if len(a.Virtuals) == len(b.Virtuals) && len(seen) == len(olds) {
		for i := range a.Virtuals {
			if entryKey(a.Virtuals[i].ID, a.Virtuals[i].Name) != entryKey(b.Virtuals[i].ID, b.Virtuals[i].Name) {
				out = append(out, "virtual servers reordered")
				break
			}
		}
	}
	return out
}

// diffVirtual words what changed from prev to vs, the same entry.
func diffVirtual(out []string, prev, vs *VirtualServer) []string {
	scope := "virtual server " + vs.Name
	if !SameHead(prev, vs) {
		out = diffFields(out, scope, VirtualFields, prev, vs)
	}
	return diffReals(out, scope, prev.Reals, vs.Reals)
}

func diffReals(out []string, scope string, a, b []RealServer) []string {
	olds := map[key]*RealServer{}
	for i := range a {
		olds[entryKey(a[i].ID, a[i].Name)] = &a[i]
	}
	seen := map[key]bool{}
	for i := range b {
		key := entryKey(b[i].ID, b[i].Name)
		seen[key] = true
		prev, ok := olds[key]
		if !ok {
			out = append(out, fmt.Sprintf("%s, real server %s added", scope, b[i].Name))
			continue
		}
		if *prev != b[i] {
			out = diffFields(out, fmt.Sprintf("%s, real server %s", scope, b[i].Name), RealFields, prev, &b[i])
			if prev.Draining != b[i].Draining {
				out = append(out, fmt.Sprintf("%s, real server %s: %s", scope, b[i].Name, drainWords(b[i].Draining)))
			}
		}
		if i < len(a) && entryKey(a[i].ID, a[i].Name) != key {
			out = append(out, fmt.Sprintf("%s, real server %s moved", scope, b[i].Name))
		}
	}
	for i := range a {
		if !seen[entryKey(a[i].ID, a[i].Name)] {
			out = append(out, fmt.Sprintf("%s, real server %s deleted", scope, a[i].Name))
		}
	}
	return out
}

// entryKey identifies an entry across two configurations: by id once the
// store has given it one, else by name.
type key struct {
	id   int64
	name string
}

func entryKey(id int64, name string) key {
	if id != 0 {
		return key{id: id}
	}
	return key{name: name}
}

// diffFields says which fields differ between a and b, the entry scope
// names: "scope: Label (key) old -> new".
func diffFields[T any](out []string, scope string, fs Fields[T], a, b *T) []string {
	for i := range fs {
		f := &fs[i]
		if f.Value(a) == f.Value(b) {
			continue
		}
		if f.Secret {
			// HISTORY is for every role, and its revisions outlive the
			// secret: say that it changed, not what it is.
			out = append(out, fmt.Sprintf("%s: %s (%s) %s", scope, f.Label, f.Key, secretChange(f.IsZero(a), f.IsZero(b))))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s (%s) %s -> %s", scope, f.Label, f.Key, f.show(a), f.show(b)))
	}
	return out
}

// show writes the field's value in t for HISTORY: on or off, seconds with
// their unit, text in quotes, enum values bare, "(none)" for nothing,
// and "(hidden)" for a secret that is set.
func (f *Field[T]) show(t *T) string {
	if f.Secret {
		// A conflict shows it too: whether it is set, never the value.
		if f.IsZero(t) {
			return "(none)"
		}
		return "(hidden)"
	}
	switch p := f.Ref(t).(type) {
	case *bool:
		if *p {
			return "on"
		}
		return "off"
	case *time.Duration:
		return FormatSeconds(*p) + "s"
	case *netip.Addr:
		if !p.IsValid() {
			return "(none)"
		}
		return p.String()
	case *Netmask:
		if !p.IsSet() {
			return "(none)"
		}
		return p.String()
	case *int, *int64:
		return f.Text(t)
	}
	s := f.Text(t)
	switch {
	case f.Kind == KindEnum && s == "":
		for _, c := range f.Choices {
			if c.Value == "" {
				return "(" + c.Label + ")"
			}
		}
		return "(none)"
	case f.Kind == KindEnum:
		return s
	case s == "":
		return "(none)"
	}
	return `"` + s + `"`
}

// drainWords says a drain beginning or ending, for HISTORY.
func drainWords(on bool) string {
	if on {
		return "draining (weight 0 until its connections end)"
	}
	return "no longer draining"
}

// secretChange says how a secret changed without its value.
func secretChange(wasEmpty, isEmpty bool) string {
	switch {
	case wasEmpty:
		return "set"
	case isEmpty:
		return "removed"
	}
	return "changed"
}
