package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/doctor"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/store"
)

// errChecksFailed is doctor's error when a check failed: the list said
// which, so main prints only this.
var errChecksFailed = errors.New("doctor: some checks failed")

// doctorCommand checks this director and prints a pass/warn/fail list
// with the fix of each; it fails when a check fails.
func doctorCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	return func(ctx context.Context, e *env, args []string) error {
		sys := &doctor.System{
			DB:       *db,
			PeerOf:   func(ctx context.Context) doctor.Peer { return localPeer(ctx, *db) },
			ServeUID: func() int { return serveUID(*db) },
		}
		// This director's facts first, as this process (root, to read
		// IPVS): opening the database may make it the database's owner
		// (openStore).
		facts := doctor.Collect(ctx, sys)
		cfg, note := e.doctorConfig(ctx, *db, facts)
		rs := doctor.Check(ctx, cfg, facts)
		printChecks(e, rs, note)
		if doctor.Failed(rs) {
			return errChecksFailed
		}
		return nil
	}
}

// doctorConfig reads the configuration for the checks, only from a
// database that exists and whose migrations are current: doctor changes
// nothing (opening a database applies its pending migrations).
func (e *env) doctorConfig(ctx context.Context, db string, facts doctor.Facts) (*config.Config, string) {
	d := facts.Database(ctx)
	if !d.File.Exists || d.SchemaErr != nil || d.Applied != d.Latest {
		return nil, "the configuration was not read (see the database checks): the checks that need it are left out"
	}
	st, err := e.openStore(ctx, db)
	if err != nil {
		return nil, fmt.Sprintf("the configuration was not read: %v", err)
	}
	defer st.Close()
	cfg, err := st.Config(ctx)
	if err != nil {
		return nil, fmt.Sprintf("the configuration was not read: %v", err)
	}
	return cfg, ""
}

func printChecks(e *env, rs []doctor.Result, note string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Status, r.Name, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", r.Fix)
		}
	}
	tw.Flush()
	if note != "" {
		fmt.Fprintf(e.stdout, "note: %s\n", note)
	}
	var n [3]int
	for _, r := range rs {
		switch r.Status {
		case doctor.Pass:
			n[0]++
		case doctor.Warn:
			n[1]++
		case doctor.Fail:
			n[2]++
		}
	}
	fmt.Fprintf(e.stdout, "%d passed, %d warnings, %d failed\n", n[0], n[1], n[2])
}

// localPeer asks the serve running on db what it knows of the peer.
func localPeer(ctx context.Context, db string) doctor.Peer {
	ls, err := fetchLocal(ctx, localSocket(db))
	switch {
	case errors.Is(err, errNotServing):
		return doctor.Peer{}
	case err != nil:
		return doctor.Peer{Serving: true, Err: err}
	}
	return peerOf(ls.Failover)
}

// peerOf is failover's status as doctor's Peer; nil: no failover runs.
func peerOf(st *failover.Status) doctor.Peer {
	if st == nil {
		return doctor.Peer{Serving: true}
	}
	p := st.Pulse.Peer
	return doctor.Peer{Serving: true, Failover: true, Pair: st.Pair, Heard: p.Heard,
		Addr: p.Addr.String(), BadAuth: st.Pulse.Counters.BadAuth, Malformed: st.Pulse.Counters.Malformed}
}

// serviceUser is the user the Debian package's unit runs serve as.
const serviceUser = "lvsconsole"

// serveUID is the uid serve runs as: the owner of the local socket it
// made, when it runs; else the service's user's, when there is one; else
// unknown (-1).
func serveUID(db string) int {
	if uid, ok := fileOwner(localSocket(db)); ok {
		return uid
	}
	if u, err := user.Lookup(serviceUser); err == nil {
		if uid, err := strconv.Atoi(u.Uid); err == nil {
			return uid
		}
	}
	return -1
}

// serveChecks are the checks of CONTROL/MONITORING, run by serve itself:
// its own capabilities, its own failover's view of the peer.
func serveChecks(db string, st *store.Store, fo func() *failover.Status) handlers.DirectorChecks {
	sys := &doctor.System{
		DB:       db,
		PeerOf:   func(context.Context) doctor.Peer { return peerOf(fo()) },
		ServeUID: os.Getuid,
	}
	return &doctor.Cache{TTL: 5 * time.Second, Run: func(ctx context.Context) []doctor.Result {
		cfg, err := st.SharedConfig(ctx) // read only; a copy was 24 MB at 10,000 x 10
		if err != nil {
			cfg = nil
		}
		return doctor.Check(ctx, cfg, sys)
	}}
}
