//go:build !linux

package ipvs

import (
	"errors"
	"fmt"
	"runtime"
)

// Dial fails off Linux, whose kernel IPVS is part of: the error wraps
// errors.ErrUnsupported.
func Dial(*Options) (*Client, error) {
	return nil, &Error{Op: opDial, Err: fmt.Errorf("IPVS needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)}
}
