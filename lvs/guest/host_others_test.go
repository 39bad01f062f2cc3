//go:build !linux

package guest_test

import (
	"errors"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

func TestPreparedNeedsLinux(t *testing.T) {
	if err := guest.Prepared(""); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Prepared = %v, want errors.ErrUnsupported", err)
	}
}
