package store

import (
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/config/configtest"
)

// sqlType is the type a field of each kind is stored as.
func sqlType(k config.Kind) string {
	switch k {
	case config.KindBool, config.KindInt, config.KindPort, config.KindSeconds:
		return "INTEGER"
	}
	return "TEXT"
}

func metas[T any](fs config.Fields[T]) []config.Meta {
	out := make([]config.Meta, len(fs))
	for i := range fs {
		out[i] = fs[i].Meta
	}
	return out
}

// TestRegisteredColumnsAreInTheSchema: every column the registry names is
// in the migrated schema, of the type its kind is stored as and NOT NULL;
// and every column of the configuration's tables is a registered one or
// one the store keeps itself. A field added to the registry without its
// migration (or the reverse) fails here.
func TestRegisteredColumnsAreInTheSchema(t *testing.T) {
	st := openTest(t)
	for _, tc := range []struct {
		table  string
		fixed  []string
		fields []config.Meta
	}{
		{"settings", []string{"id", "serial"}, append(metas(config.GlobalFields), metas(config.RedundancyFields)...)},
		{"virtual_servers", []string{"id", "position"}, metas(config.VirtualFields)},
		{"real_servers", []string{"id", "virtual_id", "position"}, metas(config.RealFields)},
	} {
		rows, err := st.ro.QueryContext(ctx, "SELECT name, type, \"notnull\" FROM pragma_table_info(?)", tc.table)
		if err != nil {
			t.Fatal(err)
		}
		type column struct {
			typ     string
			notNull bool
		}
		schema := map[string]column{}
		for rows.Next() {
			var name string
			var c column
			if err := rows.Scan(&name, &c.typ, &c.notNull); err != nil {
				t.Fatal(err)
			}
			schema[name] = c
		}
		rows.Close()
		if len(schema) == 0 {
			t.Fatalf("no table %s", tc.table)
		}
		registered := map[string]bool{}
		for _, f := range tc.fields {
			registered[f.Column] = true
			c, ok := schema[f.Column]
			switch {
			case !ok:
				t.Errorf("%s.%s (field %s) is in no migration", tc.table, f.Column, f.Form)
			case c.typ != sqlType(f.Kind) || !c.notNull:
				t.Errorf("%s.%s (field %s, a %v) is %s (NOT NULL %v), want %s NOT NULL", tc.table, f.Column, f.Form, f.Kind, c.typ, c.notNull, sqlType(f.Kind))
			}
		}
		for _, name := range tc.fixed {
			registered[name] = true
		}
		for name := range schema {
			if !registered[name] {
				t.Errorf("%s.%s is a column no registered field has", tc.table, name)
			}
		}
	}
}

// TestEveryRegisteredFieldSurvivesTheDatabase: each field alone, set to its
// example over the console's defaults, comes back from the database (where
// that alone is valid). configtest.Rich, which sets them all at once, goes
// through TestEveryFieldSurvivesTheDatabase.
func TestEveryRegisteredFieldSurvivesTheDatabase(t *testing.T) {
	st := openTest(t)
	for _, s := range configtest.Singles() {
		if s.Config.Validate() != nil {
			continue
		}
		saved, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, s.Config)
		if err != nil {
			t.Fatalf("%s at its example: %v", s.Field, err)
		}
		got, err := loadConfig(ctx, st.ro)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, saved) {
			t.Errorf("%s at its example does not come back:\n got %+v\nwant %+v", s.Field, got, saved)
		}
	}
}
