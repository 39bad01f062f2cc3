package store

import "fmt"

// Scope is what a credential may do through the API: an API token's scope,
// chosen when it is made, and (once console users have roles) a user's.
// Scopes are ordered: each allows what the ones below it allow.
//
// Whatever the scope, changing a program the directors run as root needs
// a console session and the user's password (Change.Elevated), and making
// an API token needs a session.
type Scope uint8

const (
	// ScopeNone allows nothing. It is the zero value, so that a scope
	// nobody set refuses rather than allows.
	ScopeNone Scope = iota
	// ScopeRead reads: GET of every API resource, and /metrics. For
	// scrapers and dashboards.
	ScopeRead
	// ScopeOperator reads, activates and deactivates virtual and real
	// servers and changes a real server's weight: what a person on call
	// or an automatic drain does, and nothing else.
	ScopeOperator
	// ScopeAdmin may use every API route.
	ScopeAdmin
)

// Scopes returns the scopes a token may have, from the least to the most.
func Scopes() []Scope { return []Scope{ScopeRead, ScopeOperator, ScopeAdmin} }

func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeOperator:
		return "operator"
	case ScopeAdmin:
		return "admin"
	}
	return "none"
}

// Allows reports whether s allows what needs need.
func (s Scope) Allows(need Scope) bool { return s != ScopeNone && s >= need }

// ParseScope reads a scope by its name, as String writes it.
func ParseScope(name string) (Scope, error) {
	for _, s := range Scopes() {
		if name == s.String() {
			return s, nil
		}
	}
	if name == "" {
		return ScopeNone, fmt.Errorf("is required: choose read, operator or admin")
	}
	return ScopeNone, fmt.Errorf("%q is not a scope: choose read, operator or admin", name)
}

// MarshalText writes the scope's name.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseTokenScope reads the scope asked for a new token: a role's name
// (viewer, operator, admin), or read, viewer's name as a scope, which the
// API took before roles existed and still takes.
func ParseTokenScope(name string) (Scope, error) {
	if name == "read" {
		return ScopeRead, nil
	}
	for _, s := range Scopes() {
		if name == RoleName(s) {
			return s, nil
		}
	}
	if name == "" {
		return ScopeNone, fmt.Errorf("is required: choose viewer, operator or admin")
	}
	return ScopeNone, fmt.Errorf("%q is not a scope: choose viewer (or read), operator or admin", name)
}
