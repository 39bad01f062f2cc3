package web

import (
	"bytes"
	"context"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/a-h/templ"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// control is one input, select or textarea of a rendered page: its name,
// and the label the page gives it.
type control struct{ tag, label string }

var (
	controlRE = regexp.MustCompile(`<(input|select|textarea)\b[^>]*\bname="([^"]*)"`)
	idRE      = regexp.MustCompile(`\bid="([^"]*)"`)
	labelRE   = regexp.MustCompile(`(?s)<label for="([^"]*)">(.*?)</label>`)
	checkRE   = regexp.MustCompile(`(?s)<label>\s*<input type="checkbox" id="([^"]*)"[^>]*>\s*(.*?)\s*</label>`)
)

// controls renders c and lists its form controls by name.
func controls(t *testing.T, c templ.Component) map[string]control {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	labels := map[string]string{}
	for _, m := range labelRE.FindAllStringSubmatch(page, -1) {
		labels[m[1]] = html.UnescapeString(strings.TrimSpace(m[2]))
	}
	for _, m := range checkRE.FindAllStringSubmatch(page, -1) {
		labels[m[1]] = html.UnescapeString(strings.TrimSpace(m[2]))
	}
	out := map[string]control{}
	for _, m := range controlRE.FindAllStringSubmatch(page, -1) {
		id := ""
		if i := idRE.FindStringSubmatch(m[0]); i != nil {
			id = i[1]
		}
		out[m[2]] = control{tag: m[1], label: labels[id]}
	}
	return out
}

// TestEveryRegisteredFieldIsOnItsForm renders each form of the console and
// checks that every field the registry puts on it is there, by its form
// name, as its kind asks (a checkbox, a list, a text box), with the
// registry's label. A field added to the registry without its place on a
// page fails here.
func TestEveryRegisteredFieldIsOnItsForm(t *testing.T) {
	h := VirtualHead{ID: 1, Name: "www"}
	pages := map[string]templ.Component{
		config.TabGlobal:     Global(Page{}, NewForm(1)),
		config.TabRedundancy: Redundancy(Page{}, NewForm(1), SecretView{Form: NewForm(0)}),
		config.TabVirtual:    VirtualEdit(Page{}, h, NewForm(1), LoadKey{}),
		config.TabScripts:    Scripts(Page{}, h, NewForm(1)),
		config.TabReal:       RealEdit(Page{}, h, 1, NewForm(1), nil),
	}
	rendered := map[string]map[string]control{}
	for tab, c := range pages {
		rendered[tab] = controls(t, c)
	}
	var metas []config.Meta
	for _, fs := range [][]config.Meta{metasOf(config.GlobalFields), metasOf(config.RedundancyFields),
		metasOf(config.VirtualFields), metasOf(config.RealFields)} {
		metas = append(metas, fs...)
	}
	for _, m := range metas {
		page, ok := rendered[m.Tab]
		if !ok {
			t.Errorf("%s is on tab %q, which has no form", m.Form, m.Tab)
			continue
		}
		c, ok := page[m.Form]
		if !ok {
			t.Errorf("%s: the %s form has no field named %q", m.Key, m.Tab, m.Form)
			continue
		}
		want := "input"
		if m.Kind == config.KindEnum {
			want = "select"
		}
		if c.tag != want {
			t.Errorf("%s on %s is a <%s>, want a <%s> for a %v", m.Form, m.Tab, c.tag, want, m.Kind)
		}
		if c.label != fieldLabel(m) && !(m.Kind == config.KindBool && c.label == m.Label) {
			t.Errorf("%s on %s is labelled %q, want the registry's %q", m.Form, m.Tab, c.label, fieldLabel(m))
		}
	}
}

func metasOf[T any](fs config.Fields[T]) []config.Meta {
	out := make([]config.Meta, len(fs))
	for i := range fs {
		out[i] = fs[i].Meta
	}
	return out
}
