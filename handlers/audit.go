package handlers

// The audit trail's pages and what only the handlers know of it: a login
// and its failure, a logout, the client's address, and the throttle's
// refusals, aggregated so that a storm of guesses costs one entry per
// client and minute, not one per attempt. What the store changes (a
// revision, a password, the peer secret, a token, an expired session) is
// recorded by the store in the change's own transaction.
//
// Who may read it: an admin (pageRole and apiScope, scopes.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// Bounds of the pages.
const (
	auditPageSize = 100
	// auditExportMax bounds one export: its pages of MaxAuditLimit.
	auditExportMax = 100_000
	// maxStorms bounds the clients whose refusals are being counted; past
	// it, the others are counted together.
	maxStorms = 1024
)

// audit appends an entry for a handler; a failure to record is logged, and
// does not undo what was done.
func (c *Console) audit(r *http.Request, e store.AuditEntry) {
	if e.Client == "" {
		e.Client = clientIP(r)
	}
	if err := c.store.Audit(r.Context(), e); err != nil {
		c.log.Error("recording an audit entry", "kind", e.Kind, "err", err)
	}
}

// storm counts the throttle's refusals of one client in one minute.
type storm struct {
	minute time.Time
	count  int
	users  []string // the names tried, a few
}

// throttleLog aggregates the throttle's refusals: one entry per client and
// minute, with their count, written when the minute has ended (flush, run
// every few seconds, or the client's next refusal after it).
type throttleLog struct {
	mu     sync.Mutex
	storms map[netip.Prefix]*storm
}

func newThrottleLog() *throttleLog { return &throttleLog{storms: map[netip.Prefix]*storm{}} }

// refused counts a refusal of client, for user, at now; it returns the
// entry of the client's minute before, if that one has ended.
func (l *throttleLog) refused(client netip.Addr, user string, now time.Time) []store.AuditEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := clientKey(client)
	if _, ok := l.storms[key]; !ok && len(l.storms) >= maxStorms {
		key = netip.Prefix{} // the others, together
	}
	minute := now.Truncate(time.Minute)
	var out []store.AuditEntry
	s := l.storms[key]
	if s != nil && !s.minute.Equal(minute) {
		out = append(out, s.entry(key))
		s = nil
	}
	if s == nil {
		s = &storm{minute: minute}
		l.storms[key] = s
	}
	s.count++
	if len(s.users) < 5 && !slices.Contains(s.users, user) {
		s.users = append(s.users, user)
	}
	return out
}

// flush returns the entries of the minutes that ended before now.
func (l *throttleLog) flush(now time.Time) []store.AuditEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	minute := now.Truncate(time.Minute)
	var out []store.AuditEntry
	for key, s := range l.storms {
		if s.minute.Before(minute) {
			out = append(out, s.entry(key))
			delete(l.storms, key)
		}
	}
	slices.SortFunc(out, func(a, b store.AuditEntry) int { return a.Time.Compare(b.Time) })
	return out
}

func (s *storm) entry(key netip.Prefix) store.AuditEntry {
	client := "(many clients)"
	if key.IsValid() {
		client = key.Addr().String()
		if key.Addr().Is6() {
			client = key.String()
		}
	}
	return store.AuditEntry{Time: s.minute, Actor: store.SystemActor, Client: client, Kind: store.AuditLoginThrottled,
		Detail: fmt.Sprintf("%d logins refused by the throttle in the minute from %s (user names: %s)",
			s.count, s.minute.UTC().Format("15:04"), strings.Join(s.users, ", ")),
		Fields: map[string]string{"count": strconv.Itoa(s.count)}}
}

// throttledLogin records a refusal of the throttle: of a login, a setup
// code or the account page's current password.
// what is the name tried as logName gives it, or what was guessed.
func (c *Console) throttledLogin(r *http.Request, what string) {
	c.writeThrottled(r.Context(), c.throttleLog.refused(clientAddr(r), what, c.now()))
}

// flushThrottled writes the throttle's minutes that have ended.
func (c *Console) flushThrottled(ctx context.Context) {
	c.writeThrottled(ctx, c.throttleLog.flush(c.now()))
}

func (c *Console) writeThrottled(ctx context.Context, es []store.AuditEntry) {
	for _, e := range es {
		if err := c.store.Audit(ctx, e); err != nil {
			c.log.Error("recording an audit entry", "kind", e.Kind, "err", err)
		}
	}
}

// flushEvery writes the throttle's ended minutes until ctx ends.
func (c *Console) flushEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.flushThrottled(context.WithoutCancel(ctx))
			return
		case <-t.C:
			c.flushThrottled(ctx)
		}
	}
}

