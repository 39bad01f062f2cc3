package ipvs

import (
	"context"

	"github.com/mdlayher/genetlink"
)

// SetBatchLimits sets what one datagram of c's batches may hold: bytes of
// messages, and the receive buffer their answers may fill (see ackCost).
// Tests use it to cut batches where they want them cut.
func SetBatchLimits(c *Client, bytes, ackBudget int) {
	c.batchBytes, c.ackBudget = bytes, ackBudget
}

// AckCost is ackCost, for tests that size batches.
var AckCost = ackCost

// RawDump returns, undecoded, the messages of a service dump and of the
// destination dump of service k: the decoding benchmarks' input.
func RawDump(ctx context.Context, c *Client, k ServiceKey) (svcs, dests []genetlink.Message, err error) {
	if svcs, err = c.do(ctx, request{op: opServices, cmd: cmdGetService, dump: true}); err != nil {
		return nil, nil, err
	}
	dests, err = c.do(ctx, request{op: opDests, cmd: cmdGetDest, dump: true, service: &k, encode: serviceKeyAttr(k)})
	return svcs, dests, err
}

// DecodeService and DecodeDest decode one message of a dump.
var (
	DecodeService = decodeService
	DecodeDest    = decodeDest
)
