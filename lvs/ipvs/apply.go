package ipvs

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
)

// OpKind is a kind of change.
type OpKind uint8

const (
	AddService OpKind = iota + 1
	EditService
	DeleteService
	AddDest
	EditDest
	DeleteDest
)

func (k OpKind) String() string {
	switch k {
	case AddService:
		return "AddService"
	case EditService:
		return "EditService"
	case DeleteService:
		return "DeleteService"
	case AddDest:
		return "AddDest"
	case EditDest:
		return "EditDest"
	case DeleteDest:
		return "DeleteDest"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one change of the table.
type Op struct {
	Kind    OpKind
	Service Service     // the whole service for AddService and EditService; its ServiceKey for the others
	Dest    Destination // for AddDest and EditDest; Addr and Port for DeleteDest
}

// request is what the single-op method would send for o.
func (o *Op) request() request {
	k := o.Service.ServiceKey
	switch o.Kind {
	case AddService:
		return serviceRequest(opNewService, cmdNewService, &o.Service)
	case EditService:
		return serviceRequest(opSetService, cmdSetService, &o.Service)
	case DeleteService:
		return deleteServiceRequest(k)
	case AddDest:
		return destRequest(opNewDest, cmdNewDest, k, &o.Dest, true)
	case EditDest:
		return destRequest(opSetDest, cmdSetDest, k, &o.Dest, true)
	case DeleteDest:
		return destRequest(opDelDest, cmdDelDest, k, &Destination{Addr: o.Dest.Addr, Port: o.Dest.Port}, false)
	}
	// Refused as an encoding error: never sent.
	return request{op: opApply, service: &k, encode: func(*attrBuf) error {
		return fmt.Errorf("unknown change %v", o.Kind)
	}}
}

const (
	// batchBytes bounds the messages of one datagram, well under the
	// socket's send buffer (net.core.wmem_default, 208 KiB): sendmsg
	// refuses a datagram bigger than the buffer with EMSGSIZE.
	batchBytes = 64 << 10
	// readBuffer is the receive buffer NewNetlink asks for.
	readBuffer = 1 << 20
	// receiveBuffer is the buffer one read fills: more than the 32 KiB
	// the kernel puts in a datagram (SKB_WITH_OVERHEAD(32768) in
	// netlink_recvmsg). A bigger datagram fails as truncated.
	receiveBuffer = 64 << 10
	// defaultReadBuffer is net.core.rmem_default of stock kernels, for a
	// socket that cannot tell its own.
	defaultReadBuffer = 212992
)

// ackCost bounds what the error answer to a message of n bytes takes of
// the receive buffer. The kernel answers every message of a datagram
// inside sendmsg, before the client can read any answer, and drops the
// answers that do not fit (netlink_attachskb): a datagram whose messages
// could all fail must fit its errors in the buffer. netlink_ack echoes the
// request (n bytes and 20 of nlmsgerr) with at most a few extended-ack
// attributes, and charges the skb's truesize: data and skb_shared_info
// (320 bytes) rounded up to a kmalloc size, a power of two, plus the
// sk_buff (256).
func ackCost(n int) int {
	const extack, shinfo, skbuff = 128, 320, 256
	data := (n + 20 + extack + 63) &^ 63
	return 1<<bits.Len(uint(data+shinfo-1)) + skbuff
}

// errLost is the outcome of a change whose answer the kernel dropped.
var errLost = fmt.Errorf("the kernel dropped its answer (receive buffer full): outcome unknown: %w", syscall.ENOBUFS)

// Apply makes the changes in order and returns one error per op (nil:
// done), each an *Error naming the op's service and destination, exactly
// as the single-op methods would. A change that fails does not stop the
// others: those that depend on it fail in turn.
//
// On a client of NewNetlink (or Dial) the changes go many to a datagram,
// which the kernel carries out in order. Only the last message of a
// datagram asks for an acknowledgement: the kernel answers the others
// only if they fail, and answers the last after them, so its answer ends
// the datagram's. Answers are matched to changes by sequence number. If
// ctx ends while a datagram is in flight, its changes that have no answer
// yet report ctx's error, although the kernel may have made them.
func (c *Client) Apply(ctx context.Context, ops []Op) []error {
	errs := make([]error, len(ops))
	if c.nl == nil || !c.deadlines {
		// One request per change. Batches need the netlink socket, and
		// deadlines to recover answers after an overrun.
		for i := range ops {
			_, errs[i] = c.do(ctx, ops[i].request())
		}
		return errs
	}

	var chunk []pending
	budget := c.ackBudget
	size, cost := 0, 0
	flush := func() {
		if c.applyChunk(ctx, chunk, errs) {
			budget /= 2 // ackCost was wrong: play safer
		}
		chunk, size, cost = chunk[:0], 0, 0
	}
	for i := range ops {
		r := ops[i].request()
		gm, err := c.message(&r)
		var b []byte
		if err == nil {
			b, err = gm.MarshalBinary()
		}
		if err != nil {
			errs[i] = r.fail(err)
			continue
		}
		n := nlmsgHeaderLen + len(b)
		if len(chunk) > 0 && (size+n > c.batchBytes || cost+ackCost(n) > budget) {
			flush()
		}
		chunk = append(chunk, pending{i: i, r: r, m: netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(c.family.ID), Flags: netlink.Request},
			Data:   b,
		}})
		size, cost = size+n, cost+ackCost(n)
	}
	if len(chunk) > 0 {
		flush()
	}
	return errs
}

