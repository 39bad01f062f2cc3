// Package netns runs code inside a network namespace, named
// (/run/netns/NAME, as `ip netns add` makes: tests that put servers,
// clients and directors on hosts of their own) or open (DoFD: lvs/ipvs
// opening /proc/net/ip_vs of the namespace it programs). Namespaces are Linux's:
// elsewhere Do fails with an error that matches errors.ErrUnsupported.
package netns
