package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/web"
)

// maxSearch bounds a list's search words: longer ones are cut, as they
// are matched against every name and address of the list.
const maxSearch = 100

// Long lists (VIRTUAL SERVERS, a virtual server's REAL SERVER, the
// routing table) show a page at a time, searched on the server: ?q=
// words in the names and addresses, ?state=, ?page= from 1, ?size= up to
// web.MaxPageSize.

// virtualStates and realStates are the state filters' choices.
var (
	virtualStates = []web.Option{{Value: "", Label: "any state"}, {Value: "active", Label: "active"},
		{Value: "inactive", Label: "inactive"}, {Value: "down", Label: "with a real server down"},
		{Value: "draining", Label: "with a real server draining"}}
	realStates = []web.Option{{Value: "", Label: "any state"}, {Value: "active", Label: "active"},
		{Value: "inactive", Label: "inactive"}, {Value: "up", Label: "up"}, {Value: "down", Label: "down"},
		{Value: "unknown", Label: "being checked"}, {Value: "draining", Label: "draining"}}
)

// listQuery reads a list's query from r's URL: a state not among states
// is ignored, the search is cut at maxSearch bytes (on a character), the
// page and its size are bounded.
func listQuery(r *http.Request, states []web.Option) web.ListQuery {
	v := r.URL.Query()
	q := web.ListQuery{Q: strings.TrimSpace(v.Get("q")), Size: web.DefaultPageSize}
	if len(q.Q) > maxSearch {
		cut := maxSearch
		for cut > 0 && !utf8.RuneStart(q.Q[cut]) {
			cut--
		}
		q.Q = q.Q[:cut]
	}
	for _, s := range states {
		if s.Value == v.Get("state") {
			q.State = s.Value
		}
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil {
		q.Page = max(n, 1)
	}
	if n, err := strconv.Atoi(v.Get("size")); err == nil {
		q.Size = min(max(n, 1), web.MaxPageSize)
	}
	return q
}

// keepList is the query of the list r came from, to go back to it: only
// the list's own parameters, read and written again.
func keepList(r *http.Request, states []web.Option) string {
	return listQuery(r, states).Keep()
}

// matcher finds a list's search words, ignoring case, in any of the texts
// of an entry: every word must be in one of them.
type matcher []string

func newMatcher(q string) matcher { return strings.Fields(strings.ToLower(q)) }

func (m matcher) match(texts ...string) bool {
	for _, w := range m {
		found := false
		for _, t := range texts {
			if containsFold(t, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// containsFold reports whether lower (in lower case) is in s, ignoring
// ASCII case without allocating; other text is compared as lowered.
func containsFold(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return strings.Contains(strings.ToLower(s), lower)
		}
	}
	n := len(lower)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for j < n {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// virtualMatches says whether vs is among what q looks for; health says
// whether any of its real servers is down, or draining, when the state
// asks.
func (c *Console) virtualMatches(vs *config.VirtualServer, m matcher, state string) bool {
	switch state {
	case "active":
		if !vs.Active {
			return false
		}
	case "inactive":
		if vs.Active {
			return false
		}
	case "draining":
		if !slicesAny(vs.Reals, func(rs *config.RealServer) bool { return rs.Active && rs.Draining }) {
			return false
		}
	case "down":
		if c.health == nil || !slicesAny(vs.Reals, func(rs *config.RealServer) bool {
			h, ok := c.health.Of(vs, rs)
			return ok && rs.Active && h.State == "down"
		}) {
			return false
		}
	}
	if len(m) == 0 {
		return true
	}
	return m.match(vs.Name, shownAddr(vs), vs.ServiceString())
}

func slicesAny(rs []config.RealServer, f func(*config.RealServer) bool) bool {
	for i := range rs {
		if f(&rs[i]) {
			return true
		}
	}
	return false
}

// realMatches says whether row is among what q looks for.
func realMatches(row *web.RealRow, m matcher, state string) bool {
	switch state {
	case "active":
		if !row.Active {
			return false
		}
	case "inactive":
		if row.Active {
			return false
		}
	case "up", "down", "unknown":
		if !row.Active || row.Health != state {
			return false
		}
	case "draining":
		if !row.Draining {
			return false
		}
	}
	if len(m) == 0 {
		return true
	}
	return m.match(row.Name, row.Address, row.Address+":"+row.Port)
}
