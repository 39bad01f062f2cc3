// Package pamauth checks console logins with the system's PAM (serve
// -pam-service) and maps the user's system groups to a console role
// (-pam-roles). It needs cgo and Linux-PAM (libpam0g); elsewhere New says
// PAM is not available in this build. A static build (tag osusergo, as
// lvs/guest's BuildStatic) has no PAM either: a static libpam cannot load
// PAM's modules, and Go's own user lookup sees /etc/group only, not the
// groups of sssd or LDAP.
package pamauth

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/store"
)

// Config says how to check a password with PAM.
type Config struct {
	// Service is the PAM service: /etc/pam.d/<Service>.
	Service string
	// ConfDir replaces /etc/pam.d (pam_start_confdir, Linux-PAM 1.4 and
	// later); "" is the system's. Tests write their service there.
	ConfDir string
	// Groups are the system groups whose members get each role; the
	// highest role a user's groups give wins.
	Groups map[store.Scope]string
}

// ParseRoles reads -pam-roles: "viewer=GROUP,operator=GROUP,admin=GROUP",
// any of the three, each at most once. All errors are returned at once.
func ParseRoles(s string) (map[store.Scope]string, error) {
	groups := map[store.Scope]string{}
	var errs []error
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		role, group, ok := strings.Cut(item, "=")
		if !ok || group == "" {
			errs = append(errs, fmt.Errorf("-pam-roles item %d %q: want ROLE=GROUP (viewer, operator or admin = a system group)", i+1, item))
			continue
		}
		r, err := store.ParseRole(role)
		if err != nil {
			errs = append(errs, fmt.Errorf("-pam-roles item %d: %w", i+1, err))
			continue
		}
		if !groupNameOK(group) {
			errs = append(errs, fmt.Errorf("-pam-roles item %d: group %q is not allowed: 1-64 characters, no ',', '=', ':' or spaces", i+1, group))
			continue
		}
		if _, dup := groups[r]; dup {
			errs = append(errs, fmt.Errorf("-pam-roles item %d: role %s is given twice", i+1, role))
			continue
		}
		groups[r] = group
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return groups, nil
}

func groupNameOK(g string) bool {
	return len(g) <= 64 && !strings.ContainsAny(g, ",=: \t\r\n\x00")
}

// RoleOf returns the highest role that the groups of the system user name
// give; store.ErrNoRole (naming the user's groups) when none does.
func RoleOf(name string, groups map[store.Scope]string) (store.Scope, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		// PAM let in a user the system's databases do not know: no
		// groups, no role.
		return store.ScopeNone, fmt.Errorf("%w (%s is not a user of this system)", store.ErrNoRole, name)
	}
	if err != nil {
		return store.ScopeNone, fmt.Errorf("looking up system user %s: %w", name, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return store.ScopeNone, fmt.Errorf("listing the groups of system user %s: %w", name, err)
	}
	scopes := store.Scopes()
	slices.Reverse(scopes) // the highest first
	for _, s := range scopes {
		name, ok := groups[s]
		if !ok {
			continue
		}
		g, err := user.LookupGroup(name)
		if err != nil {
			continue // a group that does not exist has no member
		}
		if slices.Contains(gids, g.Gid) {
			return s, nil
		}
	}
	var names []string
	for _, gid := range gids {
		if g, err := user.LookupGroupId(gid); err == nil {
			names = append(names, g.Name)
		} else {
			names = append(names, gid)
		}
	}
	return store.ScopeNone, fmt.Errorf("%w (%s is in %s)", store.ErrNoRole, name, strings.Join(names, ", "))
}

// MissingGroups names the groups of the mapping that the system does not
// know (yet: a directory may be down at boot), for a warning.
func MissingGroups(groups map[store.Scope]string) []string {
	var missing []string
	for _, s := range store.Scopes() {
		if g, ok := groups[s]; ok {
			if _, err := user.LookupGroup(g); err != nil {
				missing = append(missing, g)
			}
		}
	}
	return missing
}
