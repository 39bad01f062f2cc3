package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// DestinationsOf lists the destinations of every service of keys, as
// Destinations would one by one, out[i] those of keys[i].
//
// A full read of the table is one destination dump per service, and the
// kernel runs one dump at a time per socket (a second is refused with
// EBUSY) and, IPVS's generic netlink family not being parallel, one at a
// time on the whole machine (genl_mutex). Each dump costs a request, a
// read of its destinations and a read of its NLMSG_DONE, which the kernel
// makes only when the destinations have been read. On a socket of Dial,
// the next request goes out as soon as a service's destinations are read,
// and one recvmmsg takes the previous dump's NLMSG_DONE and the next
// dump's destinations together: two system calls per service instead of
// three.
func (c *Client) DestinationsOf(ctx context.Context, keys []ServiceKey) ([][]Destination, error) {
	out := make([][]Destination, len(keys))
	if c.nl != nil && c.deadlines {
		if rc, err := c.nl.SyscallConn(); err == nil {
			err := c.locked(ctx, func() error { return c.pipelinedDumps(rc, keys, out) })
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					err = &Error{Op: opDests, Err: err}
				}
			}
			if err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	for i, k := range keys {
		var err error
		if out[i], err = c.Destinations(ctx, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Netlink's fixed message types and the header sizes of the replies.
const (
	nlmsgError   = 2
	nlmsgDone    = 3
	genlHdrLen   = 4
	nlmsgFlagMul = 0x2
)

// pipelinedDumps runs the destination dumps of keys on rc, c's socket,
// under c's lock. Any error leaves the socket stale: answers may be left.
func (c *Client) pipelinedDumps(rc syscall.RawConn, keys []ServiceKey, out [][]Destination) (err error) {
	defer func() {
		if err != nil {
			c.stale = true
		}
	}()
	if len(keys) == 0 {
		return nil
	}
	send := func(i int) (uint32, error) {
		r := request{op: opDests, cmd: cmdGetDest, dump: true, service: &keys[i], encode: serviceKeyAttr(keys[i])}
		gm, err := c.message(&r)
		if err != nil {
			return 0, r.fail(err)
		}
		b, err := gm.MarshalBinary()
		if err != nil {
			return 0, r.fail(err)
		}
		c.requests.Add(1)
		c.messages.Add(1)
		m, err := c.nl.Send(netlink.Message{
			Header: netlink.Header{Type: netlink.HeaderType(c.family.ID), Flags: netlink.Request | netlink.Dump},
			Data:   b,
		})
		if err != nil {
			return 0, r.fail(err)
		}
		return m.Header.Sequence, nil
	}
	fail := func(i int, err error) error {
		return (&request{op: opDests, service: &keys[i]}).fail(err)
	}

	var rx mmsgReader
	cur := 0               // the dump being read
	curSeq, err := send(0) // its request's sequence number
	if err != nil {
		return err
	}
	next, nextSeq := -1, uint32(0) // a request sent ahead of cur's NLMSG_DONE
	for cur < len(keys) {
		dgs, err := rx.read(rc)
		if err != nil {
			return fail(cur, err)
		}
		for _, dg := range dgs {
			for len(dg) > 0 {
				if len(dg) < nlmsgHeaderLen {
					return fail(cur, fmt.Errorf("%d bytes of a netlink header", len(dg)))
				}
				n := int(binary.NativeEndian.Uint32(dg))
				typ := binary.NativeEndian.Uint16(dg[4:])
				seq := binary.NativeEndian.Uint32(dg[8:])
				if n < nlmsgHeaderLen || n > len(dg) {
					return fail(cur, fmt.Errorf("netlink message of %d bytes in %d", n, len(dg)))
				}
				body := dg[nlmsgHeaderLen:n]
				dg = dg[min((n+3)&^3, len(dg)):]

				switch {
				case seq == curSeq && typ == nlmsgDone:
					if len(body) >= 4 {
						if e := int32(binary.NativeEndian.Uint32(body)); e < 0 {
							return fail(cur, syscall.Errno(-e))
						}
					}
					cur++
					switch {
					case cur == len(keys):
					case next == cur:
						curSeq, next = nextSeq, -1
					default:
						if curSeq, err = send(cur); err != nil {
							return err
						}
					}
				case seq == curSeq && typ == nlmsgError:
					return fail(cur, errnoOf(body))
				case seq == curSeq:
					if len(body) < genlHdrLen {
						return fail(cur, fmt.Errorf("%d bytes of a generic netlink header", len(body)))
					}
					d, err := decodeDest(genetlink.Message{Data: body[genlHdrLen:]}, keys[cur].Family)
					if err != nil {
						return fail(cur, fmt.Errorf("decode destination %d: %w", len(out[cur]), err))
					}
					out[cur] = append(out[cur], d)
				case next >= 0 && seq == nextSeq && typ == nlmsgError:
					// Sent too early: cur's dump had more to say. Sent
					// again after its NLMSG_DONE.
					if e := errnoOf(body); !errors.Is(e, syscall.EBUSY) {
						return fail(next, e)
					}
					next = -1
				case next >= 0 && seq == nextSeq:
					// The next dump's answer, read ahead of cur's end:
					// cur's destinations were all read.
					return fail(cur, errors.New("a dump answered before the previous one ended"))
				default:
					return fail(cur, fmt.Errorf("unexpected netlink message (type %d, sequence %d)", typ, seq))
				}
			}
		}
		// cur's destinations are read (they come in one datagram unless
		// there are hundreds): ask for the next service's now, so that its
		// destinations come with cur's NLMSG_DONE. If cur had more, the
		// kernel refuses with EBUSY and it is asked again.
		if next < 0 && cur+1 < len(keys) && len(out[cur]) > 0 {
			next = cur + 1
			if nextSeq, err = send(next); err != nil {
				return err
			}
		}
	}
	return nil
}

// errTruncated is a datagram bigger than receiveBuffer.
var errTruncated = errors.New("netlink datagram truncated")

// errnoOf reads the errno of an NLMSG_ERROR's body.
func errnoOf(body []byte) error {
	if len(body) < 4 {
		return fmt.Errorf("netlink error of %d bytes", len(body))
	}
	e := int32(binary.NativeEndian.Uint32(body))
	if e == 0 {
		return errors.New("unexpected acknowledgement")
	}
	return syscall.Errno(-e)
}
