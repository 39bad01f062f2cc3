package netif

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ipv6DeviceForwarding reads the device's own IPv6 forwarding switch, the
// one the kernel consults for the router flag; false if unreadable.
func ipv6DeviceForwarding(device string) bool {
	on, err := readSysctlBool("/proc/sys/net/ipv6/conf/" + device + "/forwarding")
	return err == nil && on
}

// Forwarding reports whether the kernel forwards packets of ip's family, in
// the calling thread's network namespace: /proc/sys/net/ipv4/ip_forward or
// /proc/sys/net/ipv6/conf/all/forwarding. (The kernel resolves
// /proc/sys/net by the namespace of the thread that opens the file, so a
// goroutine locked to a thread in another namespace reads that one.)
func Forwarding(ip netip.Addr) (bool, error) {
	if !ip.IsValid() {
		return false, errors.New("netif: forwarding: invalid address")
	}
	path := "/proc/sys/net/ipv6/conf/all/forwarding"
	if ip.Unmap().Is4() {
		path = "/proc/sys/net/ipv4/ip_forward"
	}
	on, err := readSysctlBool(path)
	if err != nil {
		return false, fmt.Errorf("netif: forwarding for %s: %w", ip, err)
	}
	return on, nil
}

func readSysctlBool(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return n != 0, nil
}
