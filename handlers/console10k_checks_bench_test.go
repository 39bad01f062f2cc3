//go:build unix

package handlers

import (
	"io"
	"net/http"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
)

// BenchmarkControlChecks10000x10 is BenchmarkConsole10000x10's
// CONTROL/MONITORING with serve's health source, engine.Checks, configured
// for the 10,000 x 10 (not running: every server unknown) instead of the
// benchmark's map keyed by address: what asking the checks about 100,000
// real servers costs the dashboard.
func BenchmarkControlChecks10000x10(b *testing.B) {
	c, srv, _, cfg := console10000x10(b)
	checks := engine.NewChecks()
	checks.Configure(cfg)
	c.health = checks
	client := (&testEnv{store: c.store, console: c, srv: srv}).login(b)
	cpu := cpuTime(b)
	n := 0
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/control")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /control: %s", resp.Status)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/1e6/float64(n), "cpu-ms/op")
}
