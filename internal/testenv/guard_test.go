package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const importPath = "github.com/lvsconsole/lvsconsole/internal/testenv"

// testFile is one parsed _test.go file of the module.
type testFile struct {
	path string // relative to the module's root
	f    *ast.File
}

// moduleTests parses every _test.go file of the module, build tags
// ignored: a file for the guest or for Linux only is held to the same
// rules.
func moduleTests(t *testing.T) map[string][]testFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no module root at %s: %v", root, err)
	}
	fset := token.NewFileSet()
	dirs := map[string][]testFile{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "out", "data", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.Dir(rel)
		dirs[dir] = append(dirs[dir], testFile{rel, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("found the tests of only %d packages under %s", len(dirs), root)
	}
	return dirs
}

// calls returns the calls in f of functions named name in package pkg
// ("" for any receiver or package: x.Skip as well as t.Skip).
func calls(f *ast.File, pkg string, names ...string) []*ast.CallExpr {
	var out []*ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok || !slices.Contains(names, sel.Sel.Name) {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); pkg == "" || ok && x.Name == pkg {
			out = append(out, c)
		}
		return true
	})
	return out
}

// callsRun reports whether fn calls testenv.Run (Run, inside testenv).
func callsRun(fn *ast.FuncDecl, inside bool) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch f := c.Fun.(type) {
		case *ast.SelectorExpr:
			x, ok := f.X.(*ast.Ident)
			found = found || ok && x.Name == "testenv" && f.Sel.Name == "Run"
		case *ast.Ident:
			found = found || inside && f.Name == "Run"
		}
		return true
	})
	return found
}

func imports(f *ast.File, path string) bool {
	for _, is := range f.Imports {
		if p, _ := strconv.Unquote(is.Path.Value); p == path {
			return true
		}
	}
	return false
}

// TestNoSkipOutsideTestenv: a test is skipped only through this package,
// which fails it instead under `make test`; nothing else may skip, so
// that nothing is counted as passed without having run.
func TestNoSkipOutsideTestenv(t *testing.T) {
	for dir, files := range moduleTests(t) {
		if dir == "internal/testenv" {
			continue
		}
		for _, tf := range files {
			if cs := calls(tf.f, "", "Skip", "Skipf", "SkipNow"); len(cs) > 0 {
				t.Errorf("%s skips a test (%d calls): ask internal/testenv for what it needs instead", tf.path, len(cs))
			}
			if cs := calls(tf.f, "os", "Geteuid", "Getuid"); len(cs) > 0 {
				t.Errorf("%s checks for root itself: call testenv.Root", tf.path)
			}
		}
	}
}

// TestPrivilegedTestsAskTestenv: every package whose tests need more than
// Go asks internal/testenv, and its TestMain calls testenv.Run so that a
// run that skipped tests says which.
func TestPrivilegedTestsAskTestenv(t *testing.T) {
	// Calls that need root, a tool or a machine that `go test` as an
	// ordinary user lacks, and the programs only root can usefully run.
	privileged := []struct{ pkg, name string }{
		{"netns", "Do"},
		{"guest", "Run"},
		{"chromedp", "NewExecAllocator"},
	}
	privilegedCommands := []string{"ip", "nft", "ipvsadm"}
	for dir, files := range moduleTests(t) {
		var uses, why []string
		hasMain := false
		for _, tf := range files {
			if imports(tf.f, importPath) || dir == "internal/testenv" {
				uses = append(uses, tf.path)
			}
			for _, p := range privileged {
				if len(calls(tf.f, p.pkg, p.name)) > 0 {
					why = append(why, tf.path+" calls "+p.pkg+"."+p.name)
				}
			}
			for _, c := range calls(tf.f, "exec", "Command", "CommandContext") {
				for _, arg := range c.Args[:min(2, len(c.Args))] {
					if lit, ok := arg.(*ast.BasicLit); ok {
						if s, _ := strconv.Unquote(lit.Value); slices.Contains(privilegedCommands, s) {
							why = append(why, tf.path+" runs "+s)
						}
					}
				}
			}
			for _, d := range tf.f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "TestMain" {
					hasMain = callsRun(fn, dir == "internal/testenv")
				}
			}
		}
		if len(why) > 0 && len(uses) == 0 {
			t.Errorf("%s: its tests need more than Go (%s) but never ask internal/testenv", dir, strings.Join(why, "; "))
		}
		if len(uses) > 0 && !hasMain {
			t.Errorf("%s: its tests ask internal/testenv (%s) but no TestMain calls testenv.Run, so a skip would go unsaid",
				dir, strings.Join(uses, ", "))
		}
	}
}
