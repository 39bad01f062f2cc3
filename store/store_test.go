package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/config/configtest"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "data", "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if t, ok := t.(*testing.T); ok { // benchmarks of 10,000 x 10 would encode it at every lend
		st.GuardShared()
		t.Cleanup(func() {
			if err := st.SharedChanged(); err != nil {
				t.Error(err)
			}
		})
	}
	return st
}

var ctx = context.Background()

// rich returns a valid configuration that sets every field of the model:
// configtest.Rich (every registered field at its example, in virtual
// server www and its real server web1), with a second real server web2
// and two more virtual servers, dns6 and mark. Its programs are root's,
// and a change that brings them in needs Elevated (see programs_test.go).
func rich() *config.Config {
	a := netip.MustParseAddr
	c := configtest.Rich()
	www := &c.Virtuals[0]
	www.Reals = append(www.Reals, config.RealServer{Name: "web2", Active: true, Address: a("10.10.0.12"), Port: 8080,
		Weight: 2, Forward: config.NAT, UpperThreshold: 1000, LowerThreshold: 800})
	c.Virtuals = append(c.Virtuals,
		config.VirtualServer{
			Name: "dns6", Active: true, Address: a("2001:db8::53"), Device: "eth0", Netmask: config.MaskBits(64),
			Protocol: config.UDP, Port: 53, Scheduler: "mh", SchedFallback: true, SchedPort: true, OnePacket: true,
			CheckTimeout: 1500 * time.Millisecond, Reentry: 0, Expect: "^ok", UseRegex: true,
			SendProgram: "/bin/true %h %p", CheckKind: "program", CheckInterval: 3 * time.Second, CheckFailures: 2,
			Reals: []config.RealServer{
				{Name: "ns1", Active: true, Address: a("2001:db8:1::1"), Weight: 10, Forward: config.Direct},
				{Name: "ns-v4", Active: false, Address: a("10.10.0.53"), Weight: 1, Forward: config.Tunnel},
			},
		},
		config.VirtualServer{
			Name: "mark", Active: false, Address: a("192.0.2.101"), Protocol: config.TCP, FWMark: 3,
			Scheduler: "sh", CheckTimeout: 10 * time.Second, Reentry: 180 * time.Second,
			Reals: []config.RealServer{{Name: "m1", Address: a("10.10.0.21"), Port: 443, Weight: 5}},
		})
	return c
}

// withoutIDs returns c with ids and serial cleared, for comparing configs
// that went through different writers.
func withoutIDs(c *config.Config) *config.Config {
	n := c.Clone()
	n.Serial = 0
	for i := range n.Virtuals {
		n.Virtuals[i].ID = 0
		for j := range n.Virtuals[i].Reals {
			n.Virtuals[i].Reals[j].ID = 0
		}
	}
	return n
}

func TestOpenSeedsAValidDefault(t *testing.T) {
	st := openTest(t)
	c, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Serial != 1 {
		t.Errorf("serial of a new database = %d, want 1", c.Serial)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("default configuration is invalid: %v", err)
	}
	want := config.Default()
	want.Serial = 1
	if !reflect.DeepEqual(c, want) {
		t.Errorf("new database holds\n%+v\nwant\n%+v", c, want)
	}
	revs, err := st.Revisions(ctx, 0, 10)
	if err != nil || len(revs) != 1 || revs[0].Serial != 1 {
		t.Fatalf("revisions = %+v, %v; want the initial one", revs, err)
	}
	v, err := st.SchemaVersion(ctx)
	if err != nil || v < 1 {
		t.Errorf("schema version = %d, %v", v, err)
	}

	// Reopening neither re-seeds nor re-migrates.
	path := st.Path()
	st.Close()
	st2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if c, _ := st2.Config(ctx); c.Serial != 1 {
		t.Errorf("serial after reopen = %d", c.Serial)
	}
}

func TestEveryFieldSurvivesTheDatabase(t *testing.T) {
	st := openTest(t)
	in := rich()
	if err := in.Validate(); err != nil {
		t.Fatalf("test configuration invalid: %v", err)
	}
	saved, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, in)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Serial != 2 {
		t.Errorf("serial = %d, want 2", saved.Serial)
	}
	for _, vs := range saved.Virtuals {
		if vs.ID == 0 {
			t.Errorf("virtual %s has no id", vs.Name)
		}
		for _, rs := range vs.Reals {
			if rs.ID == 0 {
				t.Errorf("real %s has no id", rs.Name)
			}
		}
	}
	got, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, saved) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, saved)
	}
	if !reflect.DeepEqual(withoutIDs(got), withoutIDs(in)) {
		t.Errorf("read back differs from what was written")
	}
	// The revision's snapshot is the same configuration.
	_, snap, err := st.Revision(ctx, saved.Serial)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snap, saved) {
		t.Errorf("revision snapshot\n%+v\nwant\n%+v", snap, saved)
	}
}

