package doctor

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCacheBounds: many loads at once run the checks once; a load after
// the TTL runs them again; never two at a time.
func TestCacheBounds(t *testing.T) {
	var runs, running, most atomic.Int32
	release := make(chan struct{})
	now := time.Unix(1000, 0)
	var clock sync.Mutex
	c := &Cache{TTL: 5 * time.Second, Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now },
		Run: func(context.Context) []Result {
			n := running.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			runs.Add(1)
			<-release
			running.Add(-1)
			return []Result{{Name: "x", Status: Pass}}
		}}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Checks(context.Background()) }()
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 || most.Load() != 1 {
		t.Errorf("20 loads at once: %d runs, at most %d at a time; want 1 and 1", runs.Load(), most.Load())
	}
	clock.Lock()
	now = now.Add(4 * time.Second)
	clock.Unlock()
	c.Checks(context.Background())
	if runs.Load() != 1 {
		t.Errorf("a load within the TTL ran the checks again (%d runs)", runs.Load())
	}
	clock.Lock()
	now = now.Add(2 * time.Second)
	clock.Unlock()
	if rs := c.Checks(context.Background()); runs.Load() != 2 || len(rs) != 1 {
		t.Errorf("a load past the TTL: %d runs, %v", runs.Load(), rs)
	}
}
