package failover

import (
	"bytes"
	"context"
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
		peer := consoleURL(st.Peer.Addr, st.Peer.Console, r.d.o.ConsoleTLS)
		key := r.key
		r.tasks.Go(func() {
			defer close(done)
			r.d.fetch(ctx, peer, key, st.Peer.Addr.String())
		})
	case syncPast:
		cfg := r.cfg.Clone()
		cfg.Serial = st.Peer.Serial + 1
		_, err := r.d.o.Source.Adopt(ctx, store.Change{Author: "lvsconsole", Note: fmt.Sprintf("the standby was at serial %d; the active's configuration prevails", st.Peer.Serial)}, cfg)
		if err != nil && !errors.Is(err, store.ErrStale) {
			r.d.setWarning("sync", "moving the serial past the standby's: "+err.Error())
		}
	}
}

// fetch takes the configuration of the active director at base.
func (d *Director) fetch(ctx context.Context, base string, key []byte, peer string) {
	err := func() error {
		cfg, err := Fetch(ctx, d.client, base, key, time.Now())
		if err != nil {
			return err
		}
		_, err = d.o.Source.Adopt(ctx, store.Change{Author: "peer " + peer, Note: "from the active director"}, cfg)
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

// newClient returns the client of the configuration sync.
//
// It does not verify a TLS console's certificate (the directors have no
// common authority to verify it by), and that is not what protects the
// configuration: the answer is sealed with a key derived from the peer
// secret, for this request only (see peerauth.go), so it is confidential
// and authenticated over plain HTTP and HTTPS alike. No proxy stands
// between two directors.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // see above: the AEAD protects the answer, not TLS
		},
	}
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
