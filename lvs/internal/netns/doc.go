// Package netns runs code inside a named network namespace
// (/run/netns/NAME, as `ip netns add` makes), for tests that put servers,
// clients and directors on hosts of their own. Namespaces are Linux's:
// elsewhere Do fails with an error that matches errors.ErrUnsupported.
package netns
