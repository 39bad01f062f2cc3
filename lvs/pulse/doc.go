// Package pulse is the heartbeat and role decision of a pair of LVS
// directors, piranha's pulse rebuilt: each director sends a small
// authenticated UDP datagram to the other every Keepalive, and from what it
// hears (or does not hear for Deadtime) decides whether it is the active
// director, the one that holds the virtual addresses, or the standby.
//
// # Authentication and freshness (protocol version 2)
//
// Unlike piranha's bare 4-byte word, every heartbeat carries an HMAC-SHA256
// over its contents with a shared key and the sender's own address, so a
// host that can spoof the peer's address but lacks the key can neither
// force a failover nor block one.
//
// A recorded heartbeat must not be believed later either, whatever either
// director did in between (restarts included), and no clock may be trusted
// for it. So every heartbeat also carries:
//
//   - Boot: random per process (per Node), telling one run of the sender
//     from the next;
//   - Counter: 1, 2, 3, ... per Boot;
//   - Challenge: random, 128 bits, drawn again every other keepalive or so
//     (about every half Deadtime: see [Node]);
//   - Echo: the last Challenge the sender learnt from the receiver.
//
// A well-signed heartbeat from the peer is news (liveness, role, serial,
// Leaving, LinkDown) only if its Echo is one of the receiver's own last two
// challenges, which it drew itself, and it is newer than the last accepted
// one: a higher Counter of the same Boot that does not answer an older
// challenge than that one did, or the answer to a challenge drawn after
// that one was accepted (which resets the Counter window, so a counter
// that jumps cannot lock the peer out for longer than one challenge), or a
// new Boot (whose predecessor is then retired for good). A recording
// therefore expires as soon as the receiver has drawn two challenges since
// it was made, and a restarted receiver, with challenges nobody has seen,
// believes nothing recorded before.
//
// The challenge to echo is learnt from the peer's accepted heartbeats, from
// newer heartbeats of the Boot last accepted (so a path that was cut for a
// while recovers within a round trip), and, while the peer is silent, from
// any well-signed heartbeat not known to be older, so that two directors
// that have never met can start. A heartbeat that does not answer our
// challenge makes us send one at once (four in a row at most, then one per
// quarter keepalive): a starting director hears its running peer within a
// few round trips, not a keepalive later (BenchmarkStartHearsPeer).
//
// docs/heartbeat.md in the repository describes the wire format and the
// protocol for administrators and auditors.
//
// # Timing
//
// Heartbeats are sent and received by one goroutine locked to an OS thread
// that asks for real-time scheduling (SCHED_RR) when it may, waits in
// ppoll(2) on its own socket rather than in Go's timers and netpoller, and
// judges silence by the kernel's receive timestamps of what is queued, so
// that a late wake-up of the receiver cannot by itself declare the peer
// dead. That thread still needs one of its process's Go Ps to run, which
// the process's other threads may hold while the kernel does not run them:
// Options.Helper moves the heartbeat into a helper process whose threads
// are all real-time (see ServeHelper).
//
// Run is Linux's (beat_linux.go, socket_linux.go, realtime_linux.go):
// elsewhere it fails with an error that matches errors.ErrUnsupported,
// and the rest (messages, the decision, the helper's protocol) builds and
// is tested everywhere.
//
// The package only decides; acting on a role change (addresses, gratuitous
// ARP, the IPVS sync daemon, configuration sync) is the caller's business:
// watch Node.Changes and read Node.Status.
package pulse
