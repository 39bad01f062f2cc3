package handlers

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// BenchmarkPendingPage1000x10: what pending changes cost a page at 1,000
// virtual servers x 10 real servers: GLOBAL SETTINGS (a small page, so
// the draft's share shows) with no draft, with one, and with one whose
// running configuration moved on since (rebased on every read).
func BenchmarkPendingPage1000x10(b *testing.B) {
	_, srv, client := dashboard1000x10(b)
	ctx := context.Background()
	st := srv.Config.Handler.(*Console).store
	page := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(srv.URL + "/global")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET /global: %s", resp.Status)
			}
		}
	}
	b.Run("no-draft", page)
	if _, err := st.EditDraft(ctx, store.Change{Role: store.ScopeAdmin, Author: "admin"}, 0, func(c *config.Config) error {
		c.Virtuals[0].Reals[0].Weight = 5
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("draft", page)
	if _, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "bench"}, func(c *config.Config) error {
		c.Virtuals[999].Port = 8080
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("draft-rebased", page)
}
