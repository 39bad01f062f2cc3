package config_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/config/configtest"
)

// notFields are the model's fields that are no configuration field: ids
// the store gives, the lists of entries, the serial, and a real server's
// drain, the console's state.
var notFields = map[string]bool{"ID": true, "Reals": true, "Virtuals": true, "Serial": true,
	"Draining": true, "DrainSince": true}

// goTypes are the Go types each kind is held in.
var goTypes = map[config.Kind][]reflect.Type{
	config.KindBool:    {reflect.TypeFor[bool]()},
	config.KindInt:     {reflect.TypeFor[int](), reflect.TypeFor[int64]()},
	config.KindPort:    {reflect.TypeFor[int]()},
	config.KindSeconds: {reflect.TypeFor[time.Duration]()},
	config.KindAddr:    {reflect.TypeFor[netip.Addr]()},
	config.KindNetmask: {reflect.TypeFor[config.Netmask]()},
	config.KindEnum:    {reflect.TypeFor[string](), reflect.TypeFor[config.Forward](), reflect.TypeFor[config.Protocol]()},
	config.KindName:    {reflect.TypeFor[string]()},
	config.KindDevice:  {reflect.TypeFor[string]()},
	config.KindCommand: {reflect.TypeFor[string]()},
	config.KindEscaped: {reflect.TypeFor[string]()},
	config.KindText:    {reflect.TypeFor[string]()},
}

// goField returns the struct field of T that ref points into.
func goField[T any](t *testing.T, ref func(*T) any) reflect.StructField {
	t.Helper()
	var x T
	base := reflect.ValueOf(&x).Pointer()
	p := reflect.ValueOf(ref(&x))
	if p.Kind() != reflect.Pointer {
		t.Fatalf("a Ref of %T returns %s, not a pointer", x, p.Type())
	}
	off := p.Pointer() - base
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		if f := typ.Field(i); f.Offset == off && f.Type == p.Type().Elem() {
			return f
		}
	}
	t.Fatalf("a Ref of %T points at no field of it", x)
	return reflect.StructField{}
}

// TestEveryModelFieldIsRegistered: a field of the model without a
// registry entry fails here, before it can be missed by lvs.cf, the
// forms, the API, the store or HISTORY.
func TestEveryModelFieldIsRegistered(t *testing.T) {
	checkRegistered(t, config.GlobalFields)
	checkRegistered(t, config.RedundancyFields)
	checkRegistered(t, config.VirtualFields)
	checkRegistered(t, config.RealFields)
}

func checkRegistered[T any](t *testing.T, fs config.Fields[T]) {
	t.Helper()
	typ := reflect.TypeFor[T]()
	seen := map[string]string{}
	for i := range fs {
		f := &fs[i]
		gf := goField(t, f.Ref)
		if prev, dup := seen[gf.Name]; dup {
			t.Errorf("%s.%s is registered twice: as %s and %s", typ.Name(), gf.Name, prev, f.Form)
		}
		seen[gf.Name] = f.Form
		ok := false
		for _, want := range goTypes[f.Kind] {
			ok = ok || gf.Type == want
		}
		if !ok {
			t.Errorf("%s.%s is a %s, not a Go type of kind %v", typ.Name(), gf.Name, gf.Type, f.Kind)
		}
	}
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if _, ok := seen[name]; !ok && !notFields[name] {
			t.Errorf("%s.%s has no entry in the field registry (lvs/config/registry.go)", typ.Name(), name)
		}
	}
}

// TestRegistryIsWellFormed checks what each declaration must say.
func TestRegistryIsWellFormed(t *testing.T) {
	settings := map[string]string{} // Global and Redundancy share the settings table
	checkDeclarations(t, "global", config.GlobalFields, settings)
	checkDeclarations(t, "redundancy", config.RedundancyFields, settings)
	checkDeclarations(t, "virtual", config.VirtualFields, map[string]string{})
	checkDeclarations(t, "server", config.RealFields, map[string]string{})
}

