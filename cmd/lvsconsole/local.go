package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// localSocket is where serve answers lvsconsole status: next to its
// database (data/lvsconsole.sock for data/lvsconsole.db), so that the same
// -db finds it and two databases never share one.
func localSocket(db string) string {
	return strings.TrimSuffix(db, filepath.Ext(db)) + ".sock"
}

// errAnotherServe: a serve answers on the socket of this database already.
var errAnotherServe = errors.New("another lvsconsole serve is running with this database")

// startLocal serves h on the local socket at path for lvsconsole status.
// It fails only when another serve answers there: two serves on one
// database would fight over IPVS. Any other trouble (a read-only
// directory, a path too long for a socket) is logged and serve goes on
// without it: status then reads the kernel. stop shuts it down and
// removes the file.
func startLocal(ctx context.Context, path string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	stop, err = listenLocal(ctx, path, h, log)
	if errors.Is(err, errAnotherServe) {
		return nil, err
	}
	if err != nil {
		log.Warn("no local socket: lvsconsole status will read the kernel directly", "err", err)
		return func() {}, nil
	}
	return stop, nil
}

// listenLocal serves h on a unix socket at path, mode 0600: the file's
// permissions are the only authentication, so only the user serve runs as
// (and root) can connect. A socket left by a crash is replaced.
func listenLocal(ctx context.Context, path string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	if err := clearStaleSocket(ctx, path); err != nil {
		return nil, err
	}
	// Bind under a temporary name and rename once it is 0600: the final
	// name never has looser permissions, whatever the umask.
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listening on the local socket %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // its name changes: we remove the file ourselves
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("restricting the local socket %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("placing the local socket at %s: %w", path, err)
	}
	ours, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("local socket %s: %w", path, err)
	}

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			log.Error("local socket stopped", "path", path, "err", err)
		case <-lctx.Done():
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			srv.Shutdown(sctx)
			scancel()
		}
		// Remove only our own file: a serve started since may have put its
		// socket there.
		if fi, err := os.Lstat(path); err == nil && os.SameFile(fi, ours) {
			os.Remove(path)
		}
	}()
	log.Info("local socket listening", "path", path)
	return func() { cancel(); <-done }, nil
}

// clearStaleSocket removes a socket at path that nothing answers on.
func clearStaleSocket(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the local socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: not replacing it (move it away, or use another -db)", path)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "unix", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w (it answers on %s)", errAnotherServe, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("checking the local socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the stale local socket %s: %w", path, err)
	}
	return nil
}

// ipvsInfo reads the IPVS version for the local status. The engine keeps
// no client for it, and it is asked rarely.
func ipvsInfo(ctx context.Context) (ipvs.Info, error) {
	c, err := ipvs.Dial(nil)
	if err != nil {
		return ipvs.Info{}, err
	}
	defer c.Close()
	return c.Info(ctx)
}

// errNotServing says that no lvsconsole serve answers on the socket.
var errNotServing = errors.New("lvsconsole serve is not running")

// fetchLocal asks the serve of the socket at path for its status; the
// error wraps errNotServing when there is no socket or nobody answers.
func fetchLocal(ctx context.Context, path string) (*handlers.LocalStatus, error) {
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		},
		Timeout: 10 * time.Second,
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lvsconsole/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (no answer on %s)", errNotServing, path)
		}
		return nil, fmt.Errorf("asking lvsconsole serve on %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("lvsconsole serve on %s answered %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	var st handlers.LocalStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("reading the answer of lvsconsole serve on %s: %w", path, err)
	}
	return &st, nil
}
