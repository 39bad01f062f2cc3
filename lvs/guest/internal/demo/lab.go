package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// The console's login in the lab: a throwaway VM, so a fixed password that
// the demo prints.
const (
	User     = "admin"
	Password = "demo-password"
)

// ServeFlags are lvsconsole serve's flags in the guest, the one place to
// change them: the console listens on the guest's NIC, which qemu
// forwards the host's port to; failover is off (there is no backup
// director, and the script brings the VIP up itself). The lab is plain
// HTTP (-insecure-http): the only client is the host, through qemu's
// private user network, and a throwaway lab needs no certificate warning.
const ServeFlags = "-listen " + guest.GuestAddr + ":3636 -failover=false -insecure-http"

// consolePort is the port serve listens on in the guest (ServeFlags).
const consolePort = 3636

// cf is the lab's configuration, imported before serve starts.
//
//go:embed lvs.cf
var cf []byte

// script is the guest's side of the lab, run by lvs/guest once eth0 is up:
//
//	client 192.0.2.2 --veth-- d0 192.0.2.1, VIP 192.0.2.100 (this director:
//	  the initial namespace, where serve and IPVS run; eth0 is qemu's NIC)
//	  br0 10.10.0.1 --bridge-- web1 10.10.0.11, web2 10.10.0.12 (namespaces,
//	  busybox httpd each)
//
// The client asks the VIP for a page twice a second; every $outage_every
// seconds web2 is stopped for $outage_for (set before this). Lines
// starting "demo:" are for the person watching.
const script = `
set -e
say() { echo "demo: $*"; }
# Only emergencies from the kernel on the console: IPVS's "no destination
# available" while the checks start is expected.
dmesg -n 1
sysctl -qw net.ipv4.ip_forward=1
for ns in client web1 web2; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add d0 type veth peer name c0
ip link set c0 netns client
ip addr add 192.0.2.1/24 dev d0
ip addr add 192.0.2.100/24 dev d0
ip link set d0 up
ip -n client addr add 192.0.2.2/24 dev c0
ip -n client link set c0 up
ip link add br0 type bridge
ip addr add 10.10.0.1/24 dev br0
ip link set br0 up
start_web() { # $1: 1 or 2
	# /sbin/ip, not the prelude's function: $! must be httpd itself (ip execs it).
	/sbin/ip netns exec web$1 httpd -f -p 80 -h /srv/web$1 &
	eval httpd_pid$1=$!
}
for r in 1 2; do
	ip link add w$r type veth peer name web$r-br
	ip link set w$r netns web$r
	ip -n web$r link set w$r name eth0
	ip link set web$r-br master br0 up
	ip -n web$r addr add 10.10.0.1$r/24 dev eth0
	ip -n web$r link set eth0 up
	ip -n web$r route add default via 10.10.0.1
	mkdir -p /srv/web$r
	echo "web$r answered" >/srv/web$r/index.html
	start_web $r
done

lvsconsole import -db /root/lvs.db /srv/demo/lvs.cf
printf '%s\n%s\n' '` + Password + `' '` + Password + `' | lvsconsole passwd -db /root/lvs.db -user ` + User + `
# serve's log stays in the guest, but for warnings and errors.
lvsconsole serve -db /root/lvs.db ` + ServeFlags + ` 2>&1 | grep -v ' level=INFO ' &

ip netns exec client sh -c 'while :; do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 192.0.2.100 80 >/dev/null 2>&1; sleep 0.5; done' &
say "traffic: a request to 192.0.2.100:80 every 0.5 s from the client namespace"

set +e
while :; do
	sleep $((outage_every - outage_for))
	say "stopping web2 (10.10.0.12) for $outage_for s: watch it go down and come back"
	kill $httpd_pid2
	sleep $outage_for
	start_web 2
	say "web2 is serving again"
done
`

// Lab is a running demo guest.
type Lab struct {
	// URL is the console on the host, through qemu's forward.
	URL string
	// Booted is when qemu was started (lvsconsole was built by then).
	Booted time.Time

	cancel context.CancelFunc
	done   chan struct{}
	err    error // once done is closed
}

// LabOptions say how to start the lab.
type LabOptions struct {
	// Port on the host's loopback forwarded to the console.
	Port uint16
	// Console receives the guest's serial console, one line per Write.
	Console io.Writer
	// Dir holds the lvsconsole binary built for the guest.
	Dir string
	// Every OutageEvery, web2 is stopped for OutageFor; default every 2
	// minutes for 30 s. Whole seconds.
	OutageEvery, OutageFor time.Duration
}

// StartLab builds lvsconsole for the guest and boots the lab in the
// background; see WaitReady and Stop.
func StartLab(ctx context.Context, o LabOptions) (*Lab, error) {
	if o.OutageEvery == 0 {
		o.OutageEvery, o.OutageFor = 2*time.Minute, 30*time.Second
	}
	every, down := int(o.OutageEvery.Seconds()), int(o.OutageFor.Seconds())
	if down < 1 || every <= down {
		return nil, fmt.Errorf("demo: an outage of %s every %s: make it at least 1 s and shorter than the period", o.OutageFor, o.OutageEvery)
	}
	if err := guest.Prepared(""); err != nil {
		return nil, err
	}
	bin := filepath.Join(o.Dir, "lvsconsole")
	if err := guest.BuildStatic("github.com/lvsconsole/lvsconsole/cmd/lvsconsole", bin); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Lab{URL: fmt.Sprintf("http://127.0.0.1:%d", o.Port), Booted: time.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		res, err := guest.Run(ctx, guest.Options{
			Binaries: map[string]string{"lvsconsole": bin},
			Files:    map[string][]byte{"/srv/demo/lvs.cf": cf},
			Script:   fmt.Sprintf("outage_every=%d outage_for=%d\n", every, down) + script,
			Forward:  []guest.PortForward{{Host: o.Port, Guest: consolePort}},
			Stdout:   o.Console,
			// serve, two httpd, a shell loop: well within this.
			Memory: 512,
			// Until stopped: the lab runs as long as someone watches.
			Timeout: 7 * 24 * time.Hour,
		})
		switch {
		case err != nil:
			l.err = err
		default:
			l.err = fmt.Errorf("the lab's script ended (exit %d); last console lines:\n%s", res.ExitCode, tail(res.Output, 30))
		}
	}()
	return l, nil
}

// WaitReady polls the console's login page through the forward until it
// answers, the guest ends, or timeout passes.
func (l *Lab) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Generous: under TCG the console's first answers are slow, and a
	// request given up on is logged by serve as an error.
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL+"/login", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /login: %s", resp.Status)
		}
		last = err
		select {
		case <-l.done:
			return l.err
		case <-ctx.Done():
			return fmt.Errorf("the console did not answer at %s within %s: %v", l.URL, timeout, last)
		case <-tick.C:
		}
	}
}

// Done is closed when the guest has ended; Err then says why.
func (l *Lab) Done() <-chan struct{} { return l.done }

// Err is why the guest ended (after Done).
func (l *Lab) Err() error { return l.err }

// Stop kills the guest and waits for qemu to be gone.
func (l *Lab) Stop() {
	l.cancel()
	<-l.done
}

// stopped reports whether err is only the lab being stopped (guest.Run
// says so in words).
func stopped(err error) bool {
	return errors.Is(err, context.Canceled) || strings.Contains(err.Error(), context.Canceled.Error())
}

func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
