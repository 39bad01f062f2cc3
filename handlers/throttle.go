package handlers

// Guessing passwords and the setup code.
//
// Each attempt is counted before the password is checked, so that parallel
// guesses cannot all get past the throttle before the first failure is
// recorded, and the checks themselves (argon2id: 19 MiB and tens of
// milliseconds of a core each) run a few at a time (hashGate).
//
// Failures are counted under three keys, each with its allowance; past it,
// each attempt waits twice as long as the one before, up to a ceiling:
//
//   - the pair (client, user): 5 free, up to 15 minutes. One address
//     guessing one name.
//   - the client alone: 20 free, up to 15 minutes. One address guessing
//     many names. Behind a NAT, someone else's mistakes lock another user
//     out only when the whole address has failed 20 times.
//   - the user name alone: 20 free, up to 1 minute. Many addresses
//     guessing one name. It must not let an attacker lock the real admin
//     out: so its ceiling is short, and it does not apply at all to an
//     address the user has logged in from (remembered for 30 days). Failing
//     for "admin" from elsewhere locks admin out of a new address for a
//     minute at a time, and not at all out of a known one.
//
// A success clears its pair and gives back the attempt it counted; an
// attempt that was never checked (no hash could run) is given back too.
// Failures are forgotten an hour after the last one. An IPv6 client counts
// as its /64, which one host usually holds whole. Each key's table holds at
// most maxThrottled entries: when one is full, the entry unused the longest
// goes. An attacker with more addresses than that can make the throttle
// forget; the hash gate still bounds what guessing costs.

import (
	"container/list"
	"context"
	"net/netip"
	"runtime"
	"sync"
	"time"
)

// limit is the allowance of one kind of key.
type limit struct {
	free int           // failures before any wait
	max  time.Duration // the longest wait
}

var (
	pairLimit   = limit{free: freeFailures, max: maxLockout}
	clientLimit = limit{free: 20, max: maxLockout}
	userLimit   = limit{free: 20, max: time.Minute}
)

const (
	freeFailures = 5
	maxLockout   = 15 * time.Minute
	forgetAfter  = time.Hour
	knownFor     = 30 * 24 * time.Hour
	maxThrottled = 4096 // entries per table
	// hashWait is how long an attempt may wait for a turn to hash.
	hashWait = 500 * time.Millisecond
)

// failures are the counted attempts of one key.
type failures struct {
	count int
	last  time.Time // of the last counted attempt
}

// wait is how long an attempt must wait under l at now.
func (f *failures) wait(l limit, now time.Time) time.Duration {
	if f == nil || f.count < l.free || now.Sub(f.last) > forgetAfter {
		return 0
	}
	lock := min(time.Second<<min(f.count-l.free, 20), l.max)
	return max(f.last.Add(lock).Sub(now), 0)
}

type pairKey struct {
	client netip.Prefix
	user   string
}

// throttle counts failed guesses; see the top of this file.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	pairs   *lru[pairKey, *failures]
	clients *lru[netip.Prefix, *failures]
	users   *lru[string, *failures]
	known   *lru[pairKey, time.Time] // pairs that logged in, and when
}

func newThrottle(now func() time.Time, size int) *throttle {
	return &throttle{
		now:     now,
		pairs:   newLRU[pairKey, *failures](size),
		clients: newLRU[netip.Prefix, *failures](size),
		users:   newLRU[string, *failures](size),
		known:   newLRU[pairKey, time.Time](size),
	}
}

// clientKey is the address a client is counted under: an IPv4 address,
// or an IPv6 address's /64.
func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// attempt counts an attempt of client for user and returns 0, or returns
// how long the client must wait first, counting nothing.
func (t *throttle) attempt(client netip.Addr, user string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	ck := clientKey(client)
	pk := pairKey{ck, user}
	pair, _ := t.pairs.get(pk)
	cl, _ := t.clients.get(ck)
	us, _ := t.users.get(user)
	wait := pair.wait(pairLimit, now)
	if at, ok := t.known.get(pk); !ok || now.Sub(at) > knownFor {
		wait = max(wait, cl.wait(clientLimit, now), us.wait(userLimit, now))
	}
	if wait > 0 {
		return wait
	}
	count := func(f *failures) *failures {
		if f == nil || now.Sub(f.last) > forgetAfter {
			f = &failures{}
		}
		f.count++
		f.last = now
		return f
	}
	t.pairs.put(pk, count(pair))
	t.clients.put(ck, count(cl))
	t.users.put(user, count(us))
	return 0
}

// succeed records a right guess: the pair's count goes, the address is
// known for user, and the attempt is given back to the client and user.
func (t *throttle) succeed(client netip.Addr, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ck := clientKey(client)
	t.pairs.del(pairKey{ck, user})
	t.known.put(pairKey{ck, user}, t.now())
	t.giveBack(ck, user)
}

// refund gives back an attempt that was counted but never checked.
func (t *throttle) refund(client netip.Addr, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ck := clientKey(client)
	if f, ok := t.pairs.get(pairKey{ck, user}); ok && f.count > 0 {
		f.count--
	}
	t.giveBack(ck, user)
}

func (t *throttle) giveBack(ck netip.Prefix, user string) {
	if f, ok := t.clients.get(ck); ok && f.count > 0 {
		f.count--
	}
	if f, ok := t.users.get(user); ok && f.count > 0 {
		f.count--
	}
}

// lru is a map of at most max entries that drops the least recently used
// one to make room.
type lru[K comparable, V any] struct {
	max   int
	order *list.List // of *lruEntry, most recent first
	m     map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), m: map[K]*list.Element{}}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	e, ok := c.m[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).val, true
}

func (c *lru[K, V]) put(k K, v V) {
	if e, ok := c.m[k]; ok {
		e.Value.(*lruEntry[K, V]).val = v
		c.order.MoveToFront(e)
		return
	}
	if c.order.Len() >= c.max {
		last := c.order.Back()
		delete(c.m, last.Value.(*lruEntry[K, V]).key)
		c.order.Remove(last)
	}
	c.m[k] = c.order.PushFront(&lruEntry[K, V]{k, v})
}

func (c *lru[K, V]) del(k K) {
	if e, ok := c.m[k]; ok {
		delete(c.m, k)
		c.order.Remove(e)
	}
}

func (c *lru[K, V]) len() int { return c.order.Len() }

// hashGate lets a few password hashes run at once, and a few more
// attempts wait a moment for their turn; any other attempt is refused at
// once. A hash takes 19 MiB and a core for tens of milliseconds: 100 at
// once took 2 GB.
type hashGate struct {
	slots   chan struct{} // one per running hash
	waiters chan struct{} // one per attempt waiting for a slot
	wait    time.Duration
}

// hashSlots is how many hashes run at once: one per core, 2 to 4.
func hashSlots() int { return min(max(runtime.GOMAXPROCS(0), 2), 4) }

func newHashGate(slots int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), waiters: make(chan struct{}, 4*slots), wait: wait}
}

// enter takes a slot, waiting for one at most g.wait; false when none
// came free, too many wait already, or ctx ended.
func (g *hashGate) enter(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case g.waiters <- struct{}{}:
		defer func() { <-g.waiters }()
	default:
		return false
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (g *hashGate) leave() { <-g.slots }
