package doctor

import (
	"context"
	"sync"
	"time"
)

// Cache bounds how often run runs, for a page that runs the checks at
// every load: one run at a time (a caller waits for the one under way)
// and a result kept for TTL.
type Cache struct {
	Run func(ctx context.Context) []Result
	TTL time.Duration
	Now func() time.Time // nil: time.Now

	mu   sync.Mutex
	at   time.Time
	last []Result
}

// Checks returns the last result when younger than TTL, else runs the
// checks. The result is shared: callers must not change it.
func (c *Cache) Checks(ctx context.Context) []Result {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && now().Sub(c.at) < c.TTL {
		return c.last
	}
	c.last = c.Run(ctx)
	c.at = now()
	return c.last
}
