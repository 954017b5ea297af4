package protocol_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is the whole dependency list of the protocol module's non-test code:
// the standard library packages a codec needs, and nothing outside the standard library.
// Growing it is a design decision: make it here, on purpose, in review.
var allowedImports = map[string]bool{
	"bytes":           true,
	"encoding/binary": true,
	"encoding/hex":    true,
	"errors":          true,
	"fmt":             true,
	"math":            true,
	"slices":          true,
	"sort":            true,
	"strconv":         true,
	"strings":         true,
	"unicode/utf8":    true,
}

// TestImportsStayInAllowedSet fails when non-test code of the protocol module imports
// anything beyond allowedImports, or any package of this module other than its own.
func TestImportsStayInAllowedSet(t *testing.T) {
	const self = "github.com/zraft/zraft/protocol"
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if allowedImports[p] || p == self || strings.HasPrefix(p, self+"/") {
				continue
			}
			t.Errorf("%s imports %q, which is outside the protocol module's allowed set", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
