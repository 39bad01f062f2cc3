package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"time"
)

// Diff lists what changed from a to b in words an admin reads in the
// revision history: "virtual www: Port 80 -> 8080", "virtual www: server
// web3 added". Entries are matched by id, or by name when they have none.
func Diff(a, b *Config) []string {
	var out []string
	out = diffStruct(out, "global", reflect.ValueOf(a.Global), reflect.ValueOf(b.Global))
	out = diffStruct(out, "redundancy", reflect.ValueOf(a.Redundancy), reflect.ValueOf(b.Redundancy))

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
			out = append(out, fmt.Sprintf("virtual %s added", vs.Name))
			continue
		}
		scope := "virtual " + vs.Name
		pv, nv := *prev, *vs
		pv.Reals, nv.Reals = nil, nil
		if !reflect.DeepEqual(pv, nv) {
			out = diffStruct(out, scope, reflect.ValueOf(pv), reflect.ValueOf(nv))
		}
		out = diffReals(out, scope, prev.Reals, vs.Reals)
	}
	for i := range a.Virtuals {
		if !seen[entryKey(a.Virtuals[i].ID, a.Virtuals[i].Name)] {
			out = append(out, fmt.Sprintf("virtual %s deleted", a.Virtuals[i].Name))
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
			out = append(out, fmt.Sprintf("%s: server %s added", scope, b[i].Name))
			continue
		}
		if *prev != b[i] {
			out = diffStruct(out, fmt.Sprintf("%s: server %s", scope, b[i].Name), reflect.ValueOf(*prev), reflect.ValueOf(b[i]))
		}
		if i < len(a) && entryKey(a[i].ID, a[i].Name) != key {
			out = append(out, fmt.Sprintf("%s: server %s moved", scope, b[i].Name))
		}
	}
	for i := range a {
		if !seen[entryKey(a[i].ID, a[i].Name)] {
			out = append(out, fmt.Sprintf("%s: server %s deleted", scope, a[i].Name))
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

func diffStruct(out []string, scope string, a, b reflect.Value) []string {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "ID" {
			continue
		}
		x, y := a.Field(i).Interface(), b.Field(i).Interface()
		if reflect.DeepEqual(x, y) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s %s -> %s", scope, f.Name, show(x), show(y)))
	}
	return out
}

// show writes a value as the console shows it.
func show(v any) string {
	switch v := v.(type) {
	case netip.Addr:
		if !v.IsValid() {
			return "(none)"
		}
		return v.String()
	case Netmask:
		if !v.IsSet() {
			return "(none)"
		}
		return v.String()
	case time.Duration:
		return FormatSeconds(v) + "s"
	case string:
		return fmt.Sprintf("%q", v)
	case Forward:
		if v == "" {
			return "(default)"
		}
		return string(v)
	}
	return fmt.Sprint(v)
}
