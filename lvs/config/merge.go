package config

import (
	"fmt"
	"slices"
)

// Conflict is a field, or an entry, that both the running configuration
// and a draft changed, differently.
type Conflict struct {
	// Where is the section or entry: "global", "redundancy", "virtual
	// server www", "virtual server www, real server web1".
	Where string
	// Label and Key are the field's (Field.Label, Field.Key); both are ""
	// when the conflict is over a whole entry.
	Label, Key string
	// Base, Theirs and Yours are the values as HISTORY shows them; for an
	// entry, words: "present", "changed", "deleted", or "(none)" for a
	// field of an entry base did not have.
	Base, Theirs, Yours string
}

// String is the conflict in one line an admin reads: "virtual server www:
// Application port (port): was 80, now 8080 in the running configuration,
// 81 in your changes".
func (c Conflict) String() string {
	what := c.Where
	if c.Label != "" {
		what += ": " + c.Label + " (" + c.Key + ")"
	}
	return fmt.Sprintf("%s: was %s, now %s in the running configuration, %s in your changes", what, c.Base, c.Theirs, c.Yours)
}

// The words of a conflict over a whole entry.
const (
	entryPresent = "present"
	entryChanged = "changed"
	entryDeleted = "deleted"
	noBase       = "(none)"
)

// Merge returns yours rebased on theirs: the changes yours made to base,
// applied to theirs. A field changed on one side only takes that side's
// value; a field both changed, to different values, is a conflict and
// keeps theirs' value, as does an entry one side deleted and the other
// changed. With conflicts the merged configuration must not be saved. The
// result's Serial is theirs'; it shares no memory with the inputs, which
// are not modified.
//
// Entries are matched as Diff matches them, by id or else by name, so a
// draft's new entries (negative provisional ids) are additions. The result
// has theirs' order with yours' additions after it, in yours' order; when
// yours alone reordered entries, yours' order is kept instead, each entry
// only theirs has placed after the one it follows in theirs.
func Merge(base, theirs, yours *Config) (*Config, []Conflict) {
	var cs []Conflict
	out := *theirs
	out.Global = mergeSection(&cs, "global", GlobalFields, &base.Global, &theirs.Global, &yours.Global)
	out.Redundancy = mergeSection(&cs, "redundancy", RedundancyFields, &base.Redundancy, &theirs.Redundancy, &yours.Redundancy)
	out.Virtuals = mergeEntries(&cs, "", &virtualEntries, base.Virtuals, theirs.Virtuals, yours.Virtuals)
	// Entries taken whole from theirs or yours still share their reals.
	return out.Clone(), cs
}

// mergeSection merges the fields of a section, or of an entry, that both
// sides have.
func mergeSection[T any](cs *[]Conflict, where string, fs Fields[T], b, t, y *T) T {
	out, fcs := mergeFields(fs, b, t, y)
	for _, c := range fcs {
		c.Where = where
		*cs = append(*cs, c)
	}
	return out
}

// mergeFields merges every field of fs, starting from theirs: b is nil
// for an entry both sides added, where any difference is a conflict. The
// conflicts have no Where yet: an entry's name is known once merged.
func mergeFields[T any](fs Fields[T], b, t, y *T) (T, []Conflict) {
	out := *t
	var cs []Conflict
	for i := range fs {
		f := &fs[i]
		tv, yv := f.Value(t), f.Value(y)
		switch {
		case tv == yv:
		case b != nil && yv == f.Value(b):
		case b != nil && tv == f.Value(b):
			f.Copy(&out, y)
		default:
			was := noBase
			if b != nil {
				was = f.show(b)
			}
			cs = append(cs, Conflict{Label: f.Label, Key: f.Key, Base: was, Theirs: f.show(t), Yours: f.show(y)})
		}
	}
	return out, cs
}

// entries says how Merge handles one kind of entry: virtual servers or
// real servers. ID and Reals are the only fields outside the registry:
// matched entries have the same ID (see entryKey), and merge handles
// Reals.
type entries[T any] struct {
	noun string // "virtual server"
	key  func(*T) key
	name func(*T) string
	// same reports whether an entry is unchanged.
	same func(a, b *T) bool
	// merge merges an entry both sides have, adding its conflicts with
	// Where starting with prefix; b is nil when base lacks it.
	merge func(cs *[]Conflict, prefix string, b, t, y *T) T
}

var virtualEntries = entries[VirtualServer]{
	noun: "virtual server",
	key:  func(vs *VirtualServer) key { return entryKey(vs.ID, vs.Name) },
	name: func(vs *VirtualServer) string { return vs.Name },
	same: func(a, b *VirtualServer) bool {
		return sameFields(VirtualFields, a, b) && slices.Equal(a.Reals, b.Reals)
	},
	merge: func(cs *[]Conflict, prefix string, b, t, y *VirtualServer) VirtualServer {
		out, fcs := mergeFields(VirtualFields, b, t, y)
		where := prefix + "virtual server " + out.Name
		for _, c := range fcs {
			c.Where = where
			*cs = append(*cs, c)
		}
		var reals []RealServer
		if b != nil {
			reals = b.Reals
		}
		out.Reals = mergeEntries(cs, where+", ", &realEntries, reals, t.Reals, y.Reals)
		return out
	},
}

