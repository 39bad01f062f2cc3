package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Roles are enforced here, in the write path, whatever route a change came
// through: Update, EditDraft (and so ReplaceDraft, RestoreDraft) and
// ApplyDraft check Change.Role against what the change does to the
// configuration, before and after, inside their transaction. A Change
// whose Role nobody set is ScopeNone and changes nothing.

// ErrNotAllowed refuses a change beyond the role of whoever makes it; the
// error is a *RoleError.
var ErrNotAllowed = errors.New("not allowed for this role")

// RoleError is ErrNotAllowed with what the change would do beyond the
// role.
type RoleError struct {
	Have, Need Scope
	Changes    []string // beyond Have, as config.Diff words them
}

func (e *RoleError) Error() string {
	allows := "may change nothing"
	switch e.Have {
	case ScopeRead:
		allows = "reads only"
	case ScopeOperator:
		allows = "may only activate, deactivate, drain and change the weight of real servers"
	}
	return fmt.Sprintf("the %s role %s, and this change also makes: %s; that needs the %s role",
		RoleName(e.Have), allows, strings.Join(e.Changes, "; "), RoleName(e.Need))
}

func (e *RoleError) Unwrap() error { return ErrNotAllowed }

// Allowed reports whether role may change old into next: admin anything,
// operator only the state (active, draining) and the weight of existing
// real servers, viewer nothing. The serial is no change anyone makes.
func Allowed(role Scope, old, next *config.Config) error {
	if role.Allows(ScopeAdmin) {
		return nil
	}
	rest := next.Clone()
	rest.Serial = old.Serial
	if role.Allows(ScopeOperator) {
		unchangeOperated(old, rest)
	}
	if reflect.DeepEqual(old, rest) {
		return nil
	}
	changes := config.Diff(old, rest)
	if len(changes) == 0 { // a difference Diff does not word
		changes = []string{"a change of the configuration"}
	}
	return &RoleError{Have: role, Need: ScopeAdmin, Changes: changes}
}

// OperatorFields are the real server's form fields an operator may
// change; unchangeOperated ignores the same (TestOperatorFields).
var OperatorFields = []string{"weight", "active"}

// unchangeOperated gives next's real servers old's state and weight, entry
// by entry (by id), so that what is left to compare is what an operator
// may not change.
func unchangeOperated(old, next *config.Config) {
	for i := range next.Virtuals {
		vs := &next.Virtuals[i]
		prev := virtualByID(old, vs.ID)
		if vs.ID == 0 || prev == nil {
			continue
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if p := realByID(prev, rs.ID); rs.ID != 0 && p != nil {
				rs.Active, rs.Weight = p.Active, p.Weight
			}
		}
	}
}

func virtualByID(c *config.Config, id int64) *config.VirtualServer {
	for i := range c.Virtuals {
		if c.Virtuals[i].ID == id {
			return &c.Virtuals[i]
		}
	}
	return nil
}

func realByID(vs *config.VirtualServer, id int64) *config.RealServer {
	for i := range vs.Reals {
		if vs.Reals[i].ID == id {
			return &vs.Reals[i]
		}
	}
	return nil
}
