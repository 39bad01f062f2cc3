package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// formReader turns a submitted form into model values. It only converts
// text (is this an address, a number?); what values are allowed is
// config.Validate's business, run by the store on the whole result.
type formReader struct {
	r    *http.Request
	form *web.Form
}

func newFormReader(r *http.Request) *formReader {
	return &formReader{r: r, form: stampOf(r).form()}
}

// str returns field name as sent, and keeps it for showing the form again.
func (f *formReader) str(name string) string {
	v := f.r.PostFormValue(name)
	f.form.Values[name] = v
	return v
}

func (f *formReader) fail(name string, err error) {
	if f.form.Errs[name] == "" {
		f.form.Errs[name] = err.Error()
	}
}

// unread returns the values of the form that could not be read, as field
// errors of the entry sc edits (a form's field names are the registry's
// keys for every kind that can fail to read).
func (f *formReader) unread(sc scope) []*config.FieldError {
	section := ""
	if len(sc.sections) > 0 {
		section = sc.sections[0]
	}
	var out []*config.FieldError
	for name, msg := range f.form.Errs {
		out = append(out, &config.FieldError{Section: section, Virtual: sc.virtual, Real: sc.real, Field: name, Msg: msg})
	}
	return out
}

// readOver reads the fields of fs that tab edits over base, each with its
// kind's parser; a blank number is 0. A value that does not parse is
// refused beside its field and leaves base's as it was.
func readOver[T any](f *formReader, fs config.Fields[T], tab string, base T) T {
	t := &base
	for i := range fs {
		fl := &fs[i]
		if fl.Tab != tab {
			continue
		}
		if fl.Kind == config.KindBool {
			*fl.Ref(t).(*bool) = f.check(fl.Form)
			continue
		}
		s := f.str(fl.Form)
		if fl.Kind == config.KindInt && strings.TrimSpace(s) == "" {
			s = "0"
		}
		if err := fl.SetText(t, s); err != nil {
			f.fail(fl.Form, err)
		}
	}
	return base
}

// formOf is tab's form showing t, filled from the configuration at
// st. A FormBlank field shows 0 or a placeholder address as empty.
func formOf[T any](fs config.Fields[T], tab string, t *T, st stamp) *web.Form {
	f := st.form()
	for i := range fs {
		fl := &fs[i]
		if fl.Tab != tab {
			continue
		}
		v := fl.Text(t)
		if a, ok := fl.Ref(t).(*netip.Addr); fl.FormBlank && (fl.IsZero(t) || ok && a.IsUnspecified()) {
			v = ""
		}
		f.Values[fl.Form] = v
	}
	return f
}

// check reads a checkbox: present and "1" means on.
func (f *formReader) check(name string) bool {
	on := f.r.PostFormValue(name) == "1"
	if on {
		f.form.Values[name] = "1"
	}
	return on
}

// scope says which part of the configuration a form edits, so that the
// store's verdicts land beside the right fields.
type scope struct {
	sections []string // "global", "redundancy", "virtual", "server"
	virtual  int      // index of the edited virtual server, or -1
	real     int      // index of the edited real server, or -1
}

// place puts the refusal err of a change on the form: each field error of
// the edited scope beside its field, the rest (and any other error) in the
// page's list. It returns the HTTP status to answer with.
func place(err error, f *web.Form, p *web.Page, sc scope) int {
	var (
		ve *config.ValidationError
		ce *store.ConflictError
		dc *store.DraftConflictError
	)
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			if sc.covers(fe) {
				msg := formMessage(f, fe)
				if f.Errs[fe.Field] == "" {
					f.Errs[fe.Field] = msg
				}
				if f.Errs[fe.Field] == msg {
					continue // beside its field (the reader's own message, too)
				}
			}
			p.Errors = append(p.Errors, fe.Error())
		}
		if len(p.Errors) == 0 {
			p.Errors = []string{"Some values were refused: see the messages beside the fields."}
		}
		return http.StatusUnprocessableEntity
	case errors.As(err, &ce):
		p.Errors = []string{fmt.Sprintf("%s changed the configuration (serial %d: %s) after you loaded this page. "+
			"Your values are below, not saved: check them against the new configuration and ACCEPT again.",
			ce.Current.By(), ce.Current.Serial, ce.Current.Summary)}
		f.Serial = ce.Current.Serial
		return http.StatusConflict
	case errors.As(err, &dc):
		p.Errors = []string{fmt.Sprintf("Your pending changes were changed in another window (at %s) after you loaded this page. "+
			"Your values are below, not saved: check them against your pending changes and ACCEPT again.", web.Stamp(dc.Updated))}
		f.Draft = dc.Current
		return http.StatusConflict
	case errors.Is(err, store.ErrNoChange):
		return http.StatusOK
	}
	return 0
}

// formMessage is the refusal fe in the words of form f: a field left
// blank, which the form read as 0, "is required" (with what it allows),
// where lvs.cf and the API, which were given a 0, say "0 is out of range".
func formMessage(f *web.Form, fe *config.FieldError) string {
	if v, sent := f.Values[fe.Field]; sent && strings.TrimSpace(v) == "" && fe.Rule != "" {
		return "is required: " + fe.Rule
	}
	return fe.Msg
}

func (sc scope) covers(fe *config.FieldError) bool {
	for _, s := range sc.sections {
		if s != fe.Section {
			continue
		}
		switch s {
		case "global", "redundancy":
			return true
		case "virtual":
			return fe.Virtual == sc.virtual
		case "server":
			return fe.Virtual == sc.virtual && fe.Real == sc.real
		}
	}
	return false
}

const flashCookie = "lvsconsole_flash"

// setFlash leaves a message for the page the browser is redirected to.
func setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
}

// takeFlash returns the message left for this page, and clears it.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
	msg, _ := url.QueryUnescape(ck.Value)
	return msg
}