func checkDeclarations[T any](t *testing.T, section string, fs config.Fields[T], columns map[string]string) {
	t.Helper()
	forms, jsons, cfs := map[string]string{}, map[string]string{}, map[string][]*config.Field[T]{}
	for i := range fs {
		f := &fs[i]
		at := section + " " + f.Form
		if f.Key == "" || f.Form == "" || f.JSON == "" || f.Column == "" || f.Label == "" || f.Tab == "" {
			t.Errorf("%s: a name or a word is missing: %+v", at, f.Meta)
		}
		if strings.ContainsFunc(f.Keepalived, unicode.IsSpace) {
			t.Errorf("%s: keepalived keyword %q is not one word", at, f.Keepalived)
		}
		for what, seen := range map[string]map[string]string{"form name": forms, "column": columns} {
			name := map[string]string{"form name": f.Form, "column": f.Column}[what]
			if prev, dup := seen[name]; dup {
				t.Errorf("%s: %s %q is %s's too", at, what, name, prev)
			}
			seen[name] = at
		}
		if prev, dup := jsons[f.JSON]; dup && (f.Flag == "" || f.JSON != f.Key) {
			t.Errorf("%s: JSON name %q is %s's too (only flags of one key share one)", at, f.JSON, prev)
		}
		jsons[f.JSON] = at
		if f.Cf == "" && f.Kind != config.KindName {
			t.Errorf("%s: only a block's name has no lvs.cf key", at)
		}
		if f.Cf != "" {
			cfs[f.Cf] = append(cfs[f.Cf], f)
		}
		if (f.Kind == config.KindNetmask) != (f.Family != nil) {
			t.Errorf("%s: a netmask, and only a netmask, follows the family of an address", at)
		}
		if f.Range != nil && f.Kind != config.KindInt && f.Kind != config.KindPort && f.Kind != config.KindSeconds {
			t.Errorf("%s: a %v has no range", at, f.Kind)
		}
		if f.Kind == config.KindEnum {
			if len(f.Choices) == 0 || f.Refusal == "" {
				t.Errorf("%s: an enum needs its choices and the words of a refusal", at)
			}
			for _, c := range f.Choices {
				if c.Value != "" && !strings.Contains(f.Refusal, c.Value) {
					t.Errorf("%s: the refusal %q does not offer %q", at, f.Refusal, c.Value)
				}
			}
		}
		if f.Flag != "" && f.Kind != config.KindBool {
			t.Errorf("%s: a flag is a bool", at)
		}

		// Defaults and the example are values of the field's kind, and
		// the example is neither default (so that a round trip that
		// loses the field shows it).
		var ex, con, cf T
		for _, v := range []struct {
			what, text string
			into       *T
		}{{"console default", f.Default.Console, &con}, {"lvs.cf default", f.Default.LvsCf, &cf}, {"example", f.Example, &ex}} {
			if err := setText(f, v.into, v.text); err != nil {
				t.Errorf("%s: %s %q: %v", at, v.what, v.text, err)
			}
		}
		if f.Value(&ex) == f.Value(&con) || f.Value(&ex) == f.Value(&cf) && !(f.Kind == config.KindBool && f.Default.Console != f.Default.LvsCf) {
			t.Errorf("%s: example %q is a default (%q for the console, %q for lvs.cf)", at, f.Example, f.Default.Console, f.Default.LvsCf)
		}
		if f.Text(&ex) != f.Example && f.Kind != config.KindBool && f.Kind != config.KindNetmask {
			t.Errorf("%s: example %q reads back as %q", at, f.Example, f.Text(&ex))
		}
	}
	// Fields share an lvs.cf key only as piranha's "IP dev" pair or as the
	// flags of one list.
	for key, shared := range cfs {
		if len(shared) < 2 {
			continue
		}
		pair := len(shared) == 2 && shared[0].Kind == config.KindAddr && shared[1].Kind == config.KindDevice
		flags := true
		for _, f := range shared {
			flags = flags && f.Flag != "" && f.Key == key
		}
		if !pair && !flags {
			t.Errorf("%s: lvs.cf key %q is shared by fields that are neither an address and its device nor flags", section, key)
		}
	}
}

// setText is f.SetText, with "" for the zero value as in a default.
func setText[T any](f *config.Field[T], t *T, s string) error {
	if s == "" {
		return nil
	}
	return f.SetText(t, s)
}

// TestRichSetsEveryField: the test model has every field at its example,
// and is valid.
func TestRichSetsEveryField(t *testing.T) {
	c := configtest.Rich()
	if err := c.Validate(); err != nil {
		t.Fatalf("configtest.Rich is refused: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("configtest.Rich has warnings: %v", w)
	}
	checkExamples(t, config.GlobalFields, &c.Global)
	if c.Redundancy.BackupActive || !c.Redundancy.Cluster {
		t.Errorf("configtest.Rich: backup_active %v, cluster %v: want a cluster without a backup", c.Redundancy.BackupActive, c.Redundancy.Cluster)
	}
	c.Redundancy.BackupActive = true // its example, which a cluster turns off
	checkExamples(t, config.RedundancyFields, &c.Redundancy)
	checkExamples(t, config.VirtualFields, &c.Virtuals[0])
	checkExamples(t, config.RealFields, &c.Virtuals[0].Reals[0])
}

func checkExamples[T any](t *testing.T, fs config.Fields[T], got *T) {
	t.Helper()
	for i := range fs {
		f := &fs[i]
		var want T
		f.SetText(&want, f.Example)
		if f.Value(got) != f.Value(&want) {
			t.Errorf("%s is %v in configtest.Rich, not its example %q", f.Form, f.Value(got), f.Example)
		}
	}
}

// TestDefaultsComeFromTheRegistry: the console's defaults are piranha's
// (its console's ADD and RESET).
func TestDefaultsComeFromTheRegistry(t *testing.T) {
	vs := config.NewVirtual("www")
	if vs.Name != "www" || vs.Address != netip.IPv4Unspecified() || vs.Device != "eth0:1" || vs.Port != 80 ||
		vs.Protocol != config.TCP || vs.Scheduler != "wlc" || vs.CheckTimeout != 6*time.Second || vs.Reentry != 15*time.Second ||
		vs.Send != config.DefaultSend || vs.Expect != "HTTP" || vs.Active || vs.Quiesce || vs.LoadMonitor != "none" || !vs.Announce {
		t.Errorf("NewVirtual = %+v", vs)
	}
	if rs := config.NewReal("web1"); rs != (config.RealServer{Name: "web1", Address: netip.IPv4Unspecified(), Weight: 1}) {
		t.Errorf("NewReal = %+v", rs)
	}
	r := config.DefaultRedundancy()
	if r != (config.Redundancy{Backup: netip.IPv4Unspecified(), Heartbeat: true, Keepalive: 6 * time.Second,
		Deadtime: 18 * time.Second, HeartbeatPort: 539, SyncIface: "eth0", BGPHoldTime: 9 * time.Second, BGPDrain: 10 * time.Second}) {
		t.Errorf("DefaultRedundancy = %+v", r)
	}
	if g := config.Default().Global; g != (config.Global{Network: config.Direct, Service: "lvs", HardShutdown: true}) {
		t.Errorf("Default().Global = %+v", g)
	}
}
