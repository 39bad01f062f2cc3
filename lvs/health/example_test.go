package health_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/health"
)

// A caller keys checkers by what identifies one check of one real server
// (here address and port; with lvs/check, add its Spec, which is
// comparable), adapts its probe, and rebuilds the table on Changes.
func Example() {
	type key struct {
		addr string
		port uint16
	}
	m := health.New[key](health.Options{})
	probe := func(ctx context.Context) health.Result {
		// r := check.Run(ctx, spec, target)
		// return health.Result{OK: r.OK, Reason: r.Reason, Latency: r.Latency}
		return health.Result{OK: true, Reason: "connected"}
	}
	m.Set(map[key]health.Checker{
		{"10.0.0.1", 80}: {Probe: probe, Policy: health.Policy{
			Interval: 100 * time.Millisecond, // piranha: timeout
			Failures: 3,
			Reentry:  300 * time.Millisecond, // piranha: reentry
		}},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)

	<-m.Changes() // rebuild the table here; Unknown and Down stay out
	st, _ := m.Status(key{"10.0.0.1", 80})
	fmt.Println(st.State, st.Reason)
	for _, tr := range m.Transitions(10) {
		fmt.Println(tr.Key.addr, tr.From, "->", tr.To)
	}
	// Output:
	// up connected
	// 10.0.0.1 unknown -> up
}
