package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestVirtualHead fails when VirtualServer gains a field that virtualHead
// (and so SameHead, Diff and the store's save) would not see.
func TestVirtualHead(t *testing.T) {
	ty := reflect.TypeOf(VirtualServer{})
	if n, m := reflect.TypeOf(virtualHead{}).NumField(), ty.NumField()-1; n != m {
		t.Fatalf("virtualHead has %d fields, VirtualServer %d besides Reals: add the new ones to changed.go", n, m)
	}
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Name == "Reals" {
			continue
		}
		a := NewVirtual("www")
		b := a
		v := reflect.ValueOf(&b).Elem().Field(i)
		switch v.Interface().(type) {
		case netip.Addr:
			v.Set(reflect.ValueOf(netip.MustParseAddr("192.0.2.99")))
		case Netmask:
			v.Set(reflect.ValueOf(MaskBits(17)))
		case time.Duration:
			v.SetInt(v.Int() + 7)
		default:
			switch v.Kind() {
			case reflect.String:
				v.SetString(v.String() + "x")
			case reflect.Bool:
				v.SetBool(!v.Bool())
			case reflect.Int, reflect.Int64:
				v.SetInt(v.Int() + 7)
			default:
				t.Fatalf("field %s: kind %v not covered by this test", f.Name, v.Kind())
			}
		}
		if SameHead(&a, &b) || SameVirtual(&a, &b) {
			t.Errorf("a change of %s is not seen", f.Name)
		}
		if !SameHead(&a, &a) {
			t.Errorf("SameHead(a, a) is false")
		}
	}
}

func TestChangedVirtuals(t *testing.T) {
	a := validConfig()
	b := a.Clone()
	if ch, same := ChangedVirtuals(a, b); !same || len(ch) != 0 {
		t.Fatalf("a clone: %v %v", ch, same)
	}
	b.Virtuals[1].Reals[0].Weight++
	if ch, same := ChangedVirtuals(a, b); !same || !reflect.DeepEqual(ch, []int{1}) {
		t.Fatalf("one weight: %v %v", ch, same)
	}
	b.Virtuals = b.Virtuals[:1]
	if _, same := ChangedVirtuals(a, b); same {
		t.Fatal("a deletion is not seen as a change of shape")
	}
	c := a.Clone()
	c.Virtuals[0], c.Virtuals[1] = c.Virtuals[1], c.Virtuals[0]
	if _, same := ChangedVirtuals(a, c); same {
		t.Fatal("a move is not seen as a change of shape")
	}
}

// TestValidateChange: the shortcut refuses what Validate refuses, with
// Validate's words, and accepts what it accepts.
func TestValidateChange(t *testing.T) {
	old := validConfig()
	if err := old.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(c *Config){
		"weight":      func(c *Config) { c.Virtuals[1].Reals[0].Weight = 5 },
		"same name":   func(c *Config) { c.Virtuals[1].Name = c.Virtuals[0].Name },
		"same port":   func(c *Config) { c.Virtuals[1].Port = c.Virtuals[0].Port },
		"bad weight":  func(c *Config) { c.Virtuals[1].Reals[0].Weight = -1 },
		"bad port":    func(c *Config) { c.Virtuals[0].Port = 70000 },
		"inactive":    func(c *Config) { c.Virtuals[1].Port, c.Virtuals[1].Active = c.Virtuals[0].Port, false },
		"global":      func(c *Config) { c.Global.Network = "bogus" },
		"fwmark dup":  func(c *Config) { c.Virtuals[0].FWMark, c.Virtuals[1].FWMark = 3, 3 },
		"fwmark once": func(c *Config) { c.Virtuals[1].FWMark = 3 },
	} {
		next := old.Clone()
		edit(next)
		want, got := next.Validate(), ValidateChange(old, next)
		if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
			t.Errorf("%s: ValidateChange says %v, Validate %v", name, got, want)
		}
	}
}

// validConfig is two active virtual servers of one real server each.
func validConfig() *Config {
	c := Default()
	for i, name := range []string{"www", "two"} {
		vs := NewVirtual(name)
		vs.Active, vs.Address, vs.Port = true, netip.MustParseAddr("192.0.2.10"), 80+i
		rs := NewReal("web1")
		rs.Active, rs.Address = true, netip.MustParseAddr("10.0.0.11")
		vs.Reals = append(vs.Reals, rs)
		c.Virtuals = append(c.Virtuals, vs)
	}
	return c
}
