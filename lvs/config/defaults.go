package config

// The console's defaults are the registry's (Default.Console of each
// field): what a new installation, RESET on the REDUNDANCY tab, and ADD on
// the virtual and real server lists start from. lvs.cf's parser has
// defaults of its own for absent keys (Default.LvsCf).

// Piranha's check strings, the console's defaults for send and expect.
const (
	DefaultSend   = `GET / HTTP/1.0\r\n\r\n`
	DefaultExpect = "HTTP"
)

// The entries at the console's defaults, made once from the registry.
var (
	defaultGlobal     = GlobalFields.New(false)
	defaultRedundancy = RedundancyFields.New(false)
	defaultVirtual    = VirtualFields.New(false)
	defaultReal       = RealFields.New(false)
)

// Default returns the configuration of a new installation: no virtual
// servers, direct routing, no backup.
func Default() *Config {
	return &Config{Global: defaultGlobal, Redundancy: defaultRedundancy}
}

// DefaultRedundancy is what RESET on the REDUNDANCY tab goes back to:
// piranha's 0.0.0.0, 6 s, 18 s, 539.
func DefaultRedundancy() Redundancy { return defaultRedundancy }

// NewVirtual returns what ADD on the VIRTUAL SERVERS tab creates: an
// inactive HTTP service on a placeholder address.
func NewVirtual(name string) VirtualServer {
	vs := defaultVirtual
	vs.Name = name
	return vs
}

// NewReal returns what ADD on the REAL SERVER tab creates: an inactive
// server on a placeholder address with weight 1.
func NewReal(name string) RealServer {
	rs := defaultReal
	rs.Name = name
	return rs
}