// auditFilter reads the filters of the page, the export and the API:
// user, kind, since, until (RFC 3339 or a date, UTC), before (an id) and
// limit. Every bad value is reported, by name.
func auditFilter(q url.Values, defLimit int) (store.AuditFilter, []string) {
	f := store.AuditFilter{Actor: strings.TrimSpace(q.Get("user")), Kind: q.Get("kind"), Limit: defLimit}
	var errs []string
	if f.Kind != "" && !slices.Contains(store.AuditKinds, f.Kind) {
		errs = append(errs, fmt.Sprintf("kind %q is not one of: %s", f.Kind, strings.Join(store.AuditKinds, ", ")))
	}
	when := func(name string) time.Time {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return time.Time{}
		}
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return t
			}
		}
		errs = append(errs, fmt.Sprintf("%s %q is not a time: write 2026-01-02, 2026-01-02T15:04 or RFC 3339", name, v))
		return time.Time{}
	}
	f.Since, f.Until = when("since"), when("until")
	num := func(name string, max int64) int64 {
		v := q.Get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > max {
			errs = append(errs, fmt.Sprintf("%s %q is not a number from 1 to %d", name, v, max))
			return 0
		}
		return n
	}
	f.Before = num("before", 1<<62)
	if n := num("limit", store.MaxAuditLimit); n > 0 {
		f.Limit = int(n)
	}
	return f, errs
}

// filterQuery writes f's filters (not the paging) as a query.
func filterQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range []string{"user", "kind", "since", "until"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) {
	c.flushThrottled(r.Context())
	p := c.page(w, r, "Audit trail", web.TabAudit, 0)
	q := r.URL.Query()
	form := web.NewForm(0)
	for _, k := range []string{"user", "kind", "since", "until"} {
		form.Values[k] = q.Get(k)
	}
	v := web.AuditView{Form: form, Kinds: store.AuditKinds, Export: filterQuery(q).Encode()}
	f, errs := auditFilter(q, auditPageSize)
	if len(errs) > 0 {
		p.ErrorsHead, p.Errors = "The filter is not valid:", errs
		c.render(w, r, http.StatusBadRequest, web.Audit(p, v))
		return
	}
	es, err := c.store.AuditQuery(r.Context(), f)
	if err != nil {
		c.serverError(w, r, "reading the audit trail", err)
		return
	}
	for _, e := range es {
		v.Rows = append(v.Rows, web.AuditRow{ID: e.ID, Time: e.Time, Director: e.Director, Actor: e.Actor, Client: e.Client, Kind: e.Kind, Detail: e.Detail})
	}
	if len(es) == f.Limit {
		next := filterQuery(q)
		next.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		v.Next = next.Encode()
	}
	c.render(w, r, http.StatusOK, web.Audit(p, v))
}

// auditExport streams the entries the filters select as JSON lines,
// newest first, a page at a time: at most auditExportMax, or limit.
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request) {
	c.flushThrottled(r.Context())
	f, errs := auditFilter(r.URL.Query(), 0)
	if len(errs) > 0 {
		http.Error(w, strings.Join(errs, "\n"), http.StatusBadRequest)
		return
	}
	total := auditExportMax
	if f.Limit > 0 {
		total = f.Limit
	}
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.jsonl"`)
	enc := json.NewEncoder(w)
	for total > 0 {
		f.Limit = min(total, store.MaxAuditLimit)
		es, err := c.store.AuditQuery(r.Context(), f)
		if err != nil {
			// The status is sent: the log says why the file ends early.
			c.log.Error("exporting the audit trail", "err", err)
			return
		}
		for _, e := range es {
			e.Time = e.Time.UTC()
			if err := enc.Encode(e); err != nil {
				return // the client went away
			}
		}
		if len(es) < f.Limit {
			return
		}
		total -= len(es)
		f.Before = es[len(es)-1].ID
	}
}

// apiAuditPage is the answer of GET /api/v1/audit.
type apiAuditPage struct {
	Entries []store.AuditEntry `json:"entries"`
	// Next is the query of the next (older) page; empty: no more.
	Next string `json:"next,omitempty"`
}

func (c *Console) apiAudit(w http.ResponseWriter, r *http.Request) {
	c.flushThrottled(r.Context())
	q := r.URL.Query()
	f, errs := auditFilter(q, auditPageSize)
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: strings.Join(errs, "; ")})
		return
	}
	es, err := c.store.AuditQuery(r.Context(), f)
	if err != nil {
		c.apiServerError(w, r, "reading the audit trail", err)
		return
	}
	out := apiAuditPage{Entries: es}
	if out.Entries == nil {
		out.Entries = []store.AuditEntry{}
	}
	for i := range out.Entries {
		out.Entries[i].Time = out.Entries[i].Time.UTC()
	}
	if len(es) == f.Limit {
		next := filterQuery(q)
		next.Set("limit", strconv.Itoa(f.Limit))
		next.Set("before", strconv.FormatInt(es[len(es)-1].ID, 10))
		out.Next = next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}
