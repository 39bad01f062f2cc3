//go:build !linux

package pulse

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// errNeedsLinux is Run's answer off Linux: the heartbeat thread waits in
// ppoll on an eventfd and reads the kernel's receive timestamps.
var errNeedsLinux = fmt.Errorf("pulse: the heartbeat needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)

// runState is never made off Linux: newRun refuses.
type runState struct {
	stop    atomic.Bool
	exited  chan struct{}
	err     error
	goodbye bool
}

func (n *Node) newRun() (*runState, error) { return nil, errNeedsLinux }
func (n *Node) beat(*runState)             {}
func (r *runState) close()                 {}
func (r *runState) wake()                  {}
func (r *runState) post(func(*mailbox))    {}
func (r *runState) await(chan error) error { return errRunEnded }
func limitRTTime(time.Duration) error      { return errNeedsLinux }
func realtimeProcess() error               { return errNeedsLinux }
