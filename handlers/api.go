package handlers

// The JSON API under /api/v1/: everything the console reads and changes,
// for scripts and tools. It is described, route by route, in
// static/openapi.yaml (served at /static/openapi.yaml; a test keeps the two
// equal).
//
// It is the console by other means: the same session check in front of it
// (which also takes API tokens, see tokens.go), the same store calls with
// the same Change (author, base serial), so the same validation, conflict
// detection and history, and the same refusal on the standby director.
//
// Conventions:
//   - bodies are JSON objects whose keys are lvs.cf's (address, port,
//     weight, ...); durations are decimal seconds and netmasks are written
//     as lvs.cf writes them;
//   - a PUT changes the fields it sends and keeps the others, a POST starts
//     from what ADD on the console starts from;
//   - every write may name the serial it was based on, as "serial" in the
//     body or If-Match: "<serial>"; a write based on an older serial is
//     refused (409), one without a serial applies to the current
//     configuration, like an lvs.cf import;
//   - a refusal is {"error": "...", ...}: 400 for a body that is not what
//     the route takes, 401 without credentials, 403 for what the
//     credential's scope does not allow (with "scope" and "token_scope")
//     and for a change of a program run as root (console only, with the
//     user's password), 404 for an unknown id, 409 for a conflict or the
//     standby, 422 for refused values, with "fields" (or "lines" for
//     lvs.cf) carrying the console's messages, every refused value at
//     once;
//   - only a POST to a collection creates: a PUT, DELETE or (de)activation
//     of an id that names nothing is 404;
//   - every write of the configuration takes ?apply=now (the default: a
//     revision at once) or ?apply=draft (a change of the caller's pending
//     changes, answered with them; see api_draft.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxJSON bounds a JSON body; the largest, a virtual server, is a few
// hundred bytes.
const maxJSON = 1 << 20

// apiRoutes are the routes under /api/v1. Writes of the configuration go
// through apiEdit (apiWritable, as the console's go through writable, and
// ?apply=), those of the caller's draft through apiWritable.
func (c *Console) apiRoutes(r chi.Router) {
	r.Use(c.requireScope(r)) // first: every route below needs its scope (scopes.go)
	r.NotFound(c.apiNotFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: r.Method + " is not allowed on " + r.URL.Path})
	})

	r.Get("/config", c.apiConfig)
	r.Get("/config.cf", c.apiConfigCf)
	r.Put("/config.cf", c.apiEdit(c.apiImportCf))

	r.Get("/global", apiGetSettings(c, globalSettings))
	r.Put("/global", c.apiEdit(apiPutSettings(c, globalSettings)))
	r.Get("/redundancy", apiGetSettings(c, redundancySettings))
	r.Put("/redundancy", c.apiEdit(apiPutSettings(c, redundancySettings)))
	r.Post("/redundancy/reset", c.apiEdit(c.apiResetRedundancy))

	r.Get("/virtual", c.apiVirtuals)
	r.Post("/virtual", c.apiEdit(c.apiWriteVirtual(true)))
	r.Route("/virtual/{vid:[0-9]+}", func(r chi.Router) {
		r.Get("/", c.apiVirtual)
		r.Put("/", c.apiEdit(c.apiWriteVirtual(false)))
		r.Delete("/", c.apiEdit(c.apiDeleteVirtual))
		r.Post("/activate", c.apiEdit(c.apiActivateVirtual(true)))
		r.Post("/deactivate", c.apiEdit(c.apiActivateVirtual(false)))
		r.Get("/real", c.apiReals)
		r.Get("/direct", c.apiDirect) // direct.go
		r.Post("/real", c.apiEdit(c.apiWriteReal(true)))
		r.Get("/real/{rid:[0-9]+}", c.apiReal)
		r.Put("/real/{rid:[0-9]+}", c.apiEdit(c.apiWriteReal(false)))
		r.Delete("/real/{rid:[0-9]+}", c.apiEdit(c.apiDeleteReal))
		r.Post("/real/{rid:[0-9]+}/activate", c.apiEdit(c.apiActivateReal(true)))
		r.Post("/real/{rid:[0-9]+}/deactivate", c.apiEdit(c.apiActivateReal(false)))
	})

	r.Get("/history", c.apiHistory)
	r.Get("/history/{serial:[0-9]+}", c.apiRevision)
	r.Get("/history/{serial:[0-9]+}/config.cf", c.apiRevisionCf)
	r.Post("/history/{serial:[0-9]+}/restore", c.apiEdit(c.apiRestore))

	// The caller's pending changes (api_draft.go).
	r.Get("/draft", c.apiGetDraft)
	r.Delete("/draft", c.apiWritable(c.apiDiscardDraft))
	r.Get("/draft/review", c.apiDraftReview)
	r.Post("/draft/apply", c.apiWritable(c.apiApplyDraft))
	r.Post("/confirm", c.apiWritable(c.apiConfirm))

	r.Get("/status", c.apiStatus)

	// Tokens are local to each director, as users are: the standby takes
	// them too.
	r.Get("/tokens", c.apiTokens)
	r.Post("/tokens", c.apiCreateToken)
	r.Delete("/tokens/{tid:[0-9]+}", c.apiRevokeToken)

	r.Get("/audit", c.apiAudit) // audit.go; admin scope
}

