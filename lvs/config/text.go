package config

import "fmt"

// MarshalText writes m as "/24", or "" when not set, so that snapshots of a
// configuration (JSON in the revision history) keep "not set" apart from /0.
func (m Netmask) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (m *Netmask) UnmarshalText(b []byte) error {
	n, err := ParseNetmask(string(b))
	if err != nil {
		return fmt.Errorf("netmask: %w", err)
	}
	*m = n
	return nil
}
