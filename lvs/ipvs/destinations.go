package ipvs

import (
	"context"
	"fmt"
)

// Destinations lists a service's destinations (a GET_DEST dump), newest
// first as the kernel keeps them. The kernel answers an empty list, not an
// error, for a service that does not exist: use Service to tell the two
// apart.
func (c *Client) Destinations(ctx context.Context, k ServiceKey) ([]Destination, error) {
	r := request{op: opDests, cmd: cmdGetDest, dump: true, service: &k,
		encode: serviceKeyAttr(k)}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]Destination, 0, len(msgs))
	for i, m := range msgs {
		d, err := decodeDest(m, k.Family)
		if err != nil {
			return nil, r.fail(fmt.Errorf("decode destination %d: %w", i, err))
		}
		out = append(out, d)
	}
	return out, nil
}

// NewDestination adds a destination to a service. The counters are
// ignored; the tunnel fields are sent only for Tunnel forwarding.
func (c *Client) NewDestination(ctx context.Context, k ServiceKey, d Destination) error {
	_, err := c.do(ctx, destRequest(opNewDest, cmdNewDest, k, &d, true))
	return err
}

// UpdateDestination edits a destination in place (SET_DEST): forwarding,
// weight, thresholds, tunnel. Its connections stay.
func (c *Client) UpdateDestination(ctx context.Context, k ServiceKey, d Destination) error {
	_, err := c.do(ctx, destRequest(opSetDest, cmdSetDest, k, &d, true))
	return err
}

// DeleteDestination removes a destination from a service.
func (c *Client) DeleteDestination(ctx context.Context, k ServiceKey, dk DestKey) error {
	_, err := c.do(ctx, destRequest(opDelDest, cmdDelDest, k, &Destination{Addr: dk.Addr, Port: dk.Port}, false))
	return err
}

// destRequest is NEW_DEST, SET_DEST (full) or DEL_DEST of d in service k.
func destRequest(op string, cmd uint8, k ServiceKey, d *Destination, full bool) request {
	dk := d.Key()
	return request{op: op, cmd: cmd, service: &k, dest: &dk,
		encode: func(ae *attrBuf) error {
			if err := serviceKeyAttr(k)(ae); err != nil {
				return err
			}
			return encodeDest(ae, d, full)
		}}
}
