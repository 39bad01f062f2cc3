package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// goneError is a 404 of the API that says what is missing.
type goneError string

func (e goneError) Error() string        { return string(e) }
func (e goneError) Is(target error) bool { return target == errGone }

func noVirtual(vid int64) error { return goneError(fmt.Sprintf("there is no virtual server %d", vid)) }
func noReal(vid, rid int64) error {
	return goneError(fmt.Sprintf("virtual server %d has no real server %d", vid, rid))
}

// readWrite reads the JSON body of a PUT or POST of res, refusing (400)
// anything but an object of its fields, and returns it with the serial the
// write is based on. The body is applied later, inside the store's
// transaction, over the entry as it is then (see apiUpdate), so a field
// left out keeps its current value even when another change got in
// between.
func readWrite[T any](r *http.Request, res *resource[T]) ([]byte, int64, error) {
	body, err := readBody(r, maxJSON, true)
	if err != nil {
		return nil, 0, err
	}
	var zero T
	probe, err := res.decode(body, &zero)
	if err != nil {
		return nil, 0, err
	}
	base, err := baseSerial(r, serialOf(probe))
	return body, base, err
}

func (c *Console) apiConfig(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	writeResource(w, http.StatusOK, cfg.Serial, configOf(cfg))
}

// apiConfigCf is the configuration as lvs.cf, as the console's export.
func (c *Console) apiConfigCf(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	c.writeCf(w, r, cfg)
}

func (c *Console) writeCf(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	var buf bytes.Buffer
	if err := lvscf.Format(&buf, cfg); err != nil {
		c.apiServerError(w, r, "writing lvs.cf", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("ETag", etag(cfg.Serial))
	w.Write(buf.Bytes())
}

// apiImportCf replaces the configuration with the lvs.cf in the body, as
// the console's import: refused with the line and column of each problem.
// The file's serial_no is not the base; If-Match is. With ?apply=draft the
// file becomes the caller's draft.
func (c *Console) apiImportCf(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r, maxUpload, false)
	if err == nil && len(bytes.TrimSpace(body)) == 0 {
		err = badf("", "the body is empty: send the lvs.cf to import (an empty file would delete every virtual server)")
	}
	var base int64
	if err == nil {
		base, err = ifMatch(r)
	}
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	cfg, warns, err := importLvsCf(r.Context(), bytes.NewReader(body))
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	ch := store.Change{Role: requestScope(r), Author: userOf(r), Token: tokenNameOf(r), Base: base, Note: "api: import of lvs.cf"}
	if mode, _ := applyOf(r); mode == applyDraft { // checked by apiEdit
		d, err := c.store.ReplaceDraft(r.Context(), ch, store.AnyVersion, cfg)
		c.afterDraftEdit(w, r, d, err, cfg, warns)
		return
	}
	saved, err := c.store.Replace(r.Context(), ch, cfg)
	if err == nil || errors.Is(err, store.ErrNoChange) {
		c.answerImport(w, r, saved, warns)
		return
	}
	c.afterAPIReplace(w, r, saved, err, cfg)
}

// afterAPIReplace answers an import or a restore; cfg is what was to be
// saved, for the ids of refused entries.
func (c *Console) afterAPIReplace(w http.ResponseWriter, r *http.Request, saved *config.Config, err error, cfg *config.Config) {
	if errors.Is(err, store.ErrNoChange) {
		var ok bool
		if saved, ok = c.apiRead(w, r); !ok {
			return
		}
	} else if err != nil {
		c.apiRefuse(w, r, err, cfg)
		return
	}
	writeResource(w, http.StatusOK, saved.Serial, configOf(saved))
}

// settings is GLOBAL SETTINGS or REDUNDANCY: its resource, the section
// its refusals name, and where it is in a configuration.
type settings[T any] struct {
	section string
	res     *resource[T]
	in      func(*config.Config) *T
}

var (
	globalSettings = settings[config.Global]{"global", apiGlobal,
		func(c *config.Config) *config.Global { return &c.Global }}
	redundancySettings = settings[config.Redundancy]{"redundancy", apiRedundancy,
		func(c *config.Config) *config.Redundancy { return &c.Redundancy }}
)

// apiGetSettings answers a GET of s.
func apiGetSettings[T any](c *Console, s settings[T]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cfg, ok := c.apiRead(w, r); ok {
			writeSettings(w, s, cfg)
		}
	}
}

