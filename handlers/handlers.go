// Package handlers is the console's HTTP layer: routes, middleware and the
// translation between forms and the store. Handlers read and write the
// store only; they never talk to the kernel.
package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lvsconsole/lvsconsole/store"
)

// New returns the console's handler.
func New(st *store.Store, log *slog.Logger) http.Handler {
	h := &server{store: st, log: log}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", h.health)
	return r
}

type server struct {
	store *store.Store
	log   *slog.Logger
}

// health answers whether the database can be read, for service managers and
// load balancer probes. It is open without login, so it says nothing of the
// configuration.
func (h *server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if _, err := h.store.Config(r.Context()); err != nil {
		h.log.Error("health check", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": "the database cannot be read"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}
