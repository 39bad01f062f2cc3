// Package loadtest starts what the load monitors' tests read from: real
// servers as network namespaces behind veth pairs, Debian's rpcbind and
// rpc.rstatd (rup), rwhod (ruptime) and sshd (uptime) in them, a load
// average the test sets, a CPU hog that raises the kernel's, and an
// HAProxy agent and a feedback agent whose answers the test changes.
//
// Everything a test starts here stops at its cleanup. The daemons and the
// namespaces are Linux's (the _linux.go files); the agents are plain Go.
// Each starter asks internal/testenv for what it needs, so that a test
// using it needs no more than a TestMain calling testenv.Run.
package loadtest
