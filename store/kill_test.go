package store

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// killWriterEnv names the database a re-executed test binary writes to
// until it is killed.
const killWriterEnv = "LVSCONSOLE_KILL_WRITER_DB"

// TestMain turns the test binary into the writer that
// TestKilledWriterLosesNothing kills, when it is re-executed for that.
func TestMain(m *testing.M) {
	if path := os.Getenv(killWriterEnv); path != "" {
		killWriter(path)
	}
	os.Exit(testenv.Run(m))
}

// killWriter writes changes as fast as it can and prints each accepted
// serial, until it is killed.
func killWriter(path string) {
	st, err := Open(ctx, path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for {
		c, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "writer"}, func(c *config.Config) error {
			// Each revision's content is tied to its serial, so the parent
			// can check that what was acknowledged is what is stored.
			c.Global.TCPTimeout = c.Serial + 1
			if len(c.Virtuals) == 0 {
				vs := config.NewVirtual("vs")
				c.Virtuals = append(c.Virtuals, vs)
			}
			vs := &c.Virtuals[0]
			vs.Reals = append(vs.Reals, config.RealServer{
				Name: "r" + strconv.FormatInt(c.Serial, 10), Weight: 1,
				Address: netip.AddrFrom4([4]byte{10, byte(c.Serial >> 16), byte(c.Serial >> 8), byte(c.Serial)}),
			})
			return nil
		})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(c.Serial) // acknowledged only after the commit returned
	}
}

func TestKilledWriterLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kill.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killWriterEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked []int64
		for sc.Scan() && len(acked) < 40+round*30 {
			n, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("child said %q", sc.Text())
			}
			acked = append(acked, n)
		}
		// SIGKILL while the child is in the middle of further writes.
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if len(acked) == 0 {
			t.Fatal("the child acknowledged nothing")
		}

		st, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopening after kill: %v", err)
		}
		var check string
		if err := st.ro.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("integrity_check = %q, %v", check, err)
		}
		c, err := st.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := acked[len(acked)-1]
		if c.Serial < last {
			t.Fatalf("round %d: serial %d after kill, but %d was acknowledged", round, c.Serial, last)
		}
		if c.Global.TCPTimeout != c.Serial {
			t.Errorf("current configuration is not the one of its serial: %d vs %d", c.Global.TCPTimeout, c.Serial)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("configuration after kill is invalid: %v", err)
		}
		for _, serial := range acked {
			_, rc, err := st.Revision(ctx, serial)
			if err != nil {
				t.Fatalf("acknowledged revision %d is lost: %v", serial, err)
			}
			if rc.Global.TCPTimeout != serial {
				t.Fatalf("revision %d holds the content of %d", serial, rc.Global.TCPTimeout)
			}
		}
		t.Logf("round %d: %d acknowledged, last %d, database at %d", round, len(acked), last, c.Serial)
		st.Close()
	}
}
