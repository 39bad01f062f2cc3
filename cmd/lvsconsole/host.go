package main

import (
	"net"
	"net/netip"

	"github.com/lvsconsole/lvsconsole/lvs/netif"
)

// host is this director as REVIEW's warnings see it (handlers.Host).
type host struct{}

func (host) Interfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ifs))
	for i, ifc := range ifs {
		names[i] = ifc.Name
	}
	return names, nil
}

func (host) Forwarding(ipv4 bool) (bool, error) {
	if ipv4 {
		return netif.Forwarding(netip.IPv4Unspecified())
	}
	return netif.Forwarding(netip.IPv6Unspecified())
}