// apiPath reports whether path is the API's: it answers 401 in JSON, not a
// redirect to the login page, to a request without credentials.
func apiPath(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/")
}

// apiError is the body of every refusal of the API.
type apiError struct {
	Error string `json:"error"`
	// Fields are every refused value (422), or each field a malformed
	// body got wrong (400).
	Fields []apiFieldError `json:"fields,omitempty"`
	// Lines are the problems of a refused lvs.cf (422).
	Lines []apiLineError `json:"lines,omitempty"`
	// Base and Current describe a conflict (409): the serial the change
	// was based on and the revision saved since.
	Base    int64        `json:"base,omitempty"`
	Current *apiRevision `json:"current,omitempty"`
	// Conflicts are what keeps pending changes from being applied on
	// the running configuration (409), each a field both changed.
	Conflicts []string `json:"conflicts,omitempty"`
	// Version is, when pending changes were changed since the version
	// an APPLY names (409), their version now.
	Version int64 `json:"version,omitempty"`
	// ActiveConsole is, on the standby director, the active's console.
	ActiveConsole string `json:"active_console,omitempty"`
	// Scope and TokenScope explain a 403: the scope the request needs,
	// and the one its credential has.
	Scope      string `json:"scope,omitempty"`
	TokenScope string `json:"token_scope,omitempty"`
}

// apiFieldError is one refused value: config.FieldError, with the ids of
// the virtual and real server where they have one.
type apiFieldError struct {
	Section   string `json:"section,omitempty"` // global, redundancy, virtual or server
	Virtual   string `json:"virtual,omitempty"` // the virtual server's name
	VirtualID int64  `json:"virtual_id,omitempty"`
	Real      string `json:"real,omitempty"` // the real server's name
	RealID    int64  `json:"real_id,omitempty"`
	Field     string `json:"field"`
	Message   string `json:"message"`
}

// apiLineError is one problem of an lvs.cf file.
type apiLineError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeResource answers a read or a write of the configuration at serial,
// with the serial as ETag for the next write's If-Match.
func writeResource(w http.ResponseWriter, code int, serial int64, v any) {
	w.Header().Set("ETag", etag(serial))
	writeJSON(w, code, v)
}

func etag(serial int64) string { return `"` + strconv.FormatInt(serial, 10) + `"` }

func (c *Console) apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError{Error: "there is no " + r.URL.Path + ": the routes are described in /static/openapi.yaml"})
}

