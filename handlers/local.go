package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// LocalOptions configure the local API.
type LocalOptions struct {
	Store    *store.Store
	Log      *slog.Logger
	Engine   StatusSource   // nil when none runs
	Failover FailoverSource // nil when none runs
	// Info reads the IPVS version and connection table size, for the
	// header of ipvsadm's listing; nil, or an error, leaves it out.
	Info func(ctx context.Context) (ipvs.Info, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewLocal returns the local API that lvsconsole serve offers on a unix
// socket next to its database, for lvsconsole status: GET /status answers
// a LocalStatus in JSON. It has no login: whoever can open the socket
// (mode 0600, the user serve runs as) may read it, as with docker.sock.
// It must never be served on the console's TCP listener.
func NewLocal(o LocalOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &local{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", l.status)
	return mux
}

type local struct{ o LocalOptions }

// LocalStatus is the answer of the local GET /status. Serve and status are
// the same binary, so it carries the engine's and failover's own types:
// they go through JSON whole (64-bit counters, flags, tunnels, addresses).
type LocalStatus struct {
	// Time is serve's clock when it answered: ages are measured against
	// it, not against the reader's clock.
	Time     time.Time        `json:"time"`
	Serial   int64            `json:"serial"`             // the accepted configuration's
	IPVS     *ipvs.Info       `json:"ipvs,omitempty"`     // nil: unknown (no IPVS)
	Engine   *engine.Status   `json:"engine,omitempty"`   // nil: no engine in that process
	Failover *failover.Status `json:"failover,omitempty"` // nil: failover is off (serve -failover=false)
}

func (l *local) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	serial, err := l.o.Store.Serial(ctx)
	if err != nil {
		l.o.Log.Error("local status: reading the configuration serial", "err", err)
		http.Error(w, "reading the configuration serial failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	out := LocalStatus{Time: l.o.Now(), Serial: serial}
	if l.o.Engine != nil {
		st := l.o.Engine.Status()
		st.Kernel = named(st.Kernel, virtualNames(st))
		out.Engine = &st
		// Ask the kernel only when the engine reaches it: without IPVS
		// the question fails anyway.
		if st.Available && l.o.Info != nil {
			if info, err := l.o.Info(ctx); err != nil {
				l.o.Log.Warn("local status: reading the IPVS version", "err", err)
			} else {
				out.IPVS = &info
			}
		}
	}
	if l.o.Failover != nil {
		st := l.o.Failover.Status()
		out.Failover = &st
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		l.o.Log.Warn("local status: writing the answer", "err", err)
	}
}

// named returns a copy of the kernel's table t with its services named
// after their virtual servers, which the kernel does not know. The engine's
// table is shared and is not changed.
func named(t *engine.Table, names map[ipvs.ServiceKey]string) *engine.Table {
	if t == nil {
		return nil
	}
	c := &engine.Table{Timeouts: t.Timeouts, Services: make([]*engine.Service, len(t.Services))}
	for i, s := range t.Services {
		cs := *s
		if cs.Virtual == "" {
			cs.Virtual = names[s.ServiceKey]
		}
		c.Services[i] = &cs
	}
	return c
}
