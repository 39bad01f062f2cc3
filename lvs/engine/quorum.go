package engine

// Quorum, as keepalived's (check/ipwrapper.c, update_quorum_state and
// set_quorum_states): a virtual server is up while the weights of its up
// real servers add up to its quorum. Below quorum-hysteresis it is down:
// its sorry server, when it has one, replaces the real servers still up
// (quiesced ones stay, at weight 0, so that their connections finish);
// it is up again at quorum+hysteresis. piranha's sorry server "when no
// real server is up" is the case quorum 1, hysteresis 0.

// quorumState is whether a virtual server has its quorum.
type quorumState uint8

const (
	quorumUnknown quorumState = iota // not decided yet
	quorumHeld
	quorumLost
)

// quorumHeldNow decides whether a virtual server whose up real servers
// weigh sum has its quorum, after was. One that has it loses it below
// quorum-hysteresis, or when no weight is left at all; one without it, or
// not decided yet, has it from quorum+hysteresis (so that a start between
// the two is down, as keepalived starts).
func quorumHeldNow(was quorumState, sum, quorum, hysteresis int64) bool {
	if was == quorumHeld {
		return sum > 0 && sum >= quorum-hysteresis
	}
	return sum >= quorum+hysteresis
}

// memory is what the engine remembers between reconciles: each virtual
// server's quorum, for the hysteresis, and which real servers were up,
// for notify_up and notify_down. Entries of servers no longer in the
// configuration (or inactive) are forgotten.
type memory struct {
	quorum map[string]quorumState // by virtual server name
	up     map[string]*realsSeen  // by virtual server name
	gen    uint64                 // of the current desired: a server not seen in it is forgotten
}

// realsSeen are the real servers of one virtual server that memory knows,
// most often in the configuration's order: found by their index, not
// hashed (at 100,000 real servers a map by both names made a third of a
// reconcile).
type realsSeen struct {
	gen   uint64 // the virtual server was in this desired
	seen  int    // of reals, how many were seen in it
	reals []seen
}

type serverName struct{ virtual, real string }

// seen is what memory keeps of a real server: whether it was up, and in
// which desired it was last seen.
type seen struct {
	name string
	up   bool
	gen  uint64
}

func newMemory() *memory {
	return &memory{quorum: map[string]quorumState{}, up: map[string]*realsSeen{}}
}

// event is a transition that runs a program: a virtual server's quorum
// gained or lost, a real server up or down.
type event struct {
	Field   string // quorum_up, quorum_down, notify_up, notify_down
	Virtual string
	Real    string // "" for a quorum
	Command string // "" when none is configured
	Detail  string // for the log
}

// key is the runner's queue of ev: one program at a time per server.
func (ev event) key() serverName { return serverName{ev.Virtual, ev.Real} }
