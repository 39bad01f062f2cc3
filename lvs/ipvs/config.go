package ipvs

import (
	"context"
	"fmt"
	"time"
)

// Info reads the IPVS version and connection table size.
func (c *Client) Info(ctx context.Context) (Info, error) {
	r := request{op: opInfo, cmd: cmdGetInfo, get: true}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return Info{}, err
	}
	i, err := decodeInfo(msgs[0])
	if err != nil {
		return Info{}, r.fail(fmt.Errorf("decode: %w", err))
	}
	return i, nil
}

// Timeouts reads the TCP, TCP FIN-WAIT and UDP connection timeouts.
func (c *Client) Timeouts(ctx context.Context) (Timeouts, error) {
	r := request{op: opTimeouts, cmd: cmdGetConfig, get: true}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return Timeouts{}, err
	}
	t, err := decodeTimeouts(msgs[0])
	if err != nil {
		return Timeouts{}, r.fail(fmt.Errorf("decode: %w", err))
	}
	return t, nil
}

// SetTimeouts sets the connection timeouts; a zero field leaves the
// kernel's value. They must be whole seconds.
func (c *Client) SetTimeouts(ctx context.Context, t Timeouts) error {
	_, err := c.do(ctx, request{op: opSetTimeouts, cmd: cmdSetConfig,
		encode: func(ae *attrBuf) error {
			for _, f := range []struct {
				attr uint16
				name string
				d    time.Duration
			}{
				{cmdAttrTimeoutTCP, "TCP", t.TCP},
				{cmdAttrTimeoutTCPFin, "TCP FIN", t.TCPFin},
				{cmdAttrTimeoutUDP, "UDP", t.UDP},
			} {
				if f.d == 0 {
					continue // leave it: the kernel ignores 0 too
				}
				// A fraction rounded away could leave 0, the value
				// that changes nothing.
				if f.d < 0 || f.d%time.Second != 0 || f.d/time.Second > 1<<31-1 {
					return fmt.Errorf("%s timeout %v is not a whole number of seconds in range", f.name, f.d)
				}
				ae.u32(f.attr, uint32(f.d/time.Second))
			}
			return nil
		}})
	return err
}

// Zero zeroes the counters and rates of one service and its destinations,
// or with nil of everything.
func (c *Client) Zero(ctx context.Context, k *ServiceKey) error {
	r := request{op: opZero, cmd: cmdZero}
	if k != nil {
		r.service = k
		r.encode = serviceKeyAttr(*k)
	}
	_, err := c.do(ctx, r)
	return err
}

// Flush deletes every service and destination in the namespace.
func (c *Client) Flush(ctx context.Context) error {
	_, err := c.do(ctx, request{op: opFlush, cmd: cmdFlush})
	return err
}
