package ipvstest

// This file mirrors the generic netlink half of
// net/netfilter/ipvs/ip_vs_ctl.c (and the parts of ip_vs_sync.c and of the
// netlink core that decide its answers). Each check names the kernel
// function it comes from. The numbers are restated from
// include/uapi/linux/ip_vs.h rather than shared with package ipvs, so that
// a wrong number on either side shows.

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"syscall"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Commands (enum IPVS_CMD_*).
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11
	cmdSetConfig  = 12
	cmdGetConfig  = 13
	cmdSetInfo    = 14
	cmdGetInfo    = 15
	cmdZero       = 16
	cmdFlush      = 17
)

// Attributes (enum IPVS_CMD_ATTR_*, IPVS_SVC_ATTR_*, IPVS_DEST_ATTR_*,
// IPVS_DAEMON_ATTR_*, IPVS_STATS_ATTR_*, IPVS_INFO_ATTR_*).
const (
	aService    = 1
	aDest       = 2
	aDaemon     = 3
	aTimeoutTCP = 4
	aTimeoutFin = 5
	aTimeoutUDP = 6

	sAF       = 1
	sProtocol = 2
	sAddr     = 3
	sPort     = 4
	sFWMark   = 5
	sSched    = 6
	sFlags    = 7
	sTimeout  = 8
	sNetmask  = 9
	sStats    = 10
	sPEName   = 11
	sStats64  = 12

	dAddr     = 1
	dPort     = 2
	dFwd      = 3
	dWeight   = 4
	dUThresh  = 5
	dLThresh  = 6
	dActive   = 7
	dInact    = 8
	dPersist  = 9
	dStats    = 10
	dFamily   = 11
	dStats64  = 12
	dTunType  = 13
	dTunPort  = 14
	dTunFlags = 15

	yState  = 1
	yIfn    = 2
	ySyncID = 3
	yMaxLen = 4
	yGroup  = 5
	yGroup6 = 6
	yPort   = 7
	yTTL    = 8

	stConns    = 1
	stInBytes  = 4
	stOutBytes = 5

	infoVersion = 1
	infoTabSize = 2
)

const (
	afINET  = 2
	afINET6 = 10

	svcFHashed   = 0x2 // IP_VS_SVC_F_HASHED
	connFwdMask  = 0x7 // IP_VS_CONN_F_FWD_MASK
	connFTunnel  = 0x2 // IP_VS_CONN_F_TUNNEL
	tunTypeGUE   = 1   // IP_VS_CONN_F_TUNNEL_TYPE_GUE
	stateMaster  = 1
	stateBackup  = 2
	nameMax      = 16         // IP_VS_SCHEDNAME_MAXLEN and friends, NUL included
	versionCode  = 0x010201   // IP_VS_VERSION_CODE
	connTabSize  = 1 << 12    // ip_vs_conn_tab_bits defaults to 12
	syncPort     = 8848       // IP_VS_SYNC_PORT
	hz           = 250        // CONFIG_HZ of Debian's kernels; timeouts are kept in jiffies
	intMax       = 1<<31 - 1  // INT_MAX
	ipprotoTCP   = 6          // IPPROTO_TCP, the protocol of fwmark services
	genlHdrLen   = 4          // GENL_HDRLEN
	nlaTypeMask  = 0x3fff     // NLA_TYPE_MASK: drops NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nlaHeaderLen = 4          // NLA_HDRLEN
	syncGroup4   = 0xe0000051 // IP_VS_SYNC_GROUP, 224.0.0.81
)

// The attribute policies: ip_vs_cmd_policy, ip_vs_svc_policy,
// ip_vs_dest_policy and ip_vs_daemon_policy.
var (
	cmdPolicy = policy{
		aService: {kind: nlaNested}, aDest: {kind: nlaNested}, aDaemon: {kind: nlaNested},
		aTimeoutTCP: {kind: nlaU32}, aTimeoutFin: {kind: nlaU32}, aTimeoutUDP: {kind: nlaU32},
	}
	svcPolicy = policy{
		sAF: {kind: nlaU16}, sProtocol: {kind: nlaU16},
		sAddr: {kind: nlaBinary, len: 16}, // sizeof(union nf_inet_addr)
		sPort: {kind: nlaU16}, sFWMark: {kind: nlaU32},
		sSched:   {kind: nlaNulString, len: nameMax - 1},
		sPEName:  {kind: nlaNulString, len: nameMax - 1},
		sFlags:   {kind: nlaBinary, len: 8}, // sizeof(struct ip_vs_flags)
		sTimeout: {kind: nlaU32}, sNetmask: {kind: nlaU32}, sStats: {kind: nlaNested},
	}
	destPolicy = policy{
		dAddr: {kind: nlaBinary, len: 16}, dPort: {kind: nlaU16},
		dFwd: {kind: nlaU32}, dWeight: {kind: nlaU32},
		dUThresh: {kind: nlaU32}, dLThresh: {kind: nlaU32},
		dActive: {kind: nlaU32}, dInact: {kind: nlaU32}, dPersist: {kind: nlaU32},
		dStats: {kind: nlaNested}, dFamily: {kind: nlaU16},
		dTunType: {kind: nlaU8}, dTunPort: {kind: nlaU16}, dTunFlags: {kind: nlaU16},
	}
	daemonPolicy = policy{
		yState: {kind: nlaU32}, yIfn: {kind: nlaNulString, len: nameMax - 1},
		ySyncID: {kind: nlaU32}, yMaxLen: {kind: nlaU16},
		yGroup: {kind: nlaU32}, yGroup6: {kind: nlaUnspec, len: 16},
		yPort: {kind: nlaU16}, yTTL: {kind: nlaU8},
	}
)

