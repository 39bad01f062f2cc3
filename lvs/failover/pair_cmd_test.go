//go:build linux

package failover_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPairCommandsDoNotBlock: commands that never let go of their output
// do not hold up failover. inactive_cmd leaves `sleep 20` holding its
// stdout, active_cmd leaves `sleep 600` (a daemon started without
// detaching); both ran synchronously in the failover loop, so the backup,
// busy with inactive_cmd, took over 20 s after the primary died, and an
// active director whose active_cmd left a daemon never stood down again.
//
//   - kill -9 the primary right after the backup stood by (its inactive_cmd
//     has just started): the backup's VIP is up within the deadtime's
//     reach, not after the command's 20 s;
//   - the primary comes back and, with preempt, takes over: the backup,
//     whose active_cmd left its daemon, stands down and drops the VIP.
func TestPairCommandsDoNotBlock(t *testing.T) {
	l := newLab(t)
	// The commands note their process groups, so that what a director
	// killed with -9 could not kill is killed at the end (registered
	// before the directors start, this cleanup runs after they are gone).
	pgids := filepath.Join(l.dir, "pgids")
	t.Cleanup(func() {
		b, _ := os.ReadFile(pgids)
		for _, f := range strings.Fields(string(b)) {
			if pgid, err := strconv.Atoi(f); err == nil && pgid > 1 {
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	})
	cfg := pairConfig(pairOpts{
		preempt:     true,
		activeCmd:   `"/usr/bin/sh -c 'echo $$ >> ` + pgids + `; /usr/bin/sleep 600 &'"`,
		inactiveCmd: `"/usr/bin/sh -c 'echo $$ >> ` + pgids + `; /usr/bin/sleep 20 &'"`,
	})
	for _, role := range []string{"a", "b"} {
		l.cli(role, cfg, "import", "-db", l.db(role), "-")
	}
	a, b := l.start("a"), l.start("b")
	a.await(t, 0, 20*time.Second, "msg=role", "role=active")
	b.await(t, 0, 20*time.Second, "msg=role", "role=standby")

	mb := b.mark()
	killed := a.kill()
	up := b.await(t, mb, 10*time.Second, "msg=\"address up\"", vip)
	t.Logf("kill -9 of the primary while the backup's inactive_cmd holds its output: VIP up on the backup after %v", up.Sub(killed).Round(time.Millisecond))
	b.await(t, mb, 10*time.Second, "msg=role", "role=active")

	mb = b.mark()
	restarted := time.Now()
	a = l.start("a")
	took := a.await(t, 0, 20*time.Second, "msg=role", "role=active")
	down := b.await(t, mb, 10*time.Second, "msg=role", "role=standby")
	t.Logf("the primary restarted: active after %v; the backup, whose active_cmd left a daemon, stood down after %v",
		took.Sub(restarted).Round(time.Millisecond), down.Sub(restarted).Round(time.Millisecond))
	b.await(t, mb, 10*time.Second, "msg=\"address down\"", vip)
	l.awaitVIPs("after preempt", true, false)
}
