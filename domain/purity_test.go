package domain_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is the whole dependency list of the domain module's non-test code. The
// core is pure: no clock (time), no randomness (math/rand, crypto/rand), no context, no
// logging, no I/O (os, net, io), no sync (it runs on one goroutine of its caller). Growing
// this list is a design decision: make it here, on purpose, in review.
var allowedImports = map[string]bool{
	"bytes":           true,
	"cmp":             true,
	"container/heap":  true,
	"container/list":  true,
	"encoding/binary": true,
	"errors":          true,
	"fmt":             true,
	"hash/crc32":      true,
	"iter":            true,
	"maps":            true,
	"math":            true,
	"math/bits":       true,
	"slices":          true,
	"sort":            true,
	"strconv":         true,
	"strings":         true,
	"unicode/utf8":    true,
}

// allowedPrefixes are the modules domain may build on: only the wire protocol, and its
// own packages.
var allowedPrefixes = []string{
	"github.com/zraft/zraft/protocol",
	"github.com/zraft/zraft/domain",
}

// testSupport is the test-support package under internal/: its non-test files may import
// anything (testing, flag, os), and no non-test file outside it may import it, so that
// test support never reaches the core. Any other package under internal/ is core code.
const testSupport = "internal/scripttest"

const modulePath = "github.com/zraft/zraft/domain"

func allowed(path string) bool {
	if allowedImports[path] {
		return true
	}
	for _, p := range allowedPrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// TestDomainStaysPure fails when non-test code in the domain module imports anything
// outside the allowed set, starts a goroutine, or uses channels or select; and when
// non-test code outside testSupport imports testSupport.
func TestDomainStaysPure(t *testing.T) {
	fset := token.NewFileSet()
	sawTestSupport := false
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		inTestSupport := filepath.ToSlash(filepath.Dir(path)) == testSupport
		sawTestSupport = sawTestSupport || inTestSupport
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == modulePath+"/"+testSupport && !inTestSupport:
				t.Errorf("%s imports %q: test support is for _test.go files only", path, p)
			case !allowed(p) && !inTestSupport:
				t.Errorf("%s imports %q: domain must stay pure (see allowedImports)", path, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: a go statement; domain never starts goroutines", fset.Position(n.Pos()))
			case *ast.ChanType, *ast.SelectStmt, *ast.SendStmt:
				t.Errorf("%s: channels or select; domain is driven by its caller, not by channels", fset.Position(n.Pos()))
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawTestSupport {
		t.Errorf("no package %s: remove or update the exemption", testSupport)
	}
}
