//go:build !linux

package drcheck

import (
	"context"
	"runtime"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// probe needs Linux's packet sockets and rtnetlink.
func probe(_ context.Context, t direct.Target, _ time.Duration) direct.Result {
	return direct.Result{Target: t, Outcome: direct.Failed, At: time.Now(),
		Detail: "the direct-routing check needs Linux (packet sockets), not " + runtime.GOOS}
}