// ops is ip_vs_genl_ops: which commands have a doit, which a dumpit.
// Anything else is EOPNOTSUPP (genl_family_rcv_msg).
var ops = map[uint8]struct{ doit, dumpit bool }{
	cmdNewService: {doit: true}, cmdSetService: {doit: true}, cmdDelService: {doit: true},
	cmdGetService: {doit: true, dumpit: true},
	cmdNewDest:    {doit: true}, cmdSetDest: {doit: true}, cmdDelDest: {doit: true},
	cmdGetDest:   {dumpit: true},
	cmdNewDaemon: {doit: true}, cmdDelDaemon: {doit: true}, cmdGetDaemon: {dumpit: true},
	cmdSetConfig: {doit: true}, cmdGetConfig: {doit: true}, cmdGetInfo: {doit: true},
	cmdZero: {doit: true}, cmdFlush: {doit: true},
}

// answer is what the kernel makes of one request: an errno, or replies
// (one for a doit GET, any number for a dump).
type answer struct {
	errno   syscall.Errno
	replies []genetlink.Message
	dump    bool
}

// serveIPVS handles a request to the IPVS family, as genl_family_rcv_msg
// and then ip_vs_genl_set_cmd, ip_vs_genl_get_cmd, ip_vs_genl_set_daemon
// or a dumpit would. Called with k.mu held.
func (k *Kernel) serveIPVS(req netlink.Message) (Request, answer) {
	var gm genetlink.Message
	if err := gm.UnmarshalBinary(req.Data); err != nil {
		return Request{}, answer{errno: syscall.EINVAL}
	}
	dump := req.Header.Flags&netlink.Dump == netlink.Dump
	r := Request{Cmd: gm.Header.Command, Dump: dump}
	r.Service, r.Dest = k.describe(gm.Data)

	op, ok := ops[gm.Header.Command]
	switch {
	case !ok, dump && !op.dumpit, !dump && !op.doit:
		return r, answer{errno: syscall.EOPNOTSUPP}
	}
	if f := k.failures[r.Cmd]; f != nil && f.times > 0 {
		f.times--
		return r, answer{errno: f.errno}
	}

	if dump {
		// GENL_DONT_VALIDATE_DUMP: the dumpits parse what they need.
		switch r.Cmd {
		case cmdGetService:
			return r, answer{dump: true, replies: k.dumpServices()}
		case cmdGetDest:
			return r, answer{dump: true, replies: k.dumpDests(gm.Data)}
		default:
			return r, answer{dump: true, replies: k.dumpDaemons()}
		}
	}

	// genl_family_rcv_msg_attrs_parse: the family policy, leniently.
	a, errno := parse(gm.Data, cmdPolicy)
	if errno != 0 {
		return r, answer{errno: errno}
	}
	switch r.Cmd {
	case cmdGetService, cmdGetConfig, cmdGetInfo:
		m, errno := k.getCmd(r.Cmd, a)
		if errno != 0 {
			return r, answer{errno: errno}
		}
		return r, answer{replies: []genetlink.Message{m}}
	case cmdNewDaemon, cmdDelDaemon:
		return r, answer{errno: k.setDaemon(r.Cmd, a)}
	default:
		return r, answer{errno: k.setCmd(r.Cmd, a)}
	}
}

// usvc is struct ip_vs_service_user_kern.
type usvc struct {
	key     ipvs.ServiceKey
	flags   uint32
	sched   string
	pe      string
	timeout uint32
	netmask [4]byte // __be32 as sent; an IPv6 prefix length in host order
}

