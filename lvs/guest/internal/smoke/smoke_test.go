//go:build guest

package smoke

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// What lvs/guest's TestGuestIPVS programs with ipvsadm before running this
// binary.
const (
	wantService = "TCP 10.0.0.1:80 rr"
	wantDest    = "10.0.0.2:80 Masq 1"
)

// decode turns /proc/net/ip_vs's "0A000001:0050" into "10.0.0.1:80".
func decode(s string) (string, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || len(h) != 8 {
		return "", fmt.Errorf("bad address %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", err
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", err
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b)), uint16(port)).String(), nil
}

func TestProcNetIPVS(t *testing.T) {
	data, err := os.ReadFile("/proc/net/ip_vs")
	if err != nil {
		t.Fatalf("no IPVS in this kernel: %v", err)
	}
	t.Logf("/proc/net/ip_vs:\n%s", data)
	var services, dests []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && (f[0] == "TCP" || f[0] == "UDP") && f[1] != "LocalAddress:Port":
			a, err := decode(f[1])
			if err != nil {
				t.Fatal(err)
			}
			services = append(services, f[0]+" "+a+" "+f[2])
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			a, err := decode(f[1])
			if err != nil {
				t.Fatal(err)
			}
			dests = append(dests, a+" "+f[2]+" "+f[3])
		}
	}
	if len(services) != 1 || services[0] != wantService {
		t.Errorf("services = %q, want [%q]", services, wantService)
	}
	if len(dests) != 1 || dests[0] != wantDest {
		t.Errorf("destinations = %q, want [%q]", dests, wantDest)
	}
}
