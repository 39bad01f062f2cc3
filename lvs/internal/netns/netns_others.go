//go:build !linux

package netns

import (
	"errors"
	"fmt"
	"runtime"
)

// Do fails off Linux, which alone has network namespaces.
func Do(name string, fn func() error) error {
	return fmt.Errorf("entering netns %s: network namespaces need Linux, not %s: %w", name, runtime.GOOS, errors.ErrUnsupported)
}

// DoFD fails off Linux, as Do.
func DoFD(fd int, fn func() error) error {
	return fmt.Errorf("entering a network namespace: network namespaces need Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