// parseService is ip_vs_genl_parse_service: it decodes the nested SERVICE
// attribute and finds the service it names.
func (k *Kernel) parseService(nla []byte, present, full bool) (usvc, *service, syscall.Errno) {
	var u usvc
	if !present {
		return u, nil, syscall.EINVAL
	}
	a, errno := parse(nla, svcPolicy)
	if errno != 0 {
		return u, nil, syscall.EINVAL // nla_parse_nested failed: -EINVAL whatever it said
	}
	af, okAF := a[sAF]
	fw, okFW := a[sFWMark]
	_, okAddr := a[sAddr]
	_, okPort := a[sPort]
	_, okProto := a[sProtocol]
	if !okAF || !(okFW || (okPort && okProto && okAddr)) {
		return u, nil, syscall.EINVAL
	}
	u.key.Family = u16(af)
	if u.key.Family != afINET && u.key.Family != afINET6 { // ip_vs_is_af_valid
		return u, nil, syscall.EAFNOSUPPORT
	}
	if okFW {
		u.key.FWMark = u32(fw)
	}
	if u.key.FWMark == 0 {
		// A FWMARK of 0 falls through to an address lookup of TCP,
		// address zero, port 0: the kernel's memset leaves those.
		u.key.Protocol = ipprotoTCP
		u.key.Addr = addrOf(u.key.Family, nil)
		if !okFW {
			u.key.Protocol = ipvs.Protocol(u16(a[sProtocol]))
			u.key.Addr = addrOf(u.key.Family, a[sAddr])
			u.key.Port = be16(a[sPort]) // nla_get_be16
		}
	}
	svc := k.byKey[u.key]

	if full {
		sched, ok1 := a[sSched]
		flags, ok2 := a[sFlags]
		timeout, ok3 := a[sTimeout]
		netmask, ok4 := a[sNetmask]
		if !(ok1 && ok2 && ok3 && ok4) {
			return u, svc, syscall.EINVAL
		}
		var f [8]byte // nla_memcpy zero-fills a short attribute
		copy(f[:], flags)
		set, mask := binary.NativeEndian.Uint32(f[0:4]), binary.NativeEndian.Uint32(f[4:8])
		if svc != nil { // "prefill flags from service if it already exists"
			u.flags = svc.flags
		}
		u.flags = u.flags&^mask | set&mask
		u.sched = cstring(sched)
		u.pe = cstring(a[sPEName])
		u.timeout = u32(timeout)
		copy(u.netmask[:], netmask) // nla_get_be32: the bytes as they are
	}
	return u, svc, 0
}

// udest is struct ip_vs_dest_user_kern.
type udest struct {
	af        uint16
	addr      [16]byte
	port      uint16
	connFlags uint32
	weight    int32
	uThresh   uint32
	lThresh   uint32
	tunType   uint8
	tunPort   uint16
	tunFlags  uint16
}

// parseDest is ip_vs_genl_parse_dest.
func parseDest(nla []byte, present, full bool) (udest, syscall.Errno) {
	var u udest
	if !present {
		return u, syscall.EINVAL
	}
	a, errno := parse(nla, destPolicy)
	if errno != 0 {
		return u, syscall.EINVAL
	}
	addr, ok1 := a[dAddr]
	port, ok2 := a[dPort]
	if !ok1 || !ok2 {
		return u, syscall.EINVAL
	}
	copy(u.addr[:], addr)
	u.port = be16(port)
	if f, ok := a[dFamily]; ok {
		u.af = u16(f)
	}
	if full {
		fwd, ok1 := a[dFwd]
		weight, ok2 := a[dWeight]
		uth, ok3 := a[dUThresh]
		lth, ok4 := a[dLThresh]
		if !(ok1 && ok2 && ok3 && ok4) {
			return u, syscall.EINVAL
		}
		u.connFlags = u32(fwd) & connFwdMask
		u.weight = int32(u32(weight))
		u.uThresh = u32(uth)
		u.lThresh = u32(lth)
		if b, ok := a[dTunType]; ok {
			u.tunType = b[0]
		}
		if b, ok := a[dTunPort]; ok {
			u.tunPort = be16(b) // nla_get_be16
		}
		if b, ok := a[dTunFlags]; ok {
			u.tunFlags = u16(b)
		}
	}
	return u, 0
}

