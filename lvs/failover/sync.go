package failover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxConfig bounds a configuration taken from the peer.
const maxConfig = 64 << 20

// syncAction is what the configuration sync does on a change of pulse.
type syncAction int

const (
	syncNothing syncAction = iota
	// syncFetch: the standby takes the active's configuration.
	syncFetch
	// syncPast: the active moves its serial past the standby's.
	syncPast
)

// syncStep decides how to keep the configurations of the pair the same,
// from what pulse says and this director's serial: the standby takes the
// active's whenever the active's serial is ahead (the heartbeat carries
// it); an active whose standby is ahead (it accepted edits the active
// never saw, e.g. before a failover) moves its own serial past the
// standby's, so that the standby takes the active's configuration.
func syncStep(st pulse.Status, serial int64) syncAction {
	switch {
	case !st.Decided || !st.Peer.Heard || st.Peer.Serial <= serial:
		return syncNothing
	case st.Role == pulse.Standby && st.Peer.Role == pulse.Active && st.Peer.Console != 0:
		return syncFetch
	case st.Role == pulse.Active && st.Peer.Role == pulse.Standby:
		return syncPast
	}
	return syncNothing
}

// syncConfig does what syncStep decides.
func (r *run) syncConfig(ctx context.Context, st pulse.Status) {
	if r.cfg == nil {
		return
	}
	switch syncStep(st, r.cfg.Serial) {
	case syncFetch:
		if r.syncing != nil {
			select {
			case <-r.syncing:
			default:
				return // one fetch at a time; the next heartbeat asks again
			}
		}
		done := make(chan struct{})
		r.syncing = done
		peer := consoleURL(st.Peer.Addr, st.Peer.Console, st.Peer.ConsolePin)
		key, pin := r.key, st.Peer.ConsolePin
		r.tasks.Go(func() {
			defer close(done)
			r.d.fetch(ctx, peer, pin, key, st.Peer.Addr.String())
		})
	case syncPast:
		cfg := r.cfg.Clone()
		cfg.Serial = st.Peer.Serial + 1
		_, err := r.d.o.Source.Adopt(ctx, store.Change{Role: store.ScopeAdmin, Author: "lvsconsole", Note: fmt.Sprintf("the standby was at serial %d; the active's configuration prevails", st.Peer.Serial)}, cfg)
		if err != nil && !errors.Is(err, store.ErrStale) {
			r.d.setWarning("sync", "moving the serial past the standby's: "+err.Error())
		}
	}
}

// fetch takes the configuration of the active director at base, whose
// certificate has pin (zero: base is plain HTTP).
func (d *Director) fetch(ctx context.Context, base string, pin [32]byte, key []byte, peer string) {
	err := func() error {
		client := PinnedClient(pin)
		defer client.CloseIdleConnections()
		cfg, err := Fetch(ctx, client, base, key, time.Now())
		if err != nil {
			return err
		}
		_, err = d.o.Source.Adopt(ctx, store.Change{Role: store.ScopeAdmin, Author: "peer " + peer, Note: "from the active director"}, cfg)
		if errors.Is(err, store.ErrStale) {
			return nil // already there
		}
		return err
	}()
	if err != nil {
		d.setWarning("sync", fmt.Sprintf("taking the configuration from the active director %s: %v", base, err))
		return
	}
	d.setWarning("sync", "")
	d.mu.Lock()
	d.status.LastSync = time.Now()
	d.mu.Unlock()
	d.log.Info("configuration taken from the active director", "peer", base)
}

// PinnedClient returns a client of the configuration sync that accepts
// only a TLS connection whose certificate hashes (SHA-256 of its DER) to
// exactly pin, the one the peer's heartbeat told; the zero pin is a peer
// console served over plain HTTP, and then the URL is http://.
//
// No authority is consulted (the directors have none in common): the pin
// comes from the heartbeat, signed with the peer secret, so only the peer
// can tell it, and only the console holding that certificate's key gets
// the request. What protects the configuration itself is the sealing of
// the answer with a key derived from the peer secret, for this request
// only (see peerauth.go), over plain HTTP and HTTPS alike. No proxy stands
// between two directors.
func PinnedClient(pin [32]byte) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				// The chain and names are not checked (a self-signed
				// certificate has none to check): VerifyConnection checks
				// the pin instead, at every handshake.
				InsecureSkipVerify: true,
				VerifyConnection:   func(cs tls.ConnectionState) error { return verifyPin(cs, pin) },
			},
		},
	}
}

// ErrPin is a peer console whose certificate is not the one its heartbeat
// told.
var ErrPin = errors.New("the peer console's certificate is not the one its heartbeat told")

func verifyPin(cs tls.ConnectionState, pin [32]byte) error {
	if pin == ([32]byte{}) {
		return fmt.Errorf("%w: it told none (a plain HTTP console), yet answers with TLS", ErrPin)
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: it showed no certificate", ErrPin)
	}
	got := sha256.Sum256(cs.PeerCertificates[0].Raw)
	if got != pin {
		return fmt.Errorf("%w: SHA-256 %X, want %X", ErrPin, got, pin)
	}
	return nil
}

// Fetch asks the console at base (scheme://host:port) for its
// configuration, proving it holds secret, and opens the sealed answer.
func Fetch(ctx context.Context, client *http.Client, base string, secret []byte, now time.Time) (*config.Config, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+ConfigPath, nil)
	if err != nil {
		return nil, err
	}
	q := SignRequest(req, secret, now)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The active says no more than its status, whatever the reason; its
		// log says which.
		return nil, fmt.Errorf("the peer refused the request (%s): the peer secrets differ, the clocks are more than %v apart, or it took the request for a replay; its log says which", resp.Status, skew)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfig+sealOverhead+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxConfig+sealOverhead {
		return nil, fmt.Errorf("the configuration is over %d bytes", maxConfig)
	}
	text, err := OpenAnswer(secret, q, body)
	if err != nil {
		return nil, err
	}
	cfg, err := lvscf.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the peer's configuration: %w", err)
	}
	return cfg, nil
}
