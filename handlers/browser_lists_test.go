package handlers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// rowNames are the data-name of the rows of table sel, in order.
func rowNames(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	return run(t, ctx, "reading the rows of "+sel, chromedp.Evaluate[[]string](
		fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.dataset.name)`, sel+" tbody tr")))
}

// names are the names fmt makes of the numbers from lo to hi - 1.
func names(format string, lo, hi int) []string {
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// wantQuery checks that the browser is on path with the query want (the
// search form sends its empty fields too).
func wantQuery(t *testing.T, ctx context.Context, path string, want url.Values) {
	t.Helper()
	u, err := url.Parse(location(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	got := u.Query()
	for k, v := range got {
		if slices.Equal(v, []string{""}) {
			delete(got, k) // an empty field of the search form
		}
	}
	if u.Path != path || got.Encode() != want.Encode() {
		t.Fatalf("the browser is at %s, want %s?%s", u.RequestURI(), path, want.Encode())
	}
}

// search types words and picks a state in a list's search, and submits it.
func search(t *testing.T, ctx context.Context, q, state string) {
	t.Helper()
	fill(t, ctx, map[string]string{"q": q})
	run(t, ctx, "picking the state "+state, chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById("state").value = %q) === %q`, state, state)))
	submit(t, ctx, "searching "+q, "#search-submit")
}

// TestBrowserLongLists browses the console at issue 20's size, 10,000
// virtual servers of 10 real servers, in chromium: VIRTUAL SERVERS shows a
// page of 50, NEXT the next 50; a search narrows the list and its pages
// keep it; DEACTIVATE on a page of a search comes back to that page of
// that search, the row changed; a state narrows further; a virtual
// server's REAL SERVER list finds its real server down, and DRAIN on a
// searched list comes back to it.
func TestBrowserLongLists(t *testing.T) {
	_, srv, _, cfg := console10000x10(t)
	b := browser(t)
	logInAs(t, b, srv.URL, "admin", testPassword)

	step(t, b, "opening VIRTUAL SERVERS", chromedp.Navigate(srv.URL+"/virtual"))
	if got, want := rowNames(t, b, "#virtuals"), names("vs%05d", 0, 50); !slices.Equal(got, want) {
		t.Fatalf("the first page lists %d virtual servers %q..., want vs00000 to vs00049", len(got), got[:min(len(got), 3)])
	}
	if got := run(t, b, "reading the count", chromedp.Text(chromedp.ID("pager-count"))); !strings.Contains(got, "1–50 of 10000") {
		t.Errorf("the pager says %q, want 1–50 of 10000", got)
	}
	submit(t, b, "going to the next page", "#page-next")
	wantQuery(t, b, "/virtual", url.Values{"page": {"2"}})
	if got, want := rowNames(t, b, "#virtuals"), names("vs%05d", 50, 100); !slices.Equal(got, want) {
		t.Fatalf("NEXT lists %q..., want vs00050 to vs00099", got[:min(len(got), 3)])
	}

	// A search: vs01 is in the names of vs01000 to vs01999, 20 pages.
	search(t, b, "VS01", "")
	wantQuery(t, b, "/virtual", url.Values{"q": {"VS01"}})
	if got, want := rowNames(t, b, "#virtuals"), names("vs%05d", 1000, 1050); !slices.Equal(got, want) {
		t.Fatalf("the search lists %q..., want vs01000 to vs01049", got[:min(len(got), 3)])
	}
	if got := run(t, b, "reading the count", chromedp.Text(chromedp.ID("pager-count"))); !strings.Contains(got, "1–50 of 1000 matching, of 10000") {
		t.Errorf("the pager says %q, want 1–50 of 1000 matching, of 10000", got)
	}
	submit(t, b, "going to the search's next page", "#page-next")
	wantQuery(t, b, "/virtual", url.Values{"q": {"VS01"}, "page": {"2"}})
	if got, want := rowNames(t, b, "#virtuals"), names("vs%05d", 1050, 1100); !slices.Equal(got, want) {
		t.Fatalf("the search's NEXT lists %q..., want vs01050 to vs01099", got[:min(len(got), 3)])
	}

	// DEACTIVATE on that page comes back to it, the row changed.
	submit(t, b, "deactivating vs01060", `tr[data-name="vs01060"] button.toggle`)
	wantQuery(t, b, "/virtual", url.Values{"q": {"VS01"}, "page": {"2"}})
	if got, want := rowNames(t, b, "#virtuals"), names("vs%05d", 1050, 1100); !slices.Equal(got, want) {
		t.Fatalf("after DEACTIVATE the list shows %q..., want the same page of the search", got[:min(len(got), 3)])
	}
	if got := run(t, b, "reading the flash", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(got, "Virtual server vs01060 deactivated.") {
		t.Errorf("no word of the deactivation:\n%.300s", got)
	}
	if n := count(t, b, `tr[data-name="vs01060"] button.toggle`); n != 1 || run(t, b, "reading the button",
		chromedp.Text(chromedp.CSS(`tr[data-name="vs01060"] button.toggle`))) != "ACTIVATE" {
		t.Error("vs01060 does not offer ACTIVATE after DEACTIVATE")
	}
	// A state narrows the search: the one inactive virtual server.
	search(t, b, "vs01", "inactive")
	if got := rowNames(t, b, "#virtuals"); !slices.Equal(got, []string{"vs01060"}) {
		t.Errorf("the inactive ones of vs01 are %q, want vs01060", got)
	}

	// vs00100's rs9 is down (console10000x10): its REAL SERVER list finds it.
	vs := &cfg.Virtuals[100]
	step(t, b, "opening vs00100's real servers", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real", srv.URL, vs.ID)))
	if got, want := rowNames(t, b, "#reals"), names("rs%d", 0, 10); !slices.Equal(got, want) {
		t.Fatalf("vs00100 lists %q, want rs0 to rs9", got)
	}
	search(t, b, "", "down")
	if got := rowNames(t, b, "#reals"); !slices.Equal(got, []string{"rs9"}) {
		t.Errorf("the real servers down are %q, want rs9", got)
	}
	// DRAIN on a searched list comes back to it.
	search(t, b, "rs3", "")
	if got := rowNames(t, b, "#reals"); !slices.Equal(got, []string{"rs3"}) {
		t.Fatalf("the search rs3 lists %q", got)
	}
	submit(t, b, "draining rs3", `tr[data-name="rs3"] button.drain`)
	wantQuery(t, b, fmt.Sprintf("/virtual/%d/real", vs.ID), url.Values{"q": {"rs3"}})
	if n := count(t, b, `tr[data-name="rs3"] .badge.drain`); n != 1 {
		t.Errorf("rs3 shows no drain after DRAIN (%d badges)", n)
	}
	if got := rowNames(t, b, "#reals"); !slices.Equal(got, []string{"rs3"}) {
		t.Errorf("after DRAIN the list shows %q, want the search's rs3", got)
	}
}
