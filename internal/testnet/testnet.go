// Package testnet holds the network fixtures the tests of several packages
// share.
package testnet

import (
	"net"
	"testing"
)

// Serve accepts ln's connections until ln is closed, and closes each at
// once, after handle (if any) has written to it: a real server a TCP
// check finds up.
func Serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if handle != nil {
				handle(c)
			}
			c.Close()
		}
	}()
}

// Listen listens on TCP addr ("127.0.0.1:0") and Serves it; the listener
// is closed when t ends, or before by the test (to take the server down).
func Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	Serve(ln, nil)
	return ln
}
