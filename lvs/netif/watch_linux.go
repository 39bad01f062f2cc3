package netif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// WatchLinks reports link states on ch until ctx ends: first the current
// state of every link, then every change (RTNLGRP_LINK) of a link's
// existence, Up, name or MAC; a removed link is sent once with Exists
// false. Sending the current states first means no change can fall between
// a caller's Link and the start of the watch.
//
// It opens its own netlink sockets in the calling thread's namespace. It
// returns nil when ctx is done, or an error if a socket fails. If the
// kernel drops events because ch is read too slowly, it subscribes anew
// and reads every link again, so the last state sent for a link is always
// its current one.
func WatchLinks(ctx context.Context, ch chan<- LinkState) error {
	s := &subscription{}
	if err := s.subscribe(); err != nil {
		return fmt.Errorf("netif: watch links: %w", err)
	}
	defer s.close()
	dump, err := rtnetlink.Dial(nil)
	if err != nil {
		return fmt.Errorf("netif: watch links: %w", err)
	}
	defer dump.Close()

	stop := context.AfterFunc(ctx, func() {
		s.wake()
		dump.SetReadDeadline(longAgo)
	})
	defer stop()

	w := watcher{ctx: ctx, ch: ch, last: map[int]LinkState{}}
	if err := w.resync(dump); err != nil {
		return w.result(err)
	}
	for {
		rtmsgs, msgs, err := s.c.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, unix.ENOBUFS) {
				return fmt.Errorf("netif: watch links: %w", err)
			}
			// The kernel says so before the queue is read out: what is
			// still queued is older than a new dump and would undo it.
			if err := s.subscribe(); err != nil {
				return fmt.Errorf("netif: watch links: %w", err)
			}
			if err := w.resync(dump); err != nil {
				return w.result(err)
			}
			continue
		}
		for i, nm := range msgs {
			lm, ok := rtmsgs[i].(*rtnetlink.LinkMessage)
			if !ok || lm.Family != unix.AF_UNSPEC {
				continue // bridge port (AF_BRIDGE) notices repeat the link's
			}
			ls := linkState(lm)
			if nm.Header.Type == unix.RTM_DELLINK {
				ls.Exists, ls.Up = false, false
			}
			if err := w.send(ls); err != nil {
				return w.result(err)
			}
		}
	}
}

// subscription is the RTNLGRP_LINK socket, which is replaced after an
// overflow; c is read only by WatchLinks's goroutine, which alone sets it.
type subscription struct {
	mu    sync.Mutex
	c     *rtnetlink.Conn
	woken bool // ctx is done: every socket must stay unblocked
}

// subscribe opens a new socket and closes the old one. A dump must follow,
// so that a change made in between arrives as an event after it.
func (s *subscription) subscribe() error {
	c, err := rtnetlink.Dial(&netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.c
	s.c = c
	if s.woken {
		c.SetReadDeadline(longAgo)
	}
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (s *subscription) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.woken = true
	s.c.SetReadDeadline(longAgo)
}

func (s *subscription) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.Close()
}

// watcher remembers what was last sent for each link, to send changes only.
type watcher struct {
	ctx  context.Context
	ch   chan<- LinkState
	last map[int]LinkState
}

var errDone = errors.New("done")

func (w *watcher) result(err error) error {
	if errors.Is(err, errDone) || w.ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("netif: watch links: %w", err)
}

func (w *watcher) send(s LinkState) error {
	prev, seen := w.last[s.Index]
	if seen && prev.Exists == s.Exists && prev.Up == s.Up && prev.Device == s.Device && bytes.Equal(prev.MAC, s.MAC) {
		return nil
	}
	if !seen && !s.Exists {
		return nil // removed before it was ever reported
	}
	if s.Exists {
		w.last[s.Index] = s
	} else {
		delete(w.last, s.Index)
	}
	select {
	case w.ch <- s:
		return nil
	case <-w.ctx.Done():
		return errDone
	}
}

// resync reads every link and sends what differs from what was sent,
// including the removal of links that are gone.
func (w *watcher) resync(c *rtnetlink.Conn) error {
	links, err := c.Link.List()
	if err != nil {
		return err
	}
	present := map[int]bool{}
	for i := range links {
		s := linkState(&links[i])
		present[s.Index] = true
		if err := w.send(s); err != nil {
			return err
		}
	}
	for idx, s := range w.last {
		if !present[idx] {
			s.Exists, s.Up = false, false
			if err := w.send(s); err != nil {
				return err
			}
		}
	}
	return nil
}
