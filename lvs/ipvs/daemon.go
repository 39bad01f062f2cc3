package ipvs

import (
	"context"
	"fmt"
)

// Daemons lists the running connection sync daemons (at most a master and
// a backup).
func (c *Client) Daemons(ctx context.Context) ([]Daemon, error) {
	r := request{op: opDaemons, cmd: cmdGetDaemon, dump: true}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]Daemon, 0, len(msgs))
	for i, m := range msgs {
		d, err := decodeDaemon(m)
		if err != nil {
			return nil, r.fail(fmt.Errorf("decode daemon %d: %w", i, err))
		}
		out = append(out, d)
	}
	return out, nil
}

// StartDaemon starts a sync daemon. One already running in that state is
// ErrExists. Zero optional fields take the kernel's defaults.
func (c *Client) StartDaemon(ctx context.Context, d Daemon) error {
	_, err := c.do(ctx, request{op: opStartDaemon, cmd: cmdNewDaemon,
		encode: func(ae *attrBuf) error { return encodeDaemon(ae, &d) }})
	return err
}

// StopDaemon stops the sync daemon in state s. One not running is
// ErrNotFound (ESRCH).
func (c *Client) StopDaemon(ctx context.Context, s DaemonState) error {
	_, err := c.do(ctx, request{op: opStopDaemon, cmd: cmdDelDaemon,
		encode: func(ae *attrBuf) error {
			return ae.nested(cmdAttrDaemon, func(nae *attrBuf) error {
				nae.u32(daemonAttrState, uint32(s))
				return nil
			})
		}})
	return err
}