// setCmd is ip_vs_genl_set_cmd.
func (k *Kernel) setCmd(cmd uint8, a attrs) syscall.Errno {
	switch {
	case cmd == cmdFlush:
		k.flush()
		return 0
	case cmd == cmdSetConfig:
		return k.setConfig(a)
	case cmd == cmdZero && a[aService] == nil:
		k.zeroAll()
		return 0
	}

	full := cmd == cmdNewService || cmd == cmdSetService
	nla, present := a[aService]
	u, svc, errno := k.parseService(nla, present, full)
	if errno != 0 {
		return errno
	}
	// "Unless we're adding a new service, the service must already exist"
	if cmd != cmdNewService && svc == nil {
		return syscall.ESRCH
	}

	var ud udest
	if cmd == cmdNewDest || cmd == cmdSetDest || cmd == cmdDelDest {
		nla, present := a[aDest]
		if ud, errno = parseDest(nla, present, cmd != cmdDelDest); errno != 0 {
			return errno
		}
		if ud.af == 0 { // old clients send no family: the service's
			ud.af = svc.key.Family
		}
		if ud.af != afINET && ud.af != afINET6 {
			return syscall.EAFNOSUPPORT
		}
		if ud.af != svc.key.Family && cmd != cmdDelDest {
			// "The synchronization protocol is incompatible with
			// mixed family services"
			if k.syncState() != 0 {
				return syscall.EINVAL
			}
			if ud.connFlags != connFTunnel {
				return syscall.EINVAL
			}
		}
	}

	switch cmd {
	case cmdNewService:
		if svc != nil {
			return syscall.EEXIST
		}
		return k.addService(&u)
	case cmdSetService:
		return k.editService(svc, &u)
	case cmdDelService:
		k.delService(svc)
		return 0
	case cmdNewDest:
		return k.addDest(svc, &ud)
	case cmdSetDest:
		return k.editDest(svc, &ud)
	case cmdDelDest:
		return k.delDest(svc, &ud)
	case cmdZero:
		svc.zero()
		return 0
	}
	return syscall.EINVAL
}

// checkService holds the checks ip_vs_add_service and ip_vs_edit_service
// share, in their order.
func (k *Kernel) checkService(u *usvc) syscall.Errno {
	if u.sched != "none" && !k.schedulers[u.sched] { // ip_vs_scheduler_get
		return syscall.ENOENT
	}
	if u.pe != "" && u.pe != "sip" { // ip_vs_pe_getbyname: sip is the only one
		return syscall.ENOENT
	}
	if u.key.Family == afINET6 {
		plen := binary.NativeEndian.Uint32(u.netmask[:]) // (__force __u32) u->netmask
		if plen < 1 || plen > 128 {
			return syscall.EINVAL
		}
	}
	return 0
}

// addService is ip_vs_add_service.
func (k *Kernel) addService(u *usvc) syscall.Errno {
	if errno := k.checkService(u); errno != 0 {
		return errno
	}
	svc := &service{key: u.key}
	svc.set(u)
	svc.flags = u.flags&^svcFHashed | svcFHashed // ip_vs_svc_hash sets HASHED
	k.byKey[svc.key] = svc
	k.services = append(k.services, svc)
	return 0
}

// editService is ip_vs_edit_service.
func (k *Kernel) editService(svc *service, u *usvc) syscall.Errno {
	if errno := k.checkService(u); errno != 0 {
		return errno
	}
	svc.set(u)
	svc.flags = u.flags | svcFHashed
	return 0
}

func (s *service) set(u *usvc) {
	s.sched = u.sched
	s.pe = u.pe                // none unbinds the engine
	s.timeout = u.timeout * hz // jiffies, unsigned: wraps as the kernel's does
	s.netmask = u.netmask
}

// delService is ip_vs_del_service.
func (k *Kernel) delService(svc *service) {
	for _, d := range svc.dests {
		if d.af != svc.key.Family {
			k.mixed--
		}
	}
	delete(k.byKey, svc.key)
	for i, s := range k.services {
		if s == svc {
			k.services = append(k.services[:i], k.services[i+1:]...)
			break
		}
	}
}

// flush is ip_vs_flush.
func (k *Kernel) flush() {
	clear(k.byKey)
	k.services = nil
	k.mixed = 0
}

// checkDest holds the checks ip_vs_add_dest and ip_vs_edit_dest share.
func checkDest(u *udest) syscall.Errno {
	if u.weight < 0 {
		return syscall.ERANGE // "server weight less than zero"
	}
	if u.lThresh > u.uThresh {
		return syscall.ERANGE // "lower threshold is higher than upper threshold"
	}
	if u.tunType == tunTypeGUE && u.tunPort == 0 {
		return syscall.EINVAL // "tunnel port is zero"
	}
	return 0
}

