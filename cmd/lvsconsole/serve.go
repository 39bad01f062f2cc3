package main

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/internal/tlscert"
	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/doctor"
	"github.com/lvsconsole/lvsconsole/lvs/drcheck"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/load"
	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

func serveCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	listen := fs.String("listen", ":3636", "`address` the console listens on")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate `file` (PEM, with -tls-key; reloaded when it changes). Without it, a listen address that is not loopback gets a self-signed certificate made beside the database ("+tlscert.CertName+", "+tlscert.KeyName+")")
	keyFile := fs.String("tls-key", "", "the certificate's private key `file` (PEM)")
	insecure := fs.Bool("insecure-http", false, "serve plain HTTP on a listen address that is not loopback: passwords, session cookies and API tokens then cross the network in clear, readable and replayable by anyone on the path (only behind a TLS-terminating proxy, see -trusted-proxy)")
	idle := fs.Duration("session-idle", 30*time.Minute, "log a console user out after this long unused")
	maxAge := fs.Duration("session-max", 12*time.Hour, "log a console user out this long after login")
	maxConns := fs.Int("max-conns", 512, "keep at most `n` connections to the console open; more are closed at once")
	maxPerClient := fs.Int("max-conns-per-client", 64, "keep at most `n` connections from one client address (an IPv6 /64) open; more are closed at once")
	trusted := fs.String("trusted-proxy", "", "believe X-Forwarded-For and X-Forwarded-Proto from these `CIDR[,CIDR]` only (a TLS-terminating proxy in front of the console)")
	auditKeep := fs.Duration("audit-retention", 400*24*time.Hour, "keep the audit trail's entries this long (pruned daily); 0 keeps them forever")
	auditSyslog := fs.Bool("audit-syslog", false, "also send each audit trail entry to the local syslog (facility authpriv; journald takes it too)")
	pamService := fs.String("pam-service", "", "let the system's users log in through this PAM `service` (/etc/pam.d/NAME; the package installs lvsconsole) when they are not local console users; empty: PAM is off")
	pamRoles := fs.String("pam-roles", "", "with -pam-service, the system group whose members get each role, `ROLE=GROUP[,ROLE=GROUP]` for viewer, operator and admin (e.g. viewer=lvs-view,admin=lvs-admin): the highest wins; a PAM user in none of them is refused")
	rwhoListen := fs.String("rwho-listen", ":513", "`address` where the ruptime load monitor listens for rwhod's broadcasts (UDP), only while a virtual server uses it; empty: never")
	withFailover := fs.Bool("failover", true, "bring the virtual IP addresses up and down, run the heartbeat with the backup director and sync the configuration to it; in cluster mode, announce the VIPs over BGP and sync with the other directors (false: console, IPVS and health checks only)")
	return func(ctx context.Context, e *env, args []string) error {
		// Half the default headroom between collections (GOGC=50), unless
		// GOGC says otherwise: at 10,000 x 10 serve holds some 120 MB,
		// and the default let it grow to 300-400 MB between collections.
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(50)
		}
		if (*certFile == "") != (*keyFile == "") {
			return errors.New("-tls-cert and -tls-key go together")
		}
		if *insecure && *certFile != "" {
			return errors.New("-insecure-http and -tls-cert exclude each other: choose plain HTTP or your certificate")
		}
		switch {
		case *auditKeep < 0:
			return fmt.Errorf("-audit-retention %v: give a duration of at least 0 (0 keeps the audit trail forever)", *auditKeep)
		case *maxConns < 1:
			return fmt.Errorf("-max-conns %d: allow at least 1 connection", *maxConns)
		case *maxPerClient < 1:
			return fmt.Errorf("-max-conns-per-client %d: allow at least 1 connection", *maxPerClient)
		case *maxPerClient > *maxConns:
			return fmt.Errorf("-max-conns-per-client %d is more than -max-conns %d: make it at most that", *maxPerClient, *maxConns)
		}
		proxies, err := parsePrefixes(*trusted)
		if err != nil {
			return fmt.Errorf("-trusted-proxy: %w", err)
		}
		log := slog.New(slog.NewTextHandler(e.stderr, nil))
		sysAuth, err := pamAuth(*pamService, *pamRoles, log)
		if err != nil {
			return err
		}

		st, err := store.Open(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range st.Repaired() {
			log.Warn("made the database private: it holds password hashes and the peer secret", "change", r)
		}
		cfg, err := st.Config(ctx)
		if err != nil {
			return err
		}
		checks := engine.NewChecks()
		loads := loadMonitors(st, *rwhoListen, log.With("part", "load"))
		checks.SetLoads(loads)
		eng := engine.New(engine.Options{
			Source: st,
			Ledger: st,
			Dial:   dialIPVS,
			Health: checks,
			Wake:   checks.Changes(),
			Log:    log.With("part", "engine"),
		})
		tcp, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *listen, err)
		}
		// HTTPS unless the console is on loopback only, or told not to.
		var cert *tlscert.Reloader
		switch {
		case *certFile != "":
			cert, err = tlscert.NewReloader(tlscert.Options{CertFile: *certFile, KeyFile: *keyFile, Log: log})
		case isLoopback(tcp.Addr()):
		case *insecure:
			log.Warn("-insecure-http: the console serves plain HTTP on " + tcp.Addr().String() + ": passwords, session cookies and API tokens cross the network in clear")
		default:
			cert, err = selfSigned(filepath.Dir(st.Path()), log)
		}
		if err != nil {
			tcp.Close()
			return err
		}
		tls := cert != nil
		ln := newConnLimit(tcp, *maxConns, *maxPerClient, proxies, log)
		opts := handlers.Options{
			Store:    st,
			Log:      log,
			Secure:   tls,
			Sessions: store.SessionPolicy{Idle: *idle, Absolute: *maxAge},
			Engine:   eng,
			History:  eng,
			Health:   checks,
			Preview:  eng,
			Host:     &doctor.System{}, // the facts doctor reads: interfaces, forwarding
			Probe:    checks,
			DRProbe:  drcheck.New(drcheck.Options{}),

			TrustedProxies: proxies,
			PAM:            sysAuth,
			LoadKey:        directorKey{path: filepath.Join(filepath.Dir(st.Path()), directorKeyFile)},
		}
		var pin func() [32]byte
		var pinChanges <-chan struct{}
		if cert != nil {
			pin = func() [32]byte { return cert.Pin() }
			pinChanges = cert.Changes()
			opts.Fingerprint = func() string { return cert.Pin().String() }
		}
		var director *failover.Director
		if *withFailover {
			exe, err := os.Executable()
			if err != nil {
				ln.Close()
				return fmt.Errorf("finding this program for the heartbeat helper: %w", err)
			}
			director = failover.New(failover.Options{
				Source:     st,
				Addresses:  func() (failover.Addresses, error) { return netif.Open() },
				Announce:   netif.Announce,
				WatchLinks: netif.WatchLinks,
				Forwarding: netif.Forwarding,
				SyncDaemon: func() (failover.SyncDaemon, error) { return ipvs.Dial(nil) },
				Heartbeat: func(s pulse.Settings) (failover.Heartbeat, error) {
					// The heartbeat in a helper process: this binary's
					// pulse-helper command (see pulse.Options.Helper).
					// Not through proc.Run: it is ours, and keeps serve's
					// capabilities (port 539, SO_PRIORITY).
					return pulse.New(s, pulse.Options{Log: log, Helper: func() *exec.Cmd { return exec.Command(exe, "pulse-helper") }})
				},
				Log:               log,
				ConsolePort:       uint16(ln.Addr().(*net.TCPAddr).Port),
				ConsolePin:        pin,
				ConsolePinChanges: pinChanges,
			})
			opts.Failover = director
		}
		// Cluster mode (issue 19): idle until the configuration asks for
		// it; then failover stands aside and this runs the director.
		var clus *cluster.Cluster
		if *withFailover {
			scheme := "http" // every director's console is served alike
			if tls {
				scheme = "https"
			}
			clus = cluster.New(cluster.Options{
				Source:        st,
				Engine:        eng,
				Addresses:     func() (cluster.Addresses, error) { return netif.Open() },
				Sysctl:        writeSysctl,
				ConsolePort:   uint16(ln.Addr().(*net.TCPAddr).Port),
				ConsoleScheme: scheme,
				Log:           log.With("part", "cluster"),
			})
			opts.Cluster = clus
		}
		opts.Checks = serveChecks(*db, st, func() *failover.Status {
			if director == nil {
				return nil
			}
			s := director.Status()
			return &s
		})
		// The console's long answers (the dashboard's stream) end when it
		// stops serving, whatever stops it.
		consoleCtx, endConsole := context.WithCancel(ctx)
		defer endConsole()
		console, err := handlers.New(consoleCtx, opts)
		if err != nil {
			ln.Close()
			return err
		}
		stopLocal, err := startLocal(ctx, localSocket(st.Path()), handlers.NewLocal(handlers.LocalOptions{
			Store: st, Log: log, Engine: eng, Failover: opts.Failover, Info: ipvsInfo,
		}), log.With("part", "local"))
		if err != nil {
			ln.Close()
			return err
		}
		// The deadlines to read a body and write an answer are the console's,
		// route by route (handlers.Timeouts): an lvs.cf upload takes longer
		// than a form, and the dashboard's stream has none as a whole.
		srv := &http.Server{
			Handler:           console,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		if cert != nil {
			// An http:// request to this port gets Go's 400 "Client sent an
			// HTTP request to an HTTPS server", which says what to do.
			srv.TLSConfig = &cryptotls.Config{GetCertificate: cert.GetCertificate, MinVersion: cryptotls.VersionTLS12}
		}
		scheme := "http"
		if tls {
			scheme = "https"
		}
		url := consoleURL(scheme, ln.Addr())
		log.Info("console listening", "url", url, "db", st.Path(), "serial", cfg.Serial)
		var fp []any
		if cert != nil {
			leaf := cert.Leaf()
			fp = []any{"sha256", cert.Pin().String()}
			log.Info("console certificate: the browser must show this SHA-256 fingerprint", append(fp,
				"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.DateOnly))...)
		}
		if code, ok := console.SetupCode(); ok {
			log.Warn("no console user exists yet: open "+url+"/setup and enter the setup code (or run 'lvsconsole passwd')",
				append([]any{"setup_code", code}, fp...)...)
		}

		// Started in this order, stopped in the reverse: the console stops
		// taking requests first, then failover stands down (addresses go,
		// the peer takes over at once), then the checks and the engine
		// (which leaves the kernel's table as it is); the store closes last
		// (deferred above).
		stages := []stage{
			// What another process writes (lvsconsole import) reaches
			// every part as serve's own changes do.
			{"store", func(ctx context.Context) error { return st.Follow(ctx, 2*time.Second) }},
			{"engine", func(ctx context.Context) error { eng.Run(ctx); return nil }},
			{"health checks", func(ctx context.Context) error { checks.Run(ctx); return nil }},
			{"load monitors", loads.Run},
		}
		if clus != nil {
			// Stopped after the console and failover, before the checks
			// and the engine: a clean stop announces GRACEFUL_SHUTDOWN,
			// waits bgp_drain while IPVS still serves, withdraws the
			// routes, and only then takes the VIPs off the loopback.
			stages = append(stages, stage{"cluster", clus.Run})
		}
		stages = append(stages, []stage{
			// An APPLY nobody confirmed in time is rolled back, here
			// too when its deadline passed while serve was stopped.
			{"rollbacks", func(ctx context.Context) error {
				return st.WatchConfirmations(ctx, func(saved *config.Config, c *store.Confirmation, err error) {
					if err != nil {
						log.Error("rolling back an unconfirmed apply failed", "serial", c.Serial, "err", err)
						return
					}
					if saved == nil {
						log.Warn("not confirmed in time, but already undone", "serial", c.Serial, "applied_by", c.Owner)
						return
					}
					log.Warn("rolled back automatically: not confirmed in time", "serial", c.Serial, "applied_by", c.Owner,
						"within", c.Delay, "restored", c.Previous, "now", saved.Serial)
				})
			}},
		}...)
		stages = append(stages, drainStage(st, eng, director, log.With("part", "drain")))
		if *auditKeep > 0 {
			stages = append(stages, stage{"audit retention", auditRetention(st, *auditKeep, pruneEvery, time.Now, log)})
		}
		if *auditSyslog {
			w, closeSyslog, err := openSyslog()
			if err != nil {
				return fmt.Errorf("-audit-syslog: %w", err)
			}
			defer closeSyslog()
			stages = append(stages, stage{"audit to syslog", auditToSyslog(st, w, syslogEvery, log)})
		}
		if cert != nil {
			stages = append(stages, stage{"certificate", func(ctx context.Context) error { cert.Run(ctx); return nil }})
		}
		if director != nil {
			stages = append(stages, stage{"failover", func(ctx context.Context) error {
				// A failover that cannot run is in the log and on the
				// console; the console, IPVS and checks go on.
				if err := director.Run(ctx); err != nil {
					log.Error("failover stopped", "err", err)
					<-ctx.Done()
				}
				return nil
			}})
		}
		stages = append(stages,
			stage{"local socket", func(ctx context.Context) error { <-ctx.Done(); stopLocal(); return nil }},
			stage{"console", func(ctx context.Context) error {
				errc := make(chan error, 1)
				go func() {
					if tls {
						errc <- srv.ServeTLS(ln, "", "") // srv.TLSConfig has the certificate
					} else {
						errc <- srv.Serve(ln)
					}
				}()
				select {
				case err := <-errc:
					return fmt.Errorf("serving: %w", err)
				case <-ctx.Done():
				}
				log.Info("shutting down")
				endConsole()
				shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("shutting down: %w", err)
				}
				return nil
			}},
		)
		return runStages(ctx, stages...)
	}
}

