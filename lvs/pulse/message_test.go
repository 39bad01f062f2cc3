package pulse

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"testing"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func sampleMessages() []Message {
	ones := Challenge{}
	for i := range ones {
		ones[i] = 0xff
	}
	var pinOnes [32]byte
	for i := range pinOnes {
		pinOnes[i] = 0xff
	}
	return []Message{
		{From: netip.MustParseAddr("10.0.0.1"), Role: Active, Primary: true, Serial: 42, Console: 3636, Boot: 7, Counter: 1,
			Challenge: Challenge{1, 2, 3}, ConsolePin: [32]byte{0: 0xab, 31: 0xcd}},
		{From: netip.MustParseAddr("2001:db8::2"), Role: Standby, Leaving: true, Serial: -1, Boot: math.MaxUint64, Counter: math.MaxUint64,
			Challenge: ones, Echo: ones},
		{From: netip.MustParseAddr("::ffff:192.0.2.9"), LinkDown: true, Serial: math.MinInt64, Boot: 1, Counter: 2,
			Challenge: Challenge{15: 1}, Echo: Challenge{0: 1}},
		{From: netip.MustParseAddr("255.255.255.255"), Role: Active, Primary: true, Leaving: true, LinkDown: true, Serial: math.MaxInt64, Console: math.MaxUint16,
			Boot: 1 << 63, Counter: 1 << 32, Challenge: Challenge{8: 0x80}, Echo: Challenge{7: 0x7f}, ConsolePin: pinOnes},
	}
}

// mac signs body with testKey.
func mac(body []byte) []byte { return bytes.Clone(newSealer(testKey).mac(body)) }

func TestRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := m.Marshal(testKey)
		if len(b) != messageLen {
			t.Fatalf("%+v: %d bytes, want %d", m, len(b), messageLen)
		}
		got, err := Unmarshal(testKey, b)
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if got != m {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

// Every byte is covered by the MAC and most by a structural check: no
// change of a single byte, to any value, is accepted.
func TestEverySingleByteChangeIsRefused(t *testing.T) {
	for _, m := range sampleMessages() {
		b := m.Marshal(testKey)
		for i := range b {
			for x := 1; x < 256; x++ {
				c := bytes.Clone(b)
				c[i] ^= byte(x)
				_, err := Unmarshal(testKey, c)
				if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("%+v: byte %d ^ %#x: err = %v, want ErrAuth or ErrMalformed", m, i, x, err)
				}
			}
		}
	}
}

func TestWrongKey(t *testing.T) {
	b := sampleMessages()[0].Marshal(testKey)
	other := bytes.Clone(testKey)
	other[len(other)-1] ^= 1
	for _, key := range [][]byte{other, testKey[:16], nil} {
		if _, err := Unmarshal(key, b); !errors.Is(err, ErrAuth) {
			t.Errorf("key %q: err = %v, want ErrAuth", key, err)
		}
	}
}

