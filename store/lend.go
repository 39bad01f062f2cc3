package store

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// lent watches, when a test asks for it (GuardShared), what the store lends
// rather than copies (SharedConfig, SharedDraft): its readers share it, so
// one that changed it would change every other's. Each lent configuration
// has a digest, checked whenever anything is lent again and by
// SharedChanged.
type lent struct {
	mu     sync.Mutex
	on     bool
	sums   map[*config.Config][sha256.Size]byte
	order  []*config.Config // oldest first: the last lentWatched are watched
	broken []string
}

// lentWatched bounds the configurations watched: each is checked a last
// time as it leaves, so a test's thousand edits do not cost a million
// encodings.
const lentWatched = 16

// GuardShared makes the store check that no reader changes a configuration
// it lent; SharedChanged says whether one did. For tests: each check
// encodes every configuration lent so far.
func (s *Store) GuardShared() {
	s.lent.mu.Lock()
	s.lent.on = true
	s.lent.sums = map[*config.Config][sha256.Size]byte{}
	s.lent.mu.Unlock()
}

// SharedChanged returns an error naming the configurations lent and
// changed since (nil: none, or GuardShared was not called).
func (s *Store) SharedChanged() error {
	s.lent.mu.Lock()
	defer s.lent.mu.Unlock()
	s.lent.check()
	if len(s.lent.broken) > 0 {
		return fmt.Errorf("a reader changed a configuration the store lent: %v", s.lent.broken)
	}
	return nil
}

func (s *Store) lend(c *config.Config) {
	s.lent.mu.Lock()
	defer s.lent.mu.Unlock()
	if !s.lent.on || c == nil {
		return
	}
	s.lent.check()
	if _, ok := s.lent.sums[c]; !ok {
		s.lent.sums[c] = digest(c)
		s.lent.order = append(s.lent.order, c)
		if len(s.lent.order) > lentWatched {
			delete(s.lent.sums, s.lent.order[0]) // checked just now
			s.lent.order = s.lent.order[1:]
		}
	}
}

// check records the lent configurations whose digest changed (once each).
func (l *lent) check() {
	for c, sum := range l.sums {
		if now := digest(c); now != sum {
			l.broken = append(l.broken, fmt.Sprintf("serial %d", c.Serial))
			l.sums[c] = now
		}
	}
}

func digest(c *config.Config) [sha256.Size]byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a configuration always encodes: revisions store it so
	}
	return sha256.Sum256(b)
}
