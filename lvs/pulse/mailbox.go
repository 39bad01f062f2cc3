package pulse

import "errors"

// mailbox holds what SetSerial, SetLink and Configure ask of a running
// node. One request of each kind at most: SetLink and Configure wait for
// their answer (under Node.mu), SetSerial's latest value wins.
type mailbox struct {
	serial    int64
	hasSerial bool
	link      *linkRequest
	conf      *confRequest
}

type linkRequest struct {
	ok    bool
	reply chan error
}

type confRequest struct {
	s     Settings
	reply chan error
}

// errRunEnded says the heartbeat thread ended before taking a request.
var errRunEnded = errors.New("pulse: Run ended")