// apiUnauthorized refuses a request without valid credentials.
func apiUnauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="lvsconsole"`)
	writeJSON(w, http.StatusUnauthorized, apiError{Error: msg})
}

// apiServerError logs err and answers 500 without internals.
func (c *Console) apiServerError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	c.log.Error(doing, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, apiError{Error: doing + " failed; the console's log has the details."})
}

// apiWritable refuses configuration changes on the standby director, as
// writable does for the console's forms.
func (c *Console) apiWritable(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sb, active := c.standby(); sb {
			writeJSON(w, http.StatusConflict, apiError{Error: standbyRefusal(active), ActiveConsole: active})
			return
		}
		next(w, r)
	}
}

// badRequest is a body or parameter the route does not take (400).
type badRequest struct {
	msg   string
	field string // the field it concerns, when one
	// each lists, for a body with several fields it cannot take, each
	// field's refusal; msg then says them all.
	each []*badRequest
}

func (e *badRequest) Error() string { return e.msg }

func badf(field, format string, args ...any) *badRequest {
	return &badRequest{msg: fmt.Sprintf(format, args...), field: field}
}

// readBody reads a request's body, of at most limit bytes. A JSON body must
// say so (or say nothing): a form cannot send application/json, which is
// one more wall against cross-site requests.
func readBody(r *http.Request, limit int64, json bool) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, badf("", "reading the body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, &badRequest{msg: fmt.Sprintf("the body is larger than %d bytes", limit)}
	}
	if json && len(bytes.TrimSpace(body)) > 0 {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, _ := mime.ParseMediaType(ct)
			if mt != "application/json" {
				return nil, badf("", "the body is %s: send JSON, as Content-Type: application/json", mt)
			}
		}
	}
	return body, nil
}

// decodeStrict decodes body, a JSON object, into v (over what v holds),
// refusing unknown fields and anything after the object. Errors name the
// field concerned; every field it cannot take, when there are several.
func decodeStrict(body []byte, v any) error {
	if err := decodeOnce(body, v); err != nil {
		if bad, ok := err.(*badRequest); ok && bad.field != "" {
			return eachField(body, reflect.TypeOf(v).Elem(), bad)
		}
		return err
	}
	return nil
}

func decodeOnce(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badf("", "the body holds more than one JSON value: send one object")
	}
	return nil
}

// A refusal of a body lists at most maxRefusedFields fields, found among
// its first maxScannedFields (a resource has a few dozen).
const (
	maxRefusedFields = 32
	maxScannedFields = 256
)

// eachField finds, after first, every field of body (an object, which
// decoded into a value of type t) that the type does not take: unknown,
// or of the wrong JSON type. encoding/json reports only the first.
func eachField(body []byte, t reflect.Type, first *badRequest) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return first
	}
	var all []*badRequest
	for n := 0; dec.More() && len(all) < maxRefusedFields && n < maxScannedFields; n++ {
		tok, err := dec.Token()
		if err != nil {
			return first
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return first
		}
		one, err := json.Marshal(map[string]json.RawMessage{key: raw})
		if err != nil {
			return first
		}
		if err := decodeOnce(one, reflect.New(t).Interface()); err != nil {
			bad, ok := err.(*badRequest)
			if !ok || bad.field == "" {
				return first
			}
			all = append(all, bad)
		}
	}
	if len(all) < 2 {
		return first
	}
	msgs := make([]string, len(all))
	for i, b := range all {
		msgs[i] = b.msg
	}
	return &badRequest{msg: fmt.Sprintf("%d fields are not what this resource takes: %s", len(all), strings.Join(msgs, "; ")), each: all}
}

// jsonError says what is wrong with a body in words, naming the field.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return badf("", "the body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badf("", "the body ends in the middle of its JSON")
	case errors.As(err, &syn):
		return badf("", "the body is not valid JSON: %s at byte %d", strings.TrimPrefix(syn.Error(), "json: "), syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badf("", "the body is %s: send a JSON object", typ.Value)
		}
		return badf(typ.Field, "%s: %s is not allowed here: use %s", typ.Field, typ.Value, jsonKind(typ.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, _ := strconv.Unquote(name)
		return badf(field, "%s is not a field of this resource (see /static/openapi.yaml)", name)
	}
	return badf("", "the body is not what this route takes: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON a Go type takes.
func jsonKind(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[flexNumber]():
		return "a number or a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "an object"
	case t.Kind() == reflect.Slice:
		return "an array"
	}
	return "a " + t.String()
}

// ifMatch reads the serial of an If-Match header: "12" (an ETag of this
// API), W/"12" or 12; "*" and no header mean none (0).
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	s := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badf("", "If-Match %q is not a serial: send the ETag of a read, e.g. \"12\"", h)
	}
	return n, nil
}

// baseSerial is the serial a write is based on: body's "serial" or
// If-Match, which must agree when both are given.
func baseSerial(r *http.Request, body int64) (int64, error) {
	h, err := ifMatch(r)
	if err != nil {
		return 0, err
	}
	if body < 0 {
		return 0, badf("serial", "serial: %d is not a serial", body)
	}
	if h != 0 && body != 0 && h != body {
		return 0, badf("serial", "the body's serial %d and If-Match %d differ: send one", body, h)
	}
	return max(h, body), nil
}

// serialOnly is the body of writes that take nothing but the base serial
// (activate, delete, restore, reset); the body may be empty.
type serialOnly struct {
	Serial int64 `json:"serial"`
}

// readSerialOnly reads the base serial of a write whose body is at most
// {"serial": N}.
func readSerialOnly(r *http.Request) (int64, error) {
	body, err := readBody(r, maxJSON, true)
	if err != nil {
		return 0, err
	}
	var in serialOnly
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &in); err != nil {
			return 0, err
		}
	}
	return baseSerial(r, in.Serial)
}

// apiRefuse answers a refused request: err from reading it or from the
// store. cfg, when known, is the configuration the refused change made, for
// the ids of the entries its field errors name.
func (c *Console) apiRefuse(w http.ResponseWriter, r *http.Request, err error, cfg *config.Config) {
	var (
		bad  *badRequest
		ve   *config.ValidationError
		ce   *store.ConflictError
		perr lvscf.Errors
		se   *store.RoleError
		pe   *store.ProgramError
		dc   *store.DraftConflictError
		me   *store.MergeError
	)
	switch {
	case errors.As(err, &se):
		writeJSON(w, http.StatusForbidden, apiError{Error: "nothing was saved: " + se.Error(), Scope: se.Need.String(), TokenScope: se.Have.String()})
	case errors.As(err, &pe):
		// The API takes no password: its callers are scripts, and a
		// script's leaked token must not choose what root runs.
		refused := &config.ValidationError{}
		for _, p := range pe.Programs {
			refused.Fields = append(refused.Fields, p.FieldError("is a program the directors run as root: change it in the console, with your password"))
		}
		writeJSON(w, http.StatusForbidden, apiError{
			Error:  "nothing was saved: programs can only be changed in the console with your password: " + pe.Error(),
			Fields: fieldErrors(refused, cfg),
		})
	case errors.As(err, &bad):
		e := apiError{Error: bad.msg}
		if bad.field != "" {
			e.Fields = []apiFieldError{{Field: bad.field, Message: bad.msg}}
		}
		for _, b := range bad.each {
			e.Fields = append(e.Fields, apiFieldError{Field: b.field, Message: b.msg})
		}
		writeJSON(w, http.StatusBadRequest, e)
	case errors.Is(err, errGone), errors.Is(err, store.ErrNoRevision), errors.Is(err, store.ErrNoToken):
		writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
	case errors.Is(err, store.ErrNoDraft):
		writeJSON(w, http.StatusNotFound, apiError{Error: "you have no pending changes: make some with ?apply=draft on a write"})
	case errors.Is(err, store.ErrNoConfirmation):
		writeJSON(w, http.StatusNotFound, apiError{Error: "nothing waits for a confirmation (it may have been rolled back: see /history)"})
	case errors.As(err, &dc):
		writeJSON(w, http.StatusConflict, apiError{
			Error: fmt.Sprintf("nothing was applied: your pending changes are at version %d since %s, not version %d: "+
				"read them again (GET /draft/review) and apply that version", dc.Current, dc.Updated.UTC().Format(time.RFC3339), dc.Version),
			Version: dc.Current,
		})
	case errors.As(err, &me):
		rev := apiRevisionOf(me.Running, me.Running.Serial)
		e := apiError{
			Error: fmt.Sprintf("nothing was applied: %s saved serial %d since your pending changes were made, and changed what they change: "+
				"change those fields in your pending changes (?apply=draft), or discard them", me.Running.Author, me.Running.Serial),
			Current: &rev,
		}
		for _, cf := range me.Conflicts {
			e.Conflicts = append(e.Conflicts, cf.String())
		}
		writeJSON(w, http.StatusConflict, e)
	case errors.As(err, &ve):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "nothing was saved: " + ve.Error(), Fields: fieldErrors(ve, cfg)})
	case errors.As(err, &ce):
		rev := apiRevisionOf(ce.Current, ce.Current.Serial)
		writeJSON(w, http.StatusConflict, apiError{
			Error: fmt.Sprintf("%s changed the configuration (serial %d: %s) after serial %d, which this change was based on; "+
				"nothing was saved: read the configuration again and retry", ce.Current.By(), ce.Current.Serial, ce.Current.Summary, ce.Base),
			Base: ce.Base, Current: &rev,
		})
	case errors.As(err, &perr):
		e := apiError{Error: "nothing was saved: the lvs.cf was refused:\n" + perr.Error()}
		for _, pe := range perr {
			e.Lines = append(e.Lines, apiLineError{Line: pe.Line, Column: pe.Col, Key: pe.Key, Message: pe.Msg})
		}
		writeJSON(w, http.StatusUnprocessableEntity, e)
	default:
		c.apiServerError(w, r, "saving the change", err)
	}
}

// fieldErrors maps a refusal's field errors, naming entries by the ids cfg
// gives them (none for entries the change was adding).
func fieldErrors(ve *config.ValidationError, cfg *config.Config) []apiFieldError {
	out := make([]apiFieldError, len(ve.Fields))
	for i, fe := range ve.Fields {
		e := apiFieldError{Section: fe.Section, Virtual: fe.VirtualName, Real: fe.RealName, Field: fe.Field, Message: fe.Msg}
		if cfg != nil && fe.Virtual >= 0 && fe.Virtual < len(cfg.Virtuals) && (fe.Section == "virtual" || fe.Section == "server") {
			vs := &cfg.Virtuals[fe.Virtual]
			e.VirtualID = vs.ID
			if fe.Section == "server" && fe.Real >= 0 && fe.Real < len(vs.Reals) {
				e.RealID = vs.Reals[fe.Real].ID
			}
		}
		out[i] = e
	}
	return out
}

// apiUpdate saves one change as the forms do, by the request's user on
// base, and answers the refusal itself. A change that changes nothing is
// no refusal: it returns the current configuration. What the change does
// is checked against the credential's role by the store, on the
// configuration before and after (store.Allowed).
//
// With ?apply=draft the change is made, by the same fn under the same
// checks, to the caller's draft instead, and apiUpdate answers with the
// draft itself: it returns false then, as after a refusal.
func (c *Console) apiUpdate(w http.ResponseWriter, r *http.Request, base int64, fn func(*config.Config) error) (*config.Config, bool) {
	mode, err := applyOf(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return nil, false
	}
	var next *config.Config
	edit := func(cfg *config.Config) error {
		next = cfg
		return fn(cfg)
	}
	if mode == applyDraft {
		d, err := c.store.EditDraft(r.Context(), store.Change{Role: requestScope(r), Author: userOf(r), Token: tokenNameOf(r), Base: base}, store.AnyVersion, edit)
		c.afterDraftEdit(w, r, d, err, next, nil)
		return nil, false
	}
	saved, err := c.store.Update(r.Context(), store.Change{Role: requestScope(r), Author: userOf(r), Token: tokenNameOf(r), Base: base, Note: "api"}, edit)
	if errors.Is(err, store.ErrNoChange) {
		saved, err = c.store.Config(r.Context())
		if err != nil {
			c.apiServerError(w, r, "reading the configuration", err)
			return nil, false
		}
	} else if err != nil {
		c.apiRefuse(w, r, err, next)
		return nil, false
	}
	return saved, true
}

// apiRead returns the current configuration, answering the error itself.
func (c *Console) apiRead(w http.ResponseWriter, r *http.Request) (*config.Config, bool) {
	cfg, err := c.store.Config(r.Context())
	if err != nil {
		c.apiServerError(w, r, "reading the configuration", err)
		return nil, false
	}
	return cfg, true
}