// addDest is ip_vs_add_dest and ip_vs_new_dest. The destination trash
// (deleted destinations kept while connections use them) is not modelled.
func (k *Kernel) addDest(svc *service, u *udest) syscall.Errno {
	if errno := checkDest(u); errno != 0 {
		return errno
	}
	addr := addrOf(u.af, u.addr[:])
	if svc.dest(u.af, addr, u.port) != nil {
		return syscall.EEXIST
	}
	if !unicast(addr) {
		return syscall.EINVAL
	}
	d := &dest{af: u.af, addr: addr, port: u.port}
	d.set(u)
	// __ip_vs_update_dest: list_add_rcu puts it at the head, so dumps
	// list the newest first.
	svc.dests = append([]*dest{d}, svc.dests...)
	if d.af != svc.key.Family {
		k.mixed++
	}
	return 0
}

// unicast is the address-class part of ip_vs_new_dest's check. The kernel
// asks inet_addr_type, which also consults the routing table (a subnet's
// broadcast address is refused); ipv6_addr_type refuses link-local
// addresses unless they are local. The fake has no routes and no local
// addresses, only the classes.
func unicast(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		return b[0] != 0 && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	return !a.IsUnspecified() && !a.IsMulticast() && !a.IsLinkLocalUnicast() && !a.Is4In6()
}

// editDest is ip_vs_edit_dest.
func (k *Kernel) editDest(svc *service, u *udest) syscall.Errno {
	if errno := checkDest(u); errno != 0 {
		return errno
	}
	d := svc.dest(u.af, addrOf(u.af, u.addr[:]), u.port)
	if d == nil {
		return syscall.ENOENT
	}
	d.set(u)
	return 0
}

func (d *dest) set(u *udest) {
	d.fwd = u.connFlags & connFwdMask
	d.weight = u.weight
	d.uThresh, d.lThresh = u.uThresh, u.lThresh
	d.tunType, d.tunPort, d.tunFlags = u.tunType, u.tunPort, u.tunFlags
}

// delDest is ip_vs_del_dest.
func (k *Kernel) delDest(svc *service, u *udest) syscall.Errno {
	addr := addrOf(u.af, u.addr[:])
	for i, d := range svc.dests {
		if d.af == u.af && d.addr == addr && d.port == u.port {
			svc.dests = append(svc.dests[:i], svc.dests[i+1:]...)
			if d.af != svc.key.Family {
				k.mixed--
			}
			return 0
		}
	}
	return syscall.ENOENT
}

// zero is ip_vs_zero_service: the service's counters and its
// destinations'. Rates go too (ip_vs_zero_estimator); connections stay.
func (s *service) zero() {
	s.stats = ipvs.Stats{}
	for _, d := range s.dests {
		d.stats = ipvs.Stats{}
	}
}

// zeroAll is ip_vs_zero_all.
func (k *Kernel) zeroAll() {
	for _, s := range k.services {
		s.zero()
	}
}

// setConfig is ip_vs_genl_set_config and ip_vs_set_timeout. The values go
// through a C int: a u32 above INT_MAX is negative and refused.
func (k *Kernel) setConfig(a attrs) syscall.Errno {
	t := k.timeouts
	for i, attr := range []uint16{aTimeoutTCP, aTimeoutFin, aTimeoutUDP} {
		if b, ok := a[attr]; ok {
			t[i] = int32(u32(b))
		}
	}
	for _, v := range t {
		if v < 0 || v > intMax/hz {
			return syscall.EINVAL
		}
	}
	for i, v := range t {
		if v != 0 { // 0 leaves the value as it is
			k.timeouts[i] = v
		}
	}
	return 0
}

// getCmd is ip_vs_genl_get_cmd: GET_SERVICE answers NEW_SERVICE, GET_INFO
// SET_INFO and GET_CONFIG SET_CONFIG.
func (k *Kernel) getCmd(cmd uint8, a attrs) (genetlink.Message, syscall.Errno) {
	var m skb
	var reply uint8
	switch cmd {
	case cmdGetService:
		reply = cmdNewService
		nla, present := a[aService]
		_, svc, errno := k.parseService(nla, present, false) // ip_vs_genl_find_service
		if errno != 0 {
			return genetlink.Message{}, errno
		}
		if svc == nil {
			return genetlink.Message{}, syscall.ESRCH
		}
		svc.fill(&m)
	case cmdGetConfig:
		reply = cmdSetConfig
		m.u32(aTimeoutTCP, uint32(k.timeouts[0]))
		m.u32(aTimeoutFin, uint32(k.timeouts[1]))
		m.u32(aTimeoutUDP, uint32(k.timeouts[2]))
	case cmdGetInfo:
		reply = cmdSetInfo
		m.u32(infoVersion, versionCode)
		m.u32(infoTabSize, connTabSize)
	}
	return m.message(reply), 0
}

