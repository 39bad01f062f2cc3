package doctor

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/store"
	"golang.org/x/sys/unix"
)

// System is this director's Facts.
type System struct {
	DB string // the database's path
	// Peer is what the running serve says of the peer (serve's own
	// failover, or its local socket for the command).
	PeerOf func(ctx context.Context) Peer
	// ServeUID is the uid serve runs as, -1 when unknown.
	ServeUID func() int
	// Root is where /proc and /lib/modules are: "" for "/".
	Root string
}

func (s *System) path(p string) string { return filepath.Join("/", s.Root, p) }

func (s *System) IPVS(ctx context.Context) IPVS {
	c, err := ipvs.Dial(nil)
	if err == nil {
		defer c.Close()
		var info ipvs.Info
		if info, err = c.Info(ctx); err == nil {
			return IPVS{Version: strconv.Itoa(int(info.Version>>16)) + "." + strconv.Itoa(int(info.Version>>8&0xff)) + "." + strconv.Itoa(int(info.Version&0xff))}
		}
	}
	switch {
	case errors.Is(err, ipvs.ErrNoIPVS):
		return IPVS{Missing: true}
	case errors.Is(err, ipvs.ErrPermission):
		return IPVS{Denied: true}
	}
	return IPVS{Err: err}
}

// Schedulers lists the ip_vs_NAME schedulers loaded (/proc/modules),
// built in (modules.builtin) or there to load (the kernel's module tree).
func (s *System) Schedulers() ([]string, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return nil, err
	}
	release := unix.ByteSliceToString(uts.Release[:])
	found := map[string]bool{}
	add := func(name string) {
		name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)) // .ko, then .xz/.zst
		name = strings.TrimSuffix(name, ".ko")
		if sched, ok := strings.CutPrefix(name, "ip_vs_"); ok && slices.Contains(ipvsSchedulers, sched) {
			found[sched] = true
		}
	}
	seen, tree := false, false
	if f, err := os.Open(s.path("/proc/modules")); err == nil {
		seen = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			add(strings.Fields(sc.Text() + " ")[0])
		}
		f.Close()
	}
	mods := s.path("/lib/modules/" + release)
	if b, err := os.ReadFile(filepath.Join(mods, "modules.builtin")); err == nil {
		seen, tree = true, true
		for _, l := range strings.Split(string(b), "\n") {
			add(l)
		}
	}
	err := filepath.WalkDir(filepath.Join(mods, "kernel/net/netfilter/ipvs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			seen, tree = true, true
			add(d.Name())
		}
		return nil
	})
	if !seen {
		return nil, errors.New("neither /proc/modules nor " + mods + " can be read")
	}
	out := slices.Collect(func(yield func(string) bool) {
		for _, n := range ipvsSchedulers {
			if found[n] && !yield(n) {
				return
			}
		}
	})
	if err == nil && !tree {
		err = ErrModulesHidden
	}
	return out, err
}

func (s *System) Effective() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

func (s *System) Forwarding(ipv4 bool) (bool, error) {
	if ipv4 {
		return netif.Forwarding(netip.IPv4Unspecified())
	}
	return netif.Forwarding(netip.IPv6Unspecified())
}

func (s *System) Interfaces() ([]string, error) {
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

func (s *System) RPFilter(dev string) (int, error) {
	if strings.ContainsAny(dev, "/") || dev == "." || dev == ".." {
		return 0, errors.New("not a device name: " + dev)
	}
	b, err := os.ReadFile(s.path("/proc/sys/net/ipv4/conf/" + dev + "/rp_filter"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (s *System) Clock() (Clock, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if errors.Is(err, unix.EPERM) {
		// Even a read is refused under systemd's ProtectClock=yes (its
		// seccomp filter takes adjtimex whole).
		return Clock{}, ErrClockHidden
	}
	if err != nil {
		return Clock{}, err
	}
	return Clock{
		Synced:   state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0,
		MaxError: time.Duration(tx.Maxerror) * time.Microsecond,
	}, nil
}

func (s *System) Peer(ctx context.Context) Peer {
	if s.PeerOf == nil {
		return Peer{}
	}
	return s.PeerOf(ctx)
}

func (s *System) Database(ctx context.Context) Database {
	d := Database{Path: s.DB, File: stat(s.DB), Dir: stat(filepath.Dir(s.DB)), ServeUID: -1, Latest: store.LatestMigration()}
	if s.ServeUID != nil {
		d.ServeUID = s.ServeUID()
	}
	if _, err := os.Stat(s.DB + "-wal"); err == nil {
		d.WAL = true
	}
	if d.File.Exists && d.File.Err == nil {
		d.Applied, d.SchemaErr = store.AppliedMigration(ctx, s.DB)
	}
	return d
}

func stat(p string) File {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}
	}
	if err != nil {
		return File{Err: err}
	}
	f := File{Exists: true, Mode: fi.Mode(), UID: -1}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.UID = int(st.Uid)
	}
	return f
}
