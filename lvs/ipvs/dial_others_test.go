//go:build !linux

package ipvs_test

import (
	"errors"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Off Linux, Dial says IPVS needs Linux, as an error callers can branch on.
func TestDialNeedsLinux(t *testing.T) {
	c, err := ipvs.Dial(nil)
	if c != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Dial = %v, %v; want errors.ErrUnsupported", c, err)
	}
	t.Log(err)
}
