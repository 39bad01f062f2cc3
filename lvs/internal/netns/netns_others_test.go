//go:build !linux

package netns

import (
	"errors"
	"testing"
)

func TestDoNeedsLinux(t *testing.T) {
	ran := false
	err := Do("x", func() error { ran = true; return nil })
	if ran || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Do ran fn: %v, err %v; want errors.ErrUnsupported", ran, err)
	}
}