// dumpServices is ip_vs_genl_dump_services: the table hashed by protocol,
// address and port first, then the one hashed by firewall mark. Within
// each the fake keeps the order of creation, the kernel its hash order.
func (k *Kernel) dumpServices() []genetlink.Message {
	out := make([]genetlink.Message, 0, len(k.services))
	for _, fwm := range []bool{false, true} {
		for _, s := range k.services {
			if (s.key.FWMark != 0) == fwm {
				var m skb
				s.fill(&m)
				out = append(out, m.message(cmdNewService))
			}
		}
	}
	return out
}

// dumpDests is ip_vs_genl_dump_dests. A request it cannot parse, or for a
// service that does not exist, gets an empty dump, not an error.
func (k *Kernel) dumpDests(data []byte) []genetlink.Message {
	a, errno := parse(data, cmdPolicy)
	if errno != 0 {
		return nil
	}
	nla, present := a[aService]
	_, svc, errno := k.parseService(nla, present, false)
	if errno != 0 || svc == nil {
		return nil
	}
	out := make([]genetlink.Message, 0, len(svc.dests))
	for _, d := range svc.dests {
		var m skb
		d.fill(&m)
		out = append(out, m.message(cmdNewDest))
	}
	return out
}

// fill is ip_vs_genl_fill_service. Nests are made without NLA_F_NESTED
// (nla_nest_start_noflag), addresses are 16 bytes, flags carry an
// all-ones mask.
func (s *service) fill(m *skb) {
	n := m.nestStart(aService)
	m.u16(sAF, s.key.Family)
	if s.key.FWMark != 0 {
		m.u32(sFWMark, s.key.FWMark)
	} else {
		m.u16(sProtocol, uint16(s.key.Protocol))
		m.addr(sAddr, s.key.Addr)
		m.be16(sPort, s.key.Port)
	}
	m.str(sSched, s.sched) // "none" when it has no scheduler
	if s.pe != "" {
		m.str(sPEName, s.pe)
	}
	m.put(sFlags, binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, s.flags), ^uint32(0)))
	m.u32(sTimeout, s.timeout/hz)
	m.put(sNetmask, s.netmask[:]) // nla_put_be32
	m.stats(sStats, sStats64, &s.stats)
	m.nestEnd(n)
}

// fill is ip_vs_genl_fill_dest.
func (d *dest) fill(m *skb) {
	n := m.nestStart(aDest)
	m.addr(dAddr, d.addr)
	m.be16(dPort, d.port)
	m.u32(dFwd, d.fwd)
	m.u32(dWeight, uint32(d.weight))
	m.put(dTunType, []byte{d.tunType})
	m.be16(dTunPort, d.tunPort)
	m.u16(dTunFlags, d.tunFlags)
	m.u32(dUThresh, d.uThresh)
	m.u32(dLThresh, d.lThresh)
	m.u32(dActive, d.active)
	m.u32(dInact, d.inact)
	m.u32(dPersist, d.persist)
	m.u16(dFamily, d.af)
	m.stats(dStats, dStats64, &d.stats)
	m.nestEnd(n)
}

// stats is ip_vs_genl_fill_stats and ip_vs_genl_fill_stats64: the first
// truncates everything but the byte counters to 32 bits.
func (m *skb) stats(typ, typ64 uint16, s *ipvs.Stats) {
	v := [...]uint64{s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes,
		s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS}
	n := m.nestStart(typ)
	for i, x := range v {
		if t := uint16(i + stConns); t == stInBytes || t == stOutBytes {
			m.u64(t, x)
		} else {
			m.u32(t, uint32(x))
		}
	}
	m.nestEnd(n)
	n = m.nestStart(typ64)
	for i, x := range v {
		m.u64(uint16(i+stConns), x)
	}
	m.nestEnd(n)
}

// daemon is struct ipvs_sync_daemon_cfg.
type daemon struct {
	ifn    string
	syncID uint8
	maxLen uint16
	group  netip.Addr
	port   uint16
	ttl    uint8
}