func TestTruncatedOrExtended(t *testing.T) {
	b := sampleMessages()[0].Marshal(testKey)
	for n := range len(b) {
		if _, err := Unmarshal(testKey, b[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: err = %v, want ErrMalformed", n, err)
		}
	}
	if _, err := Unmarshal(testKey, append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("one byte more: err = %v, want ErrMalformed", err)
	}
}

// A well-signed datagram whose fields have no meaning is malformed, not
// accepted: only what Marshal produces decodes.
func TestSignedNonsenseIsMalformed(t *testing.T) {
	for name, edit := range map[string]func(b []byte){
		"magic":        func(b []byte) { b[0] = 'X' },
		"version 1":    func(b []byte) { b[4] = 1 },
		"version 2":    func(b []byte) { b[4] = 2 },
		"version 4":    func(b []byte) { b[4] = 4 },
		"family 0":     func(b []byte) { b[5] = 0 },
		"family 5":     func(b []byte) { b[5] = 5 },
		"ipv4 padding": func(b []byte) { b[21] = 1 },
		"role":         func(b []byte) { b[22] = 2 },
		"flags":        func(b []byte) { b[23] |= 8 },
		"boot 0":       func(b []byte) { clear(b[34:42]) },
		"counter 0":    func(b []byte) { clear(b[42:50]) },
		"challenge 0":  func(b []byte) { clear(b[50:66]) },
	} {
		b := sampleMessages()[0].Marshal(testKey)[:bodyLen]
		edit(b)
		b = append(b, mac(b)...)
		if _, err := Unmarshal(testKey, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// A zero From marshals (as family 0) but does not come back.
	if _, err := Unmarshal(testKey, (Message{}).Marshal(testKey)); !errors.Is(err, ErrMalformed) {
		t.Errorf("zero From: err = %v, want ErrMalformed", err)
	}
}

func TestRoleString(t *testing.T) {
	for r, want := range map[Role]string{Standby: "standby", Active: "active", 7: "Role(7)"} {
		if r.String() != want {
			t.Errorf("%d: %q, want %q", r, r.String(), want)
		}
	}
}

// FuzzUnmarshal feeds arbitrary datagrams, and with sign set the same
// bytes with a valid MAC over their first 114 bytes, so that the fuzzer
// reaches the decoding of fields and not only the MAC check. Unmarshal must
// never panic, refuse only with its two errors, and what it accepts must
// marshal back to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.Marshal(testKey), false)
		f.Add(m.Marshal(testKey)[:bodyLen], true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte("LVSp\x02"), true)
	f.Add(v1Heartbeat(), false)
	f.Add(v2Heartbeat(), false)
	f.Fuzz(func(t *testing.T, b []byte, sign bool) {
		if sign && len(b) >= bodyLen {
			b = append(b[:bodyLen:bodyLen], mac(b[:bodyLen])...)
		}
		m, err := Unmarshal(testKey, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuth) {
				t.Fatalf("err = %v, want ErrMalformed or ErrAuth", err)
			}
			return
		}
		if again := m.Marshal(testKey); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-marshalled as %x (%+v)", b, again, m)
		}
	})
}

// v1Heartbeat is a heartbeat of protocol version 1, signed with the key.
func v1Heartbeat() []byte {
	b := make([]byte, 50, 82)
	copy(b, "LVSp\x01\x04\x7f\x00\x00\x01")
	b[22], b[23] = byte(Active), flagPrimary|flagLeaving
	b[41], b[49] = 1, 1 // Boot 1, Seq 1 (v1 had no Counter, Challenge or Echo)
	return append(b, newSealer(testKey).mac(b)...)
}

// v2Heartbeat is a heartbeat of protocol version 2 (version 3 without the
// console's pin: 114 bytes), signed with the key.
func v2Heartbeat() []byte {
	b := sampleMessages()[0].Marshal(testKey)[:82]
	b[4] = 2
	return append(b, newSealer(testKey).mac(b)...)
}

// The wire format, field by field: where each field is, as
// docs/heartbeat.md says.
func TestWireLayout(t *testing.T) {
	m := sampleMessages()[0]
	b := m.Marshal(testKey)
	for _, f := range []struct {
		name     string
		off, len int
		want     []byte
	}{
		{"magic", 0, 4, []byte("LVSp")},
		{"version", 4, 1, []byte{3}},
		{"family", 5, 1, []byte{4}},
		{"From", 6, 16, []byte{10, 0, 0, 1, 15: 0}},
		{"Role", 22, 1, []byte{1}},
		{"flags", 23, 1, []byte{flagPrimary}},
		{"Serial", 24, 8, []byte{7: 42}},
		{"Console", 32, 2, []byte{0x0e, 0x34}},
		{"Boot", 34, 8, []byte{7: 7}},
		{"Counter", 42, 8, []byte{7: 1}},
		{"Challenge", 50, 16, []byte{1, 2, 3, 15: 0}},
		{"Echo", 66, 16, make([]byte, 16)},
		{"ConsolePin", 82, 32, m.ConsolePin[:]},
		{"HMAC", 114, 32, mac(b[:114])},
	} {
		if got := b[f.off : f.off+f.len]; !bytes.Equal(got, f.want) {
			t.Errorf("%s at %d: %x, want %x", f.name, f.off, got, f.want)
		}
	}
	if len(b) != 146 {
		t.Errorf("%d bytes, want 146", len(b))
	}
}

// A version 2 heartbeat (before the console's pin) is malformed, however
// well signed: it is shorter, and its version is not this one.
func TestVersion2IsMalformed(t *testing.T) {
	b := v2Heartbeat()
	if _, err := Unmarshal(testKey, b); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 2: err = %v, want ErrMalformed", err)
	}
	// Even padded to version 3's length and signed.
	p := append(b[:82:82], make([]byte, 32)...)
	p = append(p, mac(p)...)
	if _, err := Unmarshal(testKey, p); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 2 padded: err = %v, want ErrMalformed", err)
	}
}