func writeSettings[T any](w http.ResponseWriter, s settings[T], cfg *config.Config) {
	writeResource(w, http.StatusOK, cfg.Serial, s.res.of(s.in(cfg), cfg.Serial).Interface())
}

// apiPutSettings is a PUT of s: the fields sent change, the others stay.
func apiPutSettings[T any](c *Console, s settings[T]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, base, err := readWrite(r, s.res)
		if err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
			cur := s.in(cfg)
			in, err := s.res.decode(body, cur)
			if err != nil {
				return err
			}
			cv := newConverter(s.section, -1, -1, "", "")
			*cur = s.res.model(in, *cur, cv)
			return cv.refusal(cfg)
		})
		if ok {
			writeSettings(w, s, saved)
		}
	}
}

// apiResetRedundancy is RESET on the REDUNDANCY tab.
func (c *Console) apiResetRedundancy(w http.ResponseWriter, r *http.Request) {
	base, err := readSerialOnly(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
		cfg.Redundancy = config.DefaultRedundancy()
		return nil
	})
	if ok {
		writeSettings(w, redundancySettings, saved)
	}
}

func (c *Console) apiVirtuals(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	out := struct {
		Serial   int64 `json:"serial"`
		Virtuals []any `json:"virtuals"`
	}{cfg.Serial, make([]any, len(cfg.Virtuals))}
	for i := range cfg.Virtuals {
		out.Virtuals[i] = apiVirtual.of(&cfg.Virtuals[i], 0).Interface()
	}
	writeResource(w, http.StatusOK, cfg.Serial, out)
}

func (c *Console) apiVirtual(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	vid := idParam(r, "vid")
	c.writeVirtual(w, r, http.StatusOK, cfg, vid)
}

// writeVirtual answers with virtual server vid of cfg.
func (c *Console) writeVirtual(w http.ResponseWriter, r *http.Request, code int, cfg *config.Config, vid int64) {
	_, vs := virtualByID(cfg, vid)
	if vs == nil {
		c.apiRefuse(w, r, noVirtual(vid), nil)
		return
	}
	writeResource(w, code, cfg.Serial, apiVirtual.of(vs, cfg.Serial).Interface())
}

// apiWriteVirtual is POST of a new virtual server (create), which starts
// from what ADD on the console starts from, or PUT of virtual server {vid},
// which must exist: an id that names nothing is 404, never a new entry.
func (c *Console) apiWriteVirtual(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vid := idParam(r, "vid")
		body, base, err := readWrite(r, apiVirtual)
		if err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		idx := -1
		saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
			cur := config.NewVirtual("")
			idx = len(cfg.Virtuals)
			if !create {
				i, vs := virtualByID(cfg, vid)
				if vs == nil {
					return noVirtual(vid)
				}
				cur, idx = *vs, i
			}
			in, err := apiVirtual.decode(body, &cur)
			if err != nil {
				return err
			}
			cv := newConverter("virtual", idx, -1, apiVirtual.name(in), "")
			vs := apiVirtual.model(in, cur, cv)
			if create {
				cfg.Virtuals = append(cfg.Virtuals, vs)
			} else {
				cfg.Virtuals[idx] = vs
			}
			return cv.refusal(cfg)
		})
		if !ok {
			return
		}
		if !create {
			c.writeVirtual(w, r, http.StatusOK, saved, vid)
			return
		}
		id := saved.Virtuals[idx].ID
		w.Header().Set("Location", fmt.Sprintf("/api/v1/virtual/%d", id))
		c.writeVirtual(w, r, http.StatusCreated, saved, id)
	}
}

func (c *Console) apiDeleteVirtual(w http.ResponseWriter, r *http.Request) {
	vid := idParam(r, "vid")
	base, err := readSerialOnly(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
		i, vs := virtualByID(cfg, vid)
		if vs == nil {
			return noVirtual(vid)
		}
		cfg.Virtuals = append(cfg.Virtuals[:i], cfg.Virtuals[i+1:]...)
		return nil
	})
	if ok {
		writeResource(w, http.StatusOK, saved.Serial, serialOnly{saved.Serial})
	}
}

// apiActivateVirtual is (DE)ACTIVATE: it sets the state, so that a repeated
// request does not flip it back.
func (c *Console) apiActivateVirtual(want bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vid := idParam(r, "vid")
		base, err := readSerialOnly(r)
		if err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
			_, vs := virtualByID(cfg, vid)
			if vs == nil {
				return noVirtual(vid)
			}
			vs.Active = want
			return nil
		})
		if ok {
			c.writeVirtual(w, r, http.StatusOK, saved, vid)
		}
	}
}

