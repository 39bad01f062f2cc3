package ipvs

// Numbers from include/uapi/linux/ip_vs.h. The kernel's enums start at 0
// with an UNSPEC member, so each list below starts at 1.

const (
	familyName = "IPVS" // IPVS_GENL_NAME
)

// Commands (enum IPVS_CMD_*).
const (
	cmdNewService uint8 = 1
	cmdSetService uint8 = 2
	cmdDelService uint8 = 3
	cmdGetService uint8 = 4
	cmdNewDest    uint8 = 5
	cmdSetDest    uint8 = 6
	cmdDelDest    uint8 = 7
	cmdGetDest    uint8 = 8
	cmdNewDaemon  uint8 = 9
	cmdDelDaemon  uint8 = 10
	cmdGetDaemon  uint8 = 11
	cmdSetConfig  uint8 = 12
	cmdGetConfig  uint8 = 13
	cmdSetInfo    uint8 = 14 // only in replies to GET_INFO
	cmdGetInfo    uint8 = 15
	cmdZero       uint8 = 16
	cmdFlush      uint8 = 17
)

// First-level attributes (enum IPVS_CMD_ATTR_*).
const (
	cmdAttrService       uint16 = 1
	cmdAttrDest          uint16 = 2
	cmdAttrDaemon        uint16 = 3
	cmdAttrTimeoutTCP    uint16 = 4
	cmdAttrTimeoutTCPFin uint16 = 5
	cmdAttrTimeoutUDP    uint16 = 6
)

// Service attributes (enum IPVS_SVC_ATTR_*).
const (
	svcAttrAF        uint16 = 1
	svcAttrProtocol  uint16 = 2
	svcAttrAddr      uint16 = 3
	svcAttrPort      uint16 = 4 // big-endian
	svcAttrFWMark    uint16 = 5
	svcAttrSchedName uint16 = 6
	svcAttrFlags     uint16 = 7 // struct ip_vs_flags
	svcAttrTimeout   uint16 = 8
	svcAttrNetmask   uint16 = 9 // __be32 for IPv4, prefix length for IPv6
	svcAttrStats     uint16 = 10
	svcAttrPEName    uint16 = 11
	svcAttrStats64   uint16 = 12
)

// Destination attributes (enum IPVS_DEST_ATTR_*).
const (
	destAttrAddr         uint16 = 1
	destAttrPort         uint16 = 2 // big-endian
	destAttrFwdMethod    uint16 = 3
	destAttrWeight       uint16 = 4
	destAttrUThresh      uint16 = 5
	destAttrLThresh      uint16 = 6
	destAttrActiveConns  uint16 = 7
	destAttrInactConns   uint16 = 8
	destAttrPersistConns uint16 = 9
	destAttrStats        uint16 = 10
	destAttrAddrFamily   uint16 = 11
	destAttrStats64      uint16 = 12
	destAttrTunType      uint16 = 13
	destAttrTunPort      uint16 = 14 // big-endian
	destAttrTunFlags     uint16 = 15
)

// Sync daemon attributes (enum IPVS_DAEMON_ATTR_*).
const (
	daemonAttrState       uint16 = 1
	daemonAttrMcastIfn    uint16 = 2
	daemonAttrSyncID      uint16 = 3
	daemonAttrSyncMaxLen  uint16 = 4
	daemonAttrMcastGroup  uint16 = 5 // __be32
	daemonAttrMcastGroup6 uint16 = 6
	daemonAttrMcastPort   uint16 = 7 // host order, unlike the other ports
	daemonAttrMcastTTL    uint16 = 8
)

// Counter attributes (enum IPVS_STATS_ATTR_*), nested in STATS and STATS64.
const (
	statsAttrConns    uint16 = 1
	statsAttrInPkts   uint16 = 2
	statsAttrOutPkts  uint16 = 3
	statsAttrInBytes  uint16 = 4
	statsAttrOutBytes uint16 = 5
	statsAttrCPS      uint16 = 6
	statsAttrInPPS    uint16 = 7
	statsAttrOutPPS   uint16 = 8
	statsAttrInBPS    uint16 = 9
	statsAttrOutBPS   uint16 = 10
)

// Attributes of the reply to GET_INFO (enum IPVS_INFO_ATTR_*).
const (
	infoAttrVersion     uint16 = 1
	infoAttrConnTabSize uint16 = 2
)

const (
	// maxNameLen is IP_VS_SCHEDNAME_MAXLEN, IP_VS_PENAME_MAXLEN and
	// IP_VS_IFNAME_MAXLEN less the terminating NUL.
	maxNameLen = 15

	// fwdMask is IP_VS_CONN_F_FWD_MASK: the forwarding method's bits.
	fwdMask = 0x7
)
