package failover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxConfig bounds a configuration taken from the peer.
const maxConfig = 64 << 20

// maxAccounts bounds the users and tokens taken from the peer: store's
// MaxAccountRows of each, at a few hundred bytes a row.
const maxAccounts = 16 << 20

// accountsEvery is how often the standby takes the active's users and
// tokens, when Options.AccountsEvery is zero. They change without the
// serial the heartbeat carries, so the standby asks on its own; and after
// each configuration sync.
const accountsEvery = 5 * time.Second

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

// accountsFrom says whether this director takes users and tokens from its
// peer: it is the standby, and hears the active with a console.
func accountsFrom(st pulse.Status) bool {
	return st.Decided && st.Peer.Heard && st.Role == pulse.Standby && st.Peer.Role == pulse.Active && st.Peer.Console != 0
}

// syncConfig does what syncStep decides, and takes the active's users
// and tokens with each configuration fetch and every AccountsEvery.
func (r *run) syncConfig(ctx context.Context, st pulse.Status) {
	if r.cfg == nil {
		return
	}
	step := syncStep(st, r.cfg.Serial)
	// Half the period: the tick comes a period after the last tick, not
	// quite a period after the fetch it started.
	accounts := accountsFrom(st) && (step == syncFetch || time.Since(r.accountsAt) >= r.d.o.AccountsEvery/2)
	switch {
	case step == syncFetch || accounts:
		if r.syncing != nil {
			select {
			case <-r.syncing:
			default:
				return // one fetch at a time; the next tick asks again
			}
		}
		done := make(chan struct{})
		r.syncing = done
		peer := consoleURL(st.Peer.Addr, st.Peer.Console, st.Peer.ConsolePin)
		key, pin := r.key, st.Peer.ConsolePin
		if accounts {
			r.accountsAt = time.Now()
		}
		r.tasks.Go(func() {
			defer close(done)
			if step == syncFetch {
				r.d.fetch(ctx, peer, pin, key, st.Peer.Addr.String())
			}
			if accounts {
				r.d.fetchAccounts(ctx, peer, pin, key, st.Peer.Addr.String())
			}
		})
	case step == syncPast:
		cfg := r.cfg.Clone()
		cfg.Serial = st.Peer.Serial + 1
		_, err := r.d.o.Source.Adopt(ctx, store.Change{Role: store.ScopeAdmin, Author: "lvsconsole", Note: fmt.Sprintf("the standby was at serial %d; the active's configuration prevails", st.Peer.Serial)}, cfg)
		if err != nil && !errors.Is(err, store.ErrStale) {
			r.d.setWarning("sync", "moving the serial past the standby's: "+err.Error())
		}
	}
}

// fetchAccounts takes the users and API tokens of the active director at
// base, as fetch takes its configuration: through the same signed request,
// pinned connection and sealed answer. What the store refuses (accounts
// without an enabled admin, of another version) changes nothing here.
func (d *Director) fetchAccounts(ctx context.Context, base string, pin [32]byte, key []byte, peer string) {
	changes, err := func() (store.AccountChanges, error) {
		client := PinnedClient(pin)
		defer client.CloseIdleConnections()
		a, err := FetchAccounts(ctx, client, base, key, time.Now())
		if err != nil {
			return nil, err
		}
		return d.o.Source.AdoptAccounts(store.WithActor(ctx, store.Actor{Name: "peer " + peer}), a)
	}()
	if err != nil {
		if ctx.Err() == nil {
			d.setWarning("accounts", fmt.Sprintf("taking the users and API tokens from the active director %s: %v", base, err))
		}
		return
	}
	d.setWarning("accounts", "")
	d.mu.Lock()
	d.status.LastAccounts = time.Now()
	d.mu.Unlock()
	if len(changes) > 0 {
		d.signal() // not every few seconds for nothing: pages follow Changes
		d.log.Info("users and API tokens taken from the active director", "peer", base, "changes", strings.Join(changes, "; "))
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
		// The peer never redirects: a redirect is an older console sending
		// an unknown path to its login page.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
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
	text, err := FetchSealed(ctx, client, base, ConfigPath, secret, now, maxConfig)
	if err != nil {
		return nil, err
	}
	cfg, err := lvscf.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the peer's configuration: %w", err)
	}
	return cfg, nil
}

// FetchAccounts asks the console at base for its users and API tokens, as
// Fetch asks for the configuration.
func FetchAccounts(ctx context.Context, client *http.Client, base string, secret []byte, now time.Time) (store.Accounts, error) {
	var a store.Accounts
	text, err := FetchSealed(ctx, client, base, AccountsPath, secret, now, maxAccounts)
	if err != nil {
		return a, err
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber() // integers as they are, not as float64
	if err := dec.Decode(&a); err != nil {
		return a, fmt.Errorf("the peer's accounts: %w", err)
	}
	return a, nil
}

// FetchSealed makes the signed request for path at base and opens its
// sealed answer, of at most limit bytes: Fetch and FetchAccounts, and the
// cluster's directors asking each other for their status
// (/peer/v2/cluster), whose answer is sealed alike (SealAnswer).
func FetchSealed(ctx context.Context, client *http.Client, base, path string, secret []byte, now time.Time, limit int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	q := SignRequest(req, secret, now)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// The active says no more than its status, whatever the reason; its
		// log says which.
		return nil, fmt.Errorf("the peer refused the request (%s): the peer secrets differ, the clocks are more than %v apart, or it took the request for a replay; its log says which", resp.Status, skew)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("the peer answered %s to %s: it does not serve it (an older version? upgrade both directors together)", resp.Status, path)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit+sealOverhead+1)))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > limit+sealOverhead {
		return nil, fmt.Errorf("the answer to %s is over %d bytes", path, limit)
	}
	return OpenAnswer(secret, q, body)
}
