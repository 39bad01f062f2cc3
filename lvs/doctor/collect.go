package doctor

import "context"

// Snapshot is Facts read once, so that the checks can run later (after
// the command that collected them has given up root, say).
type Snapshot struct {
	ipvs     IPVS
	scheds   []string
	schedErr error
	eff      uint64
	effErr   error
	fwd      [2]fwd // IPv4, IPv6
	ifs      []string
	ifsErr   error
	rp       map[string]rp
	clock    Clock
	clockErr error
	peer     Peer
	db       Database
}

type fwd struct {
	on  bool
	err error
}

type rp struct {
	v   int
	err error
}

// Collect reads every fact of f now: rp_filter of every interface and of
// "all", forwarding of both families.
func Collect(ctx context.Context, f Facts) *Snapshot {
	s := &Snapshot{ipvs: f.IPVS(ctx), rp: map[string]rp{}}
	s.scheds, s.schedErr = f.Schedulers()
	s.eff, s.effErr = f.Effective()
	s.fwd[0].on, s.fwd[0].err = f.Forwarding(true)
	s.fwd[1].on, s.fwd[1].err = f.Forwarding(false)
	s.ifs, s.ifsErr = f.Interfaces()
	for _, dev := range append([]string{"all"}, s.ifs...) {
		v, err := f.RPFilter(dev)
		s.rp[dev] = rp{v, err}
	}
	s.clock, s.clockErr = f.Clock()
	s.peer = f.Peer(ctx)
	s.db = f.Database(ctx)
	return s
}

func (s *Snapshot) IPVS(context.Context) IPVS         { return s.ipvs }
func (s *Snapshot) Schedulers() ([]string, error)     { return s.scheds, s.schedErr }
func (s *Snapshot) Effective() (uint64, error)        { return s.eff, s.effErr }
func (s *Snapshot) Interfaces() ([]string, error)     { return s.ifs, s.ifsErr }
func (s *Snapshot) Clock() (Clock, error)             { return s.clock, s.clockErr }
func (s *Snapshot) Peer(context.Context) Peer         { return s.peer }
func (s *Snapshot) Database(context.Context) Database { return s.db }

func (s *Snapshot) Forwarding(ipv4 bool) (bool, error) {
	f := s.fwd[1]
	if ipv4 {
		f = s.fwd[0]
	}
	return f.on, f.err
}

func (s *Snapshot) RPFilter(dev string) (int, error) {
	r, ok := s.rp[dev]
	if !ok {
		return 0, errNoDevice
	}
	return r.v, r.err
}
