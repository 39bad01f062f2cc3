package config

import "encoding/json"

// A configuration stored as JSON (revisions, drafts) or sent by a
// director of an older version lacks the fields added since; like an
// lvs.cf key a file leaves out, each takes its lvs.cf default, not its
// zero value: a virtual server stored before cluster mode is announced
// (bgp_announce 1), and its hold time is 9 s, not BGP's 90.

var (
	lvscfRedundancy = RedundancyFields.New(true)
	lvscfVirtual    = VirtualFields.New(true)
)

// UnmarshalJSON decodes r, with the fields b leaves out at their lvs.cf
// defaults.
func (r *Redundancy) UnmarshalJSON(b []byte) error {
	type plain Redundancy // without this method
	p := plain(lvscfRedundancy)
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Redundancy(p)
	return nil
}

// UnmarshalJSON decodes vs, with the fields b leaves out at their lvs.cf
// defaults.
func (vs *VirtualServer) UnmarshalJSON(b []byte) error {
	type plain VirtualServer
	p := plain(lvscfVirtual)
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*vs = VirtualServer(p)
	return nil
}