var realEntries = entries[RealServer]{
	noun: "real server",
	key:  func(rs *RealServer) key { return entryKey(rs.ID, rs.Name) },
	name: func(rs *RealServer) string { return rs.Name },
	same: func(a, b *RealServer) bool { return *a == *b },
	merge: func(cs *[]Conflict, prefix string, b, t, y *RealServer) RealServer {
		out, fcs := mergeFields(RealFields, b, t, y)
		for _, c := range fcs {
			c.Where = prefix + "real server " + out.Name
			*cs = append(*cs, c)
		}
		// The drain, the console's state, as a field: yours when only
		// you changed it (the store stamps when it began).
		if b == nil && y.Draining || b != nil && y.Draining != b.Draining {
			out.Draining, out.DrainSince = y.Draining, y.DrainSince
		}
		return out
	},
}

func sameFields[T any](fs Fields[T], a, b *T) bool {
	for i := range fs {
		if fs[i].Value(a) != fs[i].Value(b) {
			return false
		}
	}
	return true
}

// mergeEntries merges lists of entries; prefix starts the Where of their
// conflicts.
func mergeEntries[T any](cs *[]Conflict, prefix string, e *entries[T], base, theirs, yours []T) []T {
	bs, ts, ys := e.index(base), e.index(theirs), e.index(yours)
	out := make([]T, 0, len(theirs)+len(yours))
	entryConflict := func(n *T, theirs, yours string) {
		*cs = append(*cs, Conflict{Where: prefix + e.noun + " " + e.name(n), Base: entryPresent, Theirs: theirs, Yours: yours})
	}
	for i := range theirs {
		t := &theirs[i]
		k := e.key(t)
		b, y := bs[k], ys[k]
		switch {
		case y != nil: // in all three, or added by both
			out = append(out, e.merge(cs, prefix, b, t, y))
		case b == nil: // added by them
			out = append(out, *t)
		case e.same(b, t): // deleted by you
		default: // deleted by you, changed by them: theirs stays
			entryConflict(t, entryChanged, entryDeleted)
			out = append(out, *t)
		}
	}
	for i := range yours {
		y := &yours[i]
		k := e.key(y)
		if ts[k] != nil {
			continue // merged above
		}
		switch b := bs[k]; {
		case b == nil: // added by you
			out = append(out, *y)
		case e.same(b, y): // deleted by them
		default: // deleted by them, changed by you: it stays deleted
			entryConflict(y, entryDeleted, entryChanged)
		}
	}
	if e.reordered(base, yours, bs) && !e.reordered(base, theirs, bs) {
		out = e.inOrderOf(yours, out)
	}
	return out
}

// index maps the entries of list by key; the first of a key wins.
func (e *entries[T]) index(list []T) map[key]*T {
	m := make(map[key]*T, len(list))
	for i := range list {
		if k := e.key(&list[i]); m[k] == nil {
			m[k] = &list[i]
		}
	}
	return m
}

// reordered reports whether the entries side shares with base are in
// another order in side; bs is base's index.
func (e *entries[T]) reordered(base, side []T, bs map[key]*T) bool {
	in := e.index(side)
	j := 0
	for i := range side {
		k := e.key(&side[i])
		if bs[k] == nil {
			continue
		}
		for j < len(base) && in[e.key(&base[j])] == nil {
			j++ // deleted by side
		}
		if j == len(base) || e.key(&base[j]) != k {
			return true
		}
		j++
	}
	return false
}

// inOrderOf puts the entries of merged in the order of order; an entry
// order lacks follows the entry it follows in merged, or leads if none.
func (e *entries[T]) inOrderOf(order, merged []T) []T {
	pos := make(map[key]int, len(order))
	for i := range order {
		pos[e.key(&order[i])] = i
	}
	at := make([]*T, len(order))       // the merged entry at each position of order
	after := make([][]T, len(order)+1) // after[0] lead; after[p+1] follow order[p]
	anchor := 0
	for i := range merged {
		if p, ok := pos[e.key(&merged[i])]; ok {
			at[p], anchor = &merged[i], p+1
			continue
		}
		after[anchor] = append(after[anchor], merged[i])
	}
	out := make([]T, 0, len(merged))
	out = append(out, after[0]...)
	for p := range order {
		if at[p] != nil {
			out = append(out, *at[p])
		}
		out = append(out, after[p+1]...)
	}
	return out
}
