package ipvs

import (
	"errors"
	"fmt"
	"syscall"
)

// Operation names, as Error.Op reports them.
const (
	opDial        = "dial"
	opFamily      = "look up generic netlink family " + familyName
	opInfo        = "get info"
	opServices    = "list services"
	opService     = "get service"
	opNewService  = "new service"
	opSetService  = "set service"
	opDelService  = "delete service"
	opDests       = "list destinations"
	opNewDest     = "new destination"
	opSetDest     = "set destination"
	opDelDest     = "delete destination"
	opTimeouts    = "get timeouts"
	opSetTimeouts = "set timeouts"
	opDaemons     = "list sync daemons"
	opStartDaemon = "start sync daemon"
	opStopDaemon  = "stop sync daemon"
	opZero        = "zero counters"
	opFlush       = "flush"
	opApply       = "apply"
)

// Is lets errors.Is match the package's sentinels against the errno the
// kernel answered: EEXIST is ErrExists; ENOENT and ESRCH are ErrNotFound
// (ESRCH is how IPVS says "no such service"); EPERM is ErrPermission. The
// errno itself stays reachable through Unwrap.
func (e *Error) Is(target error) bool {
	var errno syscall.Errno
	if !errors.As(e.Err, &errno) {
		return false
	}
	switch target {
	case ErrExists:
		return errno == syscall.EEXIST
	case ErrNotFound:
		// ENOENT from the family lookup means no IPVS at all, not a
		// missing object.
		return (errno == syscall.ENOENT || errno == syscall.ESRCH) && !errors.Is(e.Err, ErrNoIPVS)
	case ErrPermission:
		return errno == syscall.EPERM
	}
	return false
}

// explain adds what an errno means for the operation where the kernel's
// choice of errno says little on its own. The errno stays in the chain.
func explain(op string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	var why string
	switch {
	case errno == syscall.ESRCH && op != opStopDaemon:
		why = "no such service"
	case errno == syscall.ESRCH:
		why = "no such sync daemon"
	case errno == syscall.ENOENT && (op == opNewService || op == opSetService):
		why = "scheduler or persistence engine not available (module not loaded?)"
	case errno == syscall.ENOENT && (op == opSetDest || op == opDelDest):
		why = "no such destination"
	case errno == syscall.ERANGE && (op == opNewDest || op == opSetDest):
		why = "negative weight, or lower threshold above upper threshold"
	case errno == syscall.EINVAL && (op == opNewDest || op == opSetDest):
		why = "destination refused: not unicast, or mixed families without tunnelling (or with a sync daemon), or GUE without a port"
	case errno == syscall.EPERM:
		why = "IPVS needs CAP_NET_ADMIN"
	case errno == syscall.ENODEV && op == opStartDaemon:
		why = "no such interface"
	default:
		return err
	}
	return fmt.Errorf("%s: %w", why, err)
}