func (c *Console) apiReals(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	vid := idParam(r, "vid")
	_, vs := virtualByID(cfg, vid)
	if vs == nil {
		c.apiRefuse(w, r, noVirtual(vid), nil)
		return
	}
	out := struct {
		Serial    int64 `json:"serial"`
		VirtualID int64 `json:"virtual_id"`
		Reals     []any `json:"reals"`
	}{cfg.Serial, vid, make([]any, len(vs.Reals))}
	for i := range vs.Reals {
		out.Reals[i] = apiReal.of(&vs.Reals[i], 0).Interface()
	}
	writeResource(w, http.StatusOK, cfg.Serial, out)
}

func (c *Console) apiReal(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	c.writeReal(w, r, http.StatusOK, cfg, idParam(r, "vid"), idParam(r, "rid"))
}

func (c *Console) writeReal(w http.ResponseWriter, r *http.Request, code int, cfg *config.Config, vid, rid int64) {
	_, vs := virtualByID(cfg, vid)
	if vs == nil {
		c.apiRefuse(w, r, noVirtual(vid), nil)
		return
	}
	_, rs := realByID(vs, rid)
	if rs == nil {
		c.apiRefuse(w, r, noReal(vid, rid), nil)
		return
	}
	writeResource(w, code, cfg.Serial, apiReal.of(rs, cfg.Serial).Interface())
}

// apiWriteReal is POST of a new real server of virtual server {vid}
// (create), which starts from what ADD on the console starts from, or PUT
// of real server {rid}, which must exist.
func (c *Console) apiWriteReal(create bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vid, rid := idParam(r, "vid"), idParam(r, "rid")
		body, base, err := readWrite(r, apiReal)
		if err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		vi, ri := -1, -1
		saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
			i, vs := virtualByID(cfg, vid)
			if vs == nil {
				return noVirtual(vid)
			}
			vi = i
			cur := config.NewReal("")
			ri = len(vs.Reals)
			if !create {
				j, rs := realByID(vs, rid)
				if rs == nil {
					return noReal(vid, rid)
				}
				cur, ri = *rs, j
			}
			in, err := apiReal.decode(body, &cur)
			if err != nil {
				return err
			}
			cv := newConverter("server", vi, ri, vs.Name, apiReal.name(in))
			rs := apiReal.model(in, cur, cv)
			if create {
				vs.Reals = append(vs.Reals, rs)
			} else {
				vs.Reals[ri] = rs
			}
			return cv.refusal(cfg)
		})
		if !ok {
			return
		}
		if !create {
			c.writeReal(w, r, http.StatusOK, saved, vid, rid)
			return
		}
		id := saved.Virtuals[vi].Reals[ri].ID
		w.Header().Set("Location", fmt.Sprintf("/api/v1/virtual/%d/real/%d", vid, id))
		c.writeReal(w, r, http.StatusCreated, saved, vid, id)
	}
}

func (c *Console) apiDeleteReal(w http.ResponseWriter, r *http.Request) {
	vid, rid := idParam(r, "vid"), idParam(r, "rid")
	base, err := readSerialOnly(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
		_, vs := virtualByID(cfg, vid)
		if vs == nil {
			return noVirtual(vid)
		}
		j, rs := realByID(vs, rid)
		if rs == nil {
			return noReal(vid, rid)
		}
		vs.Reals = append(vs.Reals[:j], vs.Reals[j+1:]...)
		return nil
	})
	if ok {
		writeResource(w, http.StatusOK, saved.Serial, serialOnly{saved.Serial})
	}
}

func (c *Console) apiActivateReal(want bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vid, rid := idParam(r, "vid"), idParam(r, "rid")
		base, err := readSerialOnly(r)
		if err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		saved, ok := c.apiUpdate(w, r, base, func(cfg *config.Config) error {
			_, vs := virtualByID(cfg, vid)
			if vs == nil {
				return noVirtual(vid)
			}
			_, rs := realByID(vs, rid)
			if rs == nil {
				return noReal(vid, rid)
			}
			rs.Active = want
			return nil
		})
		if ok {
			c.writeReal(w, r, http.StatusOK, saved, vid, rid)
		}
	}
}