func TestUpdateEditsAndRecordsRevisions(t *testing.T) {
	st := openTest(t)
	c, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "alice", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	webID := c.Virtuals[0].Reals[1].ID
	c2, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "bob", Base: c.Serial}, func(c *config.Config) error {
		c.Virtual("www").Real("web2").Weight = 7
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Serial != c.Serial+1 || c2.Virtuals[0].Reals[1].Weight != 7 || c2.Virtuals[0].Reals[1].ID != webID {
		t.Fatalf("after weight change: serial %d weight %d id %d", c2.Serial, c2.Virtuals[0].Reals[1].Weight, c2.Virtuals[0].Reals[1].ID)
	}
	revs, err := st.Revisions(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := revs[0]; r.Author != "bob" || r.Serial != c2.Serial || r.Summary != "virtual server www, real server web2: Weight (weight) 2 -> 7" {
		t.Errorf("revision = %+v", r)
	}
	if time.Since(revs[0].Created) > time.Minute || revs[0].Created.After(time.Now().Add(time.Second)) {
		t.Errorf("revision time %v is not now", revs[0].Created)
	}

	// Add, delete, move and rename in one change.
	c3, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "carol"}, func(c *config.Config) error {
		www := c.Virtual("www")
		moved := www.Reals[0]
		moved.Port = 80 // the firewall-mark service has none to inherit
		www.Reals = www.Reals[1:]
		mark := c.Virtual("mark")
		mark.Reals = append(mark.Reals, moved)
		c.Virtuals = append(c.Virtuals, config.NewVirtual("new"))
		c.Virtuals = append(c.Virtuals[:1], c.Virtuals[2:]...) // delete dns6
		// swap two names in one change
		c.Virtuals[0].Name, c.Virtuals[1].Name = c.Virtuals[1].Name, c.Virtuals[0].Name
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c3) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, c3)
	}
	names := []string{}
	for _, vs := range got.Virtuals {
		names = append(names, vs.Name)
	}
	if strings.Join(names, ",") != "mark,www,new" || len(got.Virtuals[0].Reals) != 1 || got.Virtuals[1].Reals[1].Name != "web1" {
		t.Errorf("after the change: %v %+v", names, got.Virtuals)
	}
	var n int
	st.ro.QueryRow(`SELECT COUNT(*) FROM real_servers`).Scan(&n)
	if n != 3 {
		t.Errorf("%d real server rows, want 3 (dns6's went with it)", n)
	}
}

// fileSums hashes the database and its WAL.
func fileSums(t *testing.T, st *Store) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	for _, f := range []string{st.Path(), st.Path() + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		sums[f] = sha256.Sum256(b)
	}
	return sums
}

func TestRefusedChangesLeaveTheFileUnchanged(t *testing.T) {
	st := openTest(t)
	base, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtual("www").Real("web1").Weight = 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := fileSums(t, st)
	cfgBefore, _ := st.Config(ctx)

	cases := []struct {
		name string
		ch   Change
		fn   func(*config.Config) error
		want func(error) bool
	}{
		{"bad weight", Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error {
			c.Virtual("www").Real("web1").Weight = -1
			c.Virtual("www").Name = "renamed" // a valid edit in the same change is not saved either
			return nil
		}, func(err error) bool {
			var ve *config.ValidationError
			return errors.As(err, &ve) && ve.Fields[0].Field == "weight"
		}},
		{"bad port after adding a server", Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error {
			vs := c.Virtual("www")
			vs.Reals = append(vs.Reals, config.RealServer{Name: "web3", Address: netip.MustParseAddr("10.10.0.13"), Weight: 1})
			vs.Port = 70000
			return nil
		}, func(err error) bool { return strings.Contains(err.Error(), "port: 70000 is out of range: use 0-65535") }}, // www has a firewall mark
		{"caller error", Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error {
			c.Virtuals = nil
			return errors.New("changed my mind")
		}, func(err error) bool { return err.Error() == "changed my mind" }},
		{"stale base", Change{Role: ScopeAdmin, Author: "t", Base: base.Serial}, func(c *config.Config) error {
			c.Global.TCPTimeout = 1
			return nil
		}, func(err error) bool {
			var ce *ConflictError
			return errors.Is(err, ErrConflict) && errors.As(err, &ce) && ce.Current.Serial == base.Serial+1
		}},
		{"no change", Change{Role: ScopeAdmin, Author: "t"}, func(c *config.Config) error { return nil },
			func(err error) bool { return errors.Is(err, ErrNoChange) }},
		{"no author", Change{Role: ScopeAdmin}, func(c *config.Config) error { c.Global.TCPTimeout = 5; return nil },
			func(err error) bool { return err != nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Update(ctx, tc.ch, tc.fn)
			if err == nil || !tc.want(err) {
				t.Fatalf("Update error = %v", err)
			}
			if after := fileSums(t, st); !reflect.DeepEqual(before, after) {
				t.Errorf("the database files changed")
			}
			if c, _ := st.Config(ctx); !reflect.DeepEqual(c, cfgBefore) {
				t.Errorf("the configuration changed")
			}
		})
	}
}

