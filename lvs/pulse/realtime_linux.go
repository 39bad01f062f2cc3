package pulse

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// realtime asks the scheduler to run the calling thread at real-time
// priority: SCHED_RR (a runaway shares the CPU with its peers rather than
// keeping it, as SCHED_FIFO would), at a modest priority that leaves the
// kernel's own real-time threads ahead of it.
func realtime() error {
	return unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_RR, Priority: rtPriority}, 0)
}

// rtPriority is the heartbeat thread's SCHED_RR priority (1-99).
const rtPriority = 10

// limitRTTime bounds the CPU time this process's real-time threads may
// take without blocking (RLIMIT_RTTIME): past it the kernel stops them.
func limitRTTime(d time.Duration) error {
	limit := uint64(d / time.Microsecond)
	return unix.Setrlimit(unix.RLIMIT_RTTIME, &unix.Rlimit{Cur: limit, Max: limit})
}

// realtimeProcess puts every thread of this process at the heartbeat's
// real-time priority; threads made later inherit it from their maker. Twice,
// for a thread made while the first pass ran.
func realtimeProcess() error {
	var err error
	for range 2 {
		tasks, rerr := os.ReadDir("/proc/self/task")
		if rerr != nil {
			return rerr
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(t.Name())
			if e := unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_RR, Priority: rtPriority}, 0); e != nil && !errors.Is(e, unix.ESRCH) {
				err = e
			}
		}
	}
	return err
}
