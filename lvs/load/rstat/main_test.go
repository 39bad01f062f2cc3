package rstat

import (
	"os"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