func TestRestore(t *testing.T) {
	st := openTest(t)
	first, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals = c.Virtuals[:1]
		c.Virtuals[0].Port = 8080
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	restored, err := st.Restore(ctx, Change{Role: ScopeAdmin, Author: "admin", Elevated: true}, first.Serial)
	if err != nil {
		t.Fatal(err)
	}
	want := first.Clone()
	want.Serial = first.Serial + 2
	if !reflect.DeepEqual(restored, want) {
		t.Errorf("restored\n%+v\nwant (with the old ids)\n%+v", restored, want)
	}
	revs, _ := st.Revisions(ctx, 0, 1)
	if !strings.HasPrefix(revs[0].Summary, "restored revision 2: ") || !strings.Contains(revs[0].Summary, "virtual server dns6 added") {
		t.Errorf("summary = %q", revs[0].Summary)
	}
	if _, err := st.Restore(ctx, Change{Role: ScopeAdmin, Author: "admin"}, 99); !errors.Is(err, ErrNoRevision) {
		t.Errorf("restoring a missing revision: %v", err)
	}
	// Paging through the history.
	older, err := st.Revisions(ctx, revs[0].Serial, 10)
	if err != nil || len(older) != 3 || older[0].Serial != revs[0].Serial-1 {
		t.Errorf("older revisions = %+v, %v", older, err)
	}
}

func TestReplaceKeepsIDsByName(t *testing.T) {
	st := openTest(t)
	first, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	in := withoutIDs(rich())
	in.Virtuals[0].Reals[0].Weight = 9
	in.Virtuals[0].Reals = append(in.Virtuals[0].Reals, config.RealServer{Name: "web3", Address: netip.MustParseAddr("10.10.0.13"), Weight: 1})
	second, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Note: "import of lvs.cf"}, in)
	if err != nil {
		t.Fatal(err)
	}
	if second.Virtuals[0].ID != first.Virtuals[0].ID || second.Virtuals[0].Reals[0].ID != first.Virtuals[0].Reals[0].ID {
		t.Errorf("ids not kept by name")
	}
	if id := second.Virtuals[0].Reals[2].ID; id == 0 || id <= first.Virtuals[2].Reals[0].ID {
		t.Errorf("new real server id %d", id)
	}
	revs, _ := st.Revisions(ctx, 0, 1)
	if want := "import of lvs.cf: virtual server www, real server web1: Weight (weight) 5 -> 9; virtual server www, real server web3 added"; revs[0].Summary != want {
		t.Errorf("summary = %q, want %q", revs[0].Summary, want)
	}
}

func TestConcurrentUpdatesAllLand(t *testing.T) {
	st := openTest(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "w"}, func(c *config.Config) error {
				c.Virtuals = append(c.Virtuals, config.NewVirtual("vs"+string(rune('a'+i))))
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	c, _ := st.Config(ctx)
	if c.Serial != n+1 || len(c.Virtuals) != n {
		t.Errorf("serial %d with %d virtual servers, want %d and %d", c.Serial, len(c.Virtuals), n+1, n)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	st := openTest(t)
	if _, err := st.rw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '')`); err != nil {
		t.Fatal(err)
	}
	path := st.Path()
	st.Close()
	_, err := Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "newer than this program's") {
		t.Errorf("opening a newer database: %v", err)
	}
}

func TestPasswords(t *testing.T) {
	st := openTest(t)
	if has, err := st.HasUsers(ctx); err != nil || has {
		t.Fatalf("new database has users: %v %v", has, err)
	}
	if err := st.CheckPassword(ctx, "admin", "anything1"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("no user yet: %v", err)
	}
	if err := st.SetPassword(ctx, "admin", "short"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("short password: %v", err)
	}
	if err := st.SetPassword(ctx, "bad name", "long enough"); err == nil || !strings.Contains(err.Error(), "user name") {
		t.Errorf("bad user name: %v", err)
	}
	if err := st.SetPassword(ctx, "admin", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(ctx, "admin", "correct horse"); err != nil {
		t.Errorf("right password refused: %v", err)
	}
	for _, pw := range []string{"correct hors", "correct horse ", "Correct horse", ""} {
		if err := st.CheckPassword(ctx, "admin", pw); !errors.Is(err, ErrBadPassword) {
			t.Errorf("wrong password %q: %v", pw, err)
		}
	}
	var hash string
	st.ro.QueryRow(`SELECT password_hash FROM users WHERE name = 'admin'`).Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, "correct") {
		t.Errorf("stored hash %q", hash)
	}
	// A new password replaces the old one; salts differ.
	if err := st.SetPassword(ctx, "admin", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(ctx, "admin", "correct horse"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("old password still works")
	}
	if has, _ := st.HasUsers(ctx); !has {
		t.Errorf("HasUsers = false after SetPassword")
	}
}