// consoleURL is the address to open in a browser: a wildcard listener is
// reachable as localhost from the machine itself.
func consoleURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// isLoopback says whether addr (the console's listener) is reachable from
// this host only: 127.0.0.0/8 or ::1. An unspecified address (":3636")
// is every address, so it is not.
func isLoopback(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// selfSigned returns the console's self-signed certificate in dir, made
// (or made again, see tlscert) when needed, and renewed while serve runs.
func selfSigned(dir string, log *slog.Logger) (*tlscert.Reloader, error) {
	ensure := func(now time.Time) (string, string, error) {
		c, k, made, err := tlscert.EnsureSelfSigned(dir, tlscert.HostNames(), now)
		if err != nil {
			return "", "", fmt.Errorf("the console's self-signed certificate in %s: %w (or give -tls-cert and -tls-key)", dir, err)
		}
		if made != "" {
			log.Info("made a self-signed certificate for the console", "file", c, "why", made)
		}
		return c, k, nil
	}
	c, k, err := ensure(time.Now())
	if err != nil {
		return nil, err
	}
	return tlscert.NewReloader(tlscert.Options{CertFile: c, KeyFile: k, Log: log,
		Renew: func(now time.Time) error { _, _, err := ensure(now); return err }})
}

// writeSysctl sets the kernel setting name (its path under /proc/sys) in
// this process's network namespace.
func writeSysctl(name, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", name), []byte(value+"\n"), 0o644)
}

// dialIPVS opens IPVS in this process's network namespace.
func dialIPVS() (engine.Kernel, error) {
	c, err := ipvs.Dial(nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loadMonitors are the load monitors of serve (issue 18): rwhod's
// broadcasts heard on rwhoListen, the director's own SSH key beside the
// database (made on the first uptime reading that needs it), and the host
// key pins in the store.
func loadMonitors(st *store.Store, rwhoListen string, log *slog.Logger) *load.Monitors {
	return load.NewMonitors(load.Options{
		RwhoListen:  rwhoListen,
		DirectorKey: ensureDirectorKey(st),
		HostKeys:    st,
		Log:         log,
	})
}

// ensureDirectorKey is the director's own SSH key, directorKeyFile beside
// the database, made on first use (0600), and read once: every uptime
// reading asks for it.
func ensureDirectorKey(st *store.Store) func() (ssh.Signer, error) {
	keyFile := filepath.Join(filepath.Dir(st.Path()), directorKeyFile)
	var (
		mu     sync.Mutex
		signer ssh.Signer
	)
	return func() (ssh.Signer, error) {
		mu.Lock()
		defer mu.Unlock()
		if signer != nil {
			return signer, nil
		}
		s, err := sshload.EnsureKey(keyFile)
		if err == nil {
			signer = s // a failure is tried again at the next reading
		}
		return s, err
	}
}
