package handlers

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/store"
)

// The console's upload takes a keepalived.conf and ipvsadm's rules as
// well as an lvs.cf, told apart by their content, into the pending
// changes, and REVIEW shows what they change with the import's warnings;
// a keepalived include is refused (an upload must not read the
// director's files) with its line, and the text is kept to correct.
func TestUploadFormats(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	ka := `virtual_server 192.0.2.10 80 {
    delay_loop 10
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 10.0.0.1 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 2
        }
        alpha
    }
}
`
	a := follow(t, c, e.srv.URL, e.upload(t, c, "keepalived.conf", ka))
	body := html.UnescapeString(a.body)
	if a.code != http.StatusOK || !strings.Contains(body, "keepalived.conf imported into your pending changes") ||
		!strings.Contains(body, "virtual server vs_192.0.2.10_80 added") || !strings.Contains(body, `id="review-changes"`) {
		t.Fatalf("keepalived.conf upload = %d:\n%s", a.code, body)
	}
	if len(e.config(t).Virtuals) != 0 {
		t.Fatal("an upload changed the running configuration")
	}
	d, err := e.store.Draft(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if vs := d.Config.Virtuals[0]; vs.Scheduler != "wrr" || vs.Reals[0].Weight != 3 {
		t.Errorf("the pending virtual server %+v", vs)
	}
	if err := e.store.DiscardDraft(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}

	// keepalived's notify_up is a program root runs: without the
	// password the upload is refused, beside the password field.
	withProgram := strings.Replace(ka, "        alpha\n", "        notify_up /bin/true\n", 1)
	a = e.upload(t, c, "keepalived.conf", withProgram)
	if body := html.UnescapeString(a.body); a.code != http.StatusForbidden ||
		!strings.Contains(body, "notify_up of real server rs_10.0.0.1_80 of virtual server vs_192.0.2.10_80 is a program the directors run as root") {
		t.Errorf("keepalived.conf upload with notify_up = %d:\n%s", a.code, body)
	}

	rules := "-A -t 192.0.2.20:443 -s sh -b sh-port\n-a -t 192.0.2.20:443 -r 10.0.0.2:443 -m -w 2\n"
	a = follow(t, c, e.srv.URL, e.upload(t, c, "rules", rules))
	body = html.UnescapeString(a.body)
	if a.code != http.StatusOK || !strings.Contains(body, "virtual server tcp_192.0.2.20_443 added") {
		t.Fatalf("ipvsadm rules upload = %d:\n%s", a.code, body)
	}
	if err := e.store.DiscardDraft(context.Background(), "admin"); err != nil {
		t.Fatal(err)
	}

	a = e.upload(t, c, "inc.conf", "include /etc/shadow\n"+ka)
	body = html.UnescapeString(a.body)
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(body, "inc.conf:1: include: includes are not followed") ||
		!strings.Contains(body, "include /etc/shadow\nvirtual_server") {
		t.Fatalf("an include = %d:\n%s", a.code, body)
	}
	if _, err := e.store.Draft(context.Background(), "admin"); err != store.ErrNoDraft {
		t.Errorf("a refused upload made pending changes: %v", err)
	}
}
