package handlers

// The wall every request meets before a handler: a limit on its body, a
// deadline to read it and one to write the answer, and the one place bodies
// are read and forms parsed. Handlers then read r.PostForm, r.MultipartForm
// or a body already in memory; none of them parses a body of unknown size
// at an unknown pace.
//
// It stands in two parts. bound, before the session check, caps the body
// (413 at once when Content-Length says it is too large) and sets the
// deadlines, so a stranger can hold nothing open for long. readBodies,
// after the session check, reads the body: so only a logged-in user's
// bodies are read, but for the login and setup forms.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"time"
)

const (
	// maxForm bounds a console form's body; the largest, a virtual
	// server, is under a kilobyte.
	maxForm = 64 << 10
	// uploadMemory is how much of an lvs.cf upload is held in memory; the
	// rest goes to a temporary file, removed when the answer is sent.
	uploadMemory = 1 << 20
)

// Timeouts bound how long a request may take; zero values take the
// defaults.
type Timeouts struct {
	// Body is how long the body of a form or an API request may take to
	// arrive (20 s).
	Body time.Duration
	// Upload is the same for an lvs.cf import (2 min).
	Upload time.Duration
	// Write is how long the answer may take to be written, from when the
	// body has arrived (30 s).
	Write time.Duration
	// Event is how long each event of the dashboard's stream, which has no
	// deadline as a whole, may take to be written (10 s).
	Event time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Body, 20*time.Second)
	def(&t.Upload, 2*time.Minute)
	def(&t.Write, 30*time.Second)
	def(&t.Event, 10*time.Second)
	return t
}

// bodyKind is what a route takes as a body.
type bodyKind int

const (
	formBody   bodyKind = iota // a urlencoded form, parsed by the wall
	uploadBody                 // multipart/form-data, parsed by upload on its route
	rawBody                    // JSON or lvs.cf, read into memory by the wall, decoded by the handler
)

// policy is the wall's rule for one request.
type policy struct {
	kind  bodyKind
	limit int64         // of the body, in bytes
	read  time.Duration // to read the body
	// stream answers have no deadline as a whole: each event has its own.
	stream bool
}

// policyFor is the rule for a request to path. Anything not named here is
// a form: a route added later gets the smallest limit.
func policyFor(path string, t Timeouts) policy {
	switch {
	case path == "/import":
		return policy{kind: uploadBody, limit: maxUpload, read: t.Upload}
	case path == "/api/v1/config.cf":
		return policy{kind: rawBody, limit: maxUpload, read: t.Upload}
	case apiPath(path):
		return policy{kind: rawBody, limit: maxJSON, read: t.Body}
	case path == "/control/stream":
		return policy{kind: formBody, limit: maxForm, read: t.Body, stream: true}
	}
	return policy{kind: formBody, limit: maxForm, read: t.Body}
}

// hasBody reports whether r comes with a body (of known length or not).
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// bodyError is a request body the wall refuses.
type bodyError struct {
	code int
	msg  string
}

func (e *bodyError) Error() string { return e.msg }

func tooLarge(limit int64) *bodyError {
	return &bodyError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the request body is larger than %d bytes, the most this route takes", limit)}
}

// readError says what went wrong reading a body, without quoting it: a
// body may hold a password.
func readError(err error, p policy) *bodyError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, multipart.ErrMessageTooLarge):
		return tooLarge(p.limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &bodyError{http.StatusRequestTimeout, fmt.Sprintf("the request body did not arrive within %s", p.read)}
	}
	return &bodyError{http.StatusBadRequest, "the request body could not be read: it ended early or is malformed"}
}

// refuseBody answers a refused body: in JSON on the API, as text elsewhere
// (a browser never meets it but for a hand-made request). The connection
// is closed after: what is left of the body is not read.
func refuseBody(w http.ResponseWriter, r *http.Request, e *bodyError) {
	w.Header().Set("Connection", "close")
	if apiPath(r.URL.Path) {
		writeJSON(w, e.code, apiError{Error: e.msg})
		return
	}
	http.Error(w, e.msg, e.code)
}

// bound caps the body and sets the deadlines. A deadline is set to read a
// body only when there is one: the server reads on after a bodyless
// request (to notice the client going), and a read deadline would end
// that read, and the request's context with it.
func (c *Console) bound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := policyFor(r.URL.Path, c.timeouts)
		rc := http.NewResponseController(w)
		now := time.Now()
		writeBy := now.Add(c.timeouts.Write)
		if hasBody(r) {
			if r.ContentLength > p.limit {
				refuseBody(w, r, tooLarge(p.limit))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, p.limit)
			c.deadline(rc.SetReadDeadline, now.Add(p.read))
			writeBy = writeBy.Add(p.read)
		}
		if p.stream {
			writeBy = time.Time{} // controlStream sets one per event
		}
		c.deadline(rc.SetWriteDeadline, writeBy)
		next.ServeHTTP(w, r)
	})
}

// deadline sets a connection deadline, where the ResponseWriter allows it.
func (c *Console) deadline(set func(time.Time) error, t time.Time) {
	if err := set(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		c.log.Warn("setting a connection deadline", "err", err)
	}
}

// readBodies reads the body as the route takes it: a form is parsed (only
// a urlencoded one: a multipart body would go to temporary files) and a
// raw body is read into memory; an upload is left to upload. It refuses a body of the wrong type (415), too large (413), too slow
// (408) or malformed (400).
func (c *Console) readBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := policyFor(r.URL.Path, c.timeouts)
		mt := mediaType(r)
		switch p.kind {
		case uploadBody:
			// Parsed by upload, on its route: after the standby's refusal.
		case formBody:
			if mt == "multipart/form-data" || hasBody(r) && mt != "application/x-www-form-urlencoded" {
				refuseBody(w, r, &bodyError{http.StatusUnsupportedMediaType,
					"this route takes a form as application/x-www-form-urlencoded, not " + orNone(mt)})
				return
			}
			fallthrough
		case rawBody:
			if !hasBody(r) {
				break
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, p.limit+1))
			if err == nil && int64(len(body)) > p.limit {
				err = &http.MaxBytesError{Limit: p.limit}
			}
			if err != nil {
				refuseBody(w, r, readError(err, p))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if p.kind == formBody && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
				// The body alone: a malformed query string is the
				// handlers' business, as it was.
				if r.PostForm, err = url.ParseQuery(string(body)); err != nil {
					refuseBody(w, r, &bodyError{http.StatusBadRequest, "the form is not valid application/x-www-form-urlencoded"})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// upload parses the multipart body of an lvs.cf upload, with a bounded
// part in memory, and removes its temporary files when the answer is done.
func (c *Console) upload(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if hasBody(r) {
			p := policyFor(r.URL.Path, c.timeouts)
			if mediaType(r) != "multipart/form-data" {
				refuseBody(w, r, &bodyError{http.StatusUnsupportedMediaType,
					"this route takes an lvs.cf file as multipart/form-data (the HISTORY page's upload form)"})
				return
			}
			if err := r.ParseMultipartForm(uploadMemory); err != nil {
				refuseBody(w, r, readError(err, p))
				return
			}
			// Go removes these files for the request it made only, and
			// the router hands handlers a copy (golang/go#58809).
			defer r.MultipartForm.RemoveAll()
		}
		next(w, r)
	}
}

// mediaType is the request's Content-Type without parameters, or "".
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func orNone(mt string) string {
	if mt == "" {
		return "a body without a Content-Type"
	}
	return mt
}
