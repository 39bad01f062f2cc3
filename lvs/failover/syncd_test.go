package failover

import (
	"context"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

// TestMoveSyncDaemon: becoming active runs the sync daemon as master (and
// only it), standing by as backup; asking again changes nothing; a changed
// interface restarts it.
func TestMoveSyncDaemon(t *testing.T) {
	ctx := context.Background()
	k := ipvstest.New()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	state := func() map[ipvs.DaemonState]string {
		m := map[ipvs.DaemonState]string{}
		for _, d := range k.Daemons() {
			m[d.State] = d.Interface
		}
		return m
	}
	steps := []struct {
		want ipvs.Daemon
		then map[ipvs.DaemonState]string
	}{
		{ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "eth0", SyncID: 3}, map[ipvs.DaemonState]string{ipvs.DaemonBackup: "eth0"}},
		{ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "eth0", SyncID: 3}, map[ipvs.DaemonState]string{ipvs.DaemonMaster: "eth0"}},
		{ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "eth0", SyncID: 3}, map[ipvs.DaemonState]string{ipvs.DaemonMaster: "eth0"}},
		{ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "eth1", SyncID: 3}, map[ipvs.DaemonState]string{ipvs.DaemonMaster: "eth1"}},
		{ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "eth1", SyncID: 3}, map[ipvs.DaemonState]string{ipvs.DaemonBackup: "eth1"}},
	}
	for i, s := range steps {
		before := len(k.Requests())
		if err := moveSyncDaemon(ctx, c, s.want); err != nil {
			t.Fatalf("step %d (%v on %s): %v", i, s.want.State, s.want.Interface, err)
		}
		got := state()
		if len(got) != len(s.then) {
			t.Errorf("step %d: daemons %v, want %v", i, got, s.then)
		}
		for st, dev := range s.then {
			if got[st] != dev {
				t.Errorf("step %d: daemons %v, want %v", i, got, s.then)
			}
		}
		if i == 2 && len(k.Requests()) != before+1 {
			t.Errorf("asking for the running daemon again sent %d requests, want only the read", len(k.Requests())-before)
		}
	}
}
