//go:build !linux || !cgo || osusergo

package pamauth

import (
	"errors"

	"github.com/lvsconsole/lvsconsole/store"
)

// Available reports whether this build has PAM.
const Available = false

// Auth is PAM's checker; this build has none.
type Auth struct{}

// New says that this build has no PAM: it needs Linux, cgo and a
// dynamic build.
func New(Config) (*Auth, error) {
	return nil, errors.New("PAM is not available in this build (it needs Linux, cgo and libpam, not a static build)")
}

// Authenticate is never reached: New fails.
func (a *Auth) Authenticate(user, password, client string) (store.Scope, error) {
	return store.ScopeNone, errors.New("PAM is not available in this build")
}