// setDaemon is ip_vs_genl_set_daemon, ip_vs_genl_new_daemon and
// ip_vs_genl_del_daemon, with start_sync_thread and stop_sync_thread.
func (k *Kernel) setDaemon(cmd uint8, a attrs) syscall.Errno {
	nla, ok := a[aDaemon]
	if !ok {
		return syscall.EINVAL
	}
	y, errno := parse(nla, daemonPolicy)
	if errno != 0 {
		return syscall.EINVAL
	}
	state, ok := y[yState]
	if !ok {
		return syscall.EINVAL
	}
	if cmd == cmdDelDaemon {
		i := int(u32(state)) - 1
		if i != 0 && i != 1 {
			return syscall.EINVAL
		}
		if k.daemons[i] == nil {
			return syscall.ESRCH
		}
		k.daemons[i] = nil
		return 0
	}

	ifn, ok1 := y[yIfn]
	id, ok2 := y[ySyncID]
	if !ok1 || !ok2 {
		return syscall.EINVAL
	}
	c := &daemon{ifn: cstring(ifn), syncID: uint8(u32(id))}
	if b, ok := y[yMaxLen]; ok {
		c.maxLen = u16(b)
	}
	if b, ok := y[yGroup]; ok {
		c.group = netip.AddrFrom4([4]byte(b[:4])) // nla_get_in_addr
		if !c.group.IsMulticast() {
			return syscall.EINVAL
		}
	} else if b, ok := y[yGroup6]; ok {
		c.group = netip.AddrFrom16([16]byte(b[:16]))
		if !c.group.IsMulticast() {
			return syscall.EINVAL
		}
	}
	if b, ok := y[yPort]; ok {
		c.port = u16(b) // host order, unlike the service ports
	}
	if b, ok := y[yTTL]; ok {
		c.ttl = b[0]
	}
	if k.mixed > 0 {
		return syscall.EINVAL // "incompatible with mixed family services"
	}

	// start_sync_thread
	if !c.group.IsValid() {
		c.group = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, syncGroup4)))
	}
	if c.port == 0 {
		c.port = syncPort
	}
	if c.ttl == 0 {
		c.ttl = 1
	}
	if c.ifn == "" { // __dev_get_by_name: the fake has every other interface
		return syscall.ENODEV
	}
	hlen := uint16(20 + 8) // iphdr + udphdr
	if c.group.Is6() {
		hlen = 40 + 8
	}
	mtu, minMTU := uint16(1500), uint16(1) // an interface MTU of 1500
	if u32(state) == stateBackup {
		minMTU = 1024
	}
	if c.maxLen != 0 {
		c.maxLen = min(max(c.maxLen, minMTU), 65535-hlen)
	} else {
		c.maxLen = mtu - hlen
	}
	i := int(u32(state)) - 1
	if i != 0 && i != 1 {
		return syscall.EINVAL
	}
	if k.daemons[i] != nil {
		return syscall.EEXIST
	}
	k.daemons[i] = c
	return 0
}

// syncState is ipvs->sync_state.
func (k *Kernel) syncState() uint32 {
	var s uint32
	if k.daemons[0] != nil {
		s |= stateMaster
	}
	if k.daemons[1] != nil {
		s |= stateBackup
	}
	return s
}

// dumpDaemons is ip_vs_genl_dump_daemons: the master, then the backup.
func (k *Kernel) dumpDaemons() []genetlink.Message {
	var out []genetlink.Message
	for i, c := range k.daemons {
		if c == nil {
			continue
		}
		var m skb // ip_vs_genl_fill_daemon
		n := m.nestStart(aDaemon)
		m.u32(yState, uint32(i+1))
		m.str(yIfn, c.ifn)
		m.u32(ySyncID, uint32(c.syncID))
		m.u16(yMaxLen, c.maxLen)
		m.u16(yPort, c.port)
		m.put(yTTL, []byte{c.ttl})
		if c.group.Is6() {
			g := c.group.As16()
			m.put(yGroup6, g[:])
		} else {
			g := c.group.As4()
			m.put(yGroup, g[:])
		}
		m.nestEnd(n)
		out = append(out, m.message(cmdNewDaemon))
	}
	return out
}

// describe decodes what a request names, for the request log, without
// judging it.
func (k *Kernel) describe(data []byte) (ipvs.ServiceKey, ipvs.DestKey) {
	var sk ipvs.ServiceKey
	var dk ipvs.DestKey
	a, errno := parse(data, cmdPolicy)
	if errno != 0 {
		return sk, dk
	}
	if nla, ok := a[aService]; ok {
		if u, _, errno := k.parseService(nla, true, false); errno == 0 {
			sk = u.key
		}
	}
	if nla, ok := a[aDest]; ok {
		if u, errno := parseDest(nla, true, false); errno == 0 {
			af := u.af
			if af == 0 {
				af = sk.Family
			}
			dk = ipvs.DestKey{Addr: addrOf(af, u.addr[:]), Port: u.port}
		}
	}
	return sk, dk
}

