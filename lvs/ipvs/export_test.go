package ipvs

// SetBatchLimits sets what one datagram of c's batches may hold: bytes of
// messages, and the receive buffer their answers may fill (see ackCost).
// Tests use it to cut batches where they want them cut.
func SetBatchLimits(c *Client, bytes, ackBudget int) {
	c.batchBytes, c.ackBudget = bytes, ackBudget
}

// AckCost is ackCost, for tests that size batches.
var AckCost = ackCost