// nlmsgHeaderLen is the size of struct nlmsghdr.
const nlmsgHeaderLen = 16

// pending is a change of a batch: its index in Apply's ops, its request
// and its message.
type pending struct {
	i int
	r request
	m netlink.Message
}

// applyChunk sends chunk in one datagram, acknowledgement asked of the
// last message only, and files the kernel's answers in errs. It reports
// whether answers were dropped for want of room in the receive buffer.
func (c *Client) applyChunk(ctx context.Context, chunk []pending, errs []error) (overrun bool) {
	msgs := make([]netlink.Message, len(chunk))
	for j := range chunk {
		msgs[j] = chunk[j].m
	}
	msgs[len(msgs)-1].Header.Flags |= netlink.Acknowledge
	answered := make([]bool, len(chunk))
	answer := func(j int, err error) {
		answered[j] = true
		if err != nil {
			errs[chunk[j].i] = chunk[j].r.fail(err)
		}
	}

	err := c.locked(ctx, func() error {
		c.requests.Add(1)
		c.messages.Add(uint64(len(msgs)))
		// SendMessages numbers the messages; the answers carry the
		// number of the message they answer.
		sent, err := c.nl.SendMessages(msgs)
		if err != nil {
			return err
		}
		bySeq := make(map[uint32]int, len(sent))
		for j, m := range sent {
			bySeq[m.Header.Sequence] = j
		}
		last := len(sent) - 1

		for {
			replies, err := c.nl.Receive()
			var oe *netlink.OpError
			switch {
			case err == nil:
				// An acknowledgement: only the last message asked.
				for _, m := range replies {
					if j, ok := bySeq[m.Header.Sequence]; ok && m.Header.Type == netlink.Error && j == last {
						answer(j, nil)
						return nil
					}
				}
			case errors.As(err, &oe) && isErrno(oe.Err):
				// A message's error: Receive returns it as an error.
				// Each is a datagram of its own, read one at a time.
				if j, ok := bySeq[oe.Sequence]; ok {
					answer(j, err)
					if j == last {
						return nil
					}
				}
			case errors.Is(err, syscall.ENOBUFS) && !overrun:
				// The socket lost answers, the last one among them (what
				// overflows is dropped until the queue is read empty).
				// What did fit is queued already: read it all.
				overrun = true
			case overrun && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil:
				return nil // all read
			default:
				return err
			}
			if overrun {
				d := time.Now().Add(drainWait)
				if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
					d = cd
				}
				if err := c.nl.SetReadDeadline(d); err != nil {
					return err
				}
			}
		}
	})
	for j := range chunk {
		switch {
		case answered[j]:
		case err != nil:
			answer(j, err)
		case overrun:
			answer(j, errLost)
		default:
			// Not answered: done. The kernel answers a message without
			// NLM_F_ACK only when it fails.
		}
	}
	return overrun
}

// isErrno tells an errno the kernel answered in an NLMSG_ERROR, which the
// netlink package leaves bare, from a failed system call's.
func isErrno(err error) bool {
	_, ok := err.(syscall.Errno)
	return ok
}