// The netlink attribute validation of lib/nlattr.c (validate_nla), in the
// lenient mode IPVS commands get: unknown attributes are ignored, a wrong
// exact length is only warned about, trailing garbage too.
type nlaKind int

const (
	nlaUnspec nlaKind = iota
	nlaU8
	nlaU16
	nlaU32
	nlaNested
	nlaBinary
	nlaNulString
)

type rule struct {
	kind nlaKind
	len  int
}

type policy map[uint16]rule

// attrs maps an attribute type to its data; a later duplicate wins, as in
// nla_parse.
type attrs map[uint16][]byte

// parse is __nla_parse with NL_VALIDATE_LIBERAL.
func parse(b []byte, p policy) (attrs, syscall.Errno) {
	a := attrs{}
	for len(b) >= nlaHeaderLen {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < nlaHeaderLen || l > len(b) { // !nla_ok: the rest is ignored
			break
		}
		data := b[nlaHeaderLen:l]
		if r, ok := p[t]; ok {
			if errno := r.validate(data); errno != 0 {
				return nil, errno
			}
			a[t] = data
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return a, 0
}

// validate is validate_nla.
func (r rule) validate(b []byte) syscall.Errno {
	switch r.kind {
	case nlaU8, nlaU16, nlaU32:
		if len(b) < [...]int{nlaU8: 1, nlaU16: 2, nlaU32: 4}[r.kind] {
			return syscall.ERANGE
		}
	case nlaNested:
		if len(b) != 0 && len(b) < nlaHeaderLen {
			return syscall.ERANGE
		}
	case nlaBinary:
		if r.len > 0 && len(b) > r.len {
			return syscall.ERANGE
		}
	case nlaNulString:
		n := min(len(b), r.len+1)
		if n == 0 || bytes.IndexByte(b[:n], 0) < 0 {
			return syscall.EINVAL
		}
		if l := len(b); b[l-1] == 0 && l-1 > r.len || b[l-1] != 0 && l > r.len {
			return syscall.ERANGE
		}
	case nlaUnspec:
		if len(b) < r.len {
			return syscall.ERANGE
		}
	}
	return 0
}

// nla_get_* read the first bytes of an attribute in host order, except
// nla_get_be16.
func u16(b []byte) uint16  { return binary.NativeEndian.Uint16(b) }
func u32(b []byte) uint32  { return binary.NativeEndian.Uint32(b) }
func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// cstring reads a NUL-terminated string (nla_data used as a char *).
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// addrOf is what the kernel makes of an address attribute for a family:
// nla_memcpy into a zeroed union nf_inet_addr, of which IPv4 uses the
// first 4 bytes.
func addrOf(af uint16, b []byte) netip.Addr {
	var u [16]byte
	copy(u[:], b)
	if af == afINET {
		return netip.AddrFrom4([4]byte(u[:4]))
	}
	return netip.AddrFrom16(u)
}

// skb is a reply being written, attribute by attribute, as nla_put does.
type skb []byte

func (m *skb) put(typ uint16, data []byte) {
	b := binary.NativeEndian.AppendUint16(*m, uint16(nlaHeaderLen+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 { // NLA_ALIGN
		b = append(b, 0)
	}
	*m = b
}

func (m *skb) u16(typ, v uint16) {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	m.put(typ, b[:])
}

func (m *skb) u32(typ uint16, v uint32) {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	m.put(typ, b[:])
}

func (m *skb) u64(typ uint16, v uint64) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	m.put(typ, b[:])
}

// be16 is nla_put_be16.
func (m *skb) be16(typ, v uint16) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	m.put(typ, b[:])
}

// str is nla_put_string: the NUL included.
func (m *skb) str(typ uint16, s string) {
	b := binary.NativeEndian.AppendUint16(*m, uint16(nlaHeaderLen+len(s)+1))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(append(b, s...), 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	*m = b
}

// addr puts an address as replies carry it: 16 bytes.
func (m *skb) addr(typ uint16, a netip.Addr) {
	var u [16]byte
	if a.Is4() {
		b := a.As4()
		copy(u[:], b[:])
	} else {
		u = a.As16()
	}
	m.put(typ, u[:])
}

// nestStart is nla_nest_start_noflag: no NLA_F_NESTED in replies.
func (m *skb) nestStart(typ uint16) int {
	start := len(*m)
	m.put(typ, nil)
	return start
}

// nestEnd is nla_nest_end: the nest's length covers what was put since.
func (m *skb) nestEnd(start int) {
	binary.NativeEndian.PutUint16((*m)[start:], uint16(len(*m)-start))
}

// message makes a reply of the attributes in m.
func (m *skb) message(cmd uint8) genetlink.Message {
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: 1}, Data: *m}
}
