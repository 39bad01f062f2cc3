package guest_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

// A package's host-side test boots a guest that runs the package's own
// guest-only tests: those live in files tagged `//go:build guest`, and the
// host-side test in a file tagged `//go:build !guest`, so neither runs where
// it does not belong.
func ExampleRun() {
	ctx := context.Background()
	if err := guest.Prepared(""); err != nil {
		log.Fatal(err) // says to run make guest
	}
	bin := filepath.Join(os.TempDir(), "ipvs.test")
	if err := guest.BuildTest("github.com/lvsconsole/lvsconsole/lvs/ipvs", bin, "guest"); err != nil {
		log.Fatal(err)
	}
	res, err := guest.Run(ctx, guest.Options{
		Binaries: map[string]string{"ipvs.test": bin},
		Script:   "ipvs.test -test.v -test.count=1",
		Stdout:   os.Stdout,
	})
	if err != nil {
		log.Fatal(err) // no verdict: boot failed or timed out
	}
	fmt.Println("guest tests exited", res.ExitCode)
}
