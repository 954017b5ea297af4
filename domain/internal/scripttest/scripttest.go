// Package scripttest runs the golden scripts of the domain packages' tests: every
// testdata/*.txt is a list of commands, one per line, each followed by its expected
// output lines ("> ..."). A package supplies only its command interpreter; reading the
// scripts, comparing the output and rewriting it with -update live here, once.
//
// It is test support: it imports testing and flag, which the domain core must not; the
// files are read and written through functions the caller passes (os.ReadFile and
// os.WriteFile from its _test.go file), so even test support inside domain does no I/O of
// its own.
// domain/purity_test.go exempts this package from the core's import allowlist and fails
// when any non-test file of the domain module imports it.
package scripttest

import (
	"flag"
	"fmt"
	"io/fs"
	"iter"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected output of the golden scripts in testdata/")

// maxDiffLines bounds the lines Diff lists: enough to find the change, short enough to read.
const maxDiffLines = 20

// Files reads and writes the scripts: pass Files{Read: os.ReadFile, Write: os.WriteFile}.
type Files struct {
	Read  func(name string) ([]byte, error)
	Write func(name string, data []byte, perm fs.FileMode) error
}

// Run runs every file matching pattern (e.g. "testdata/*.txt") as a subtest named after
// the file without its extension. run interprets the script and returns its output,
// which must equal the file; with -update the file is rewritten to the output instead
// (review the diff). It fails when pattern matches nothing.
func Run(t *testing.T, files Files, pattern string, run func(t *testing.T, script string) string) {
	t.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no golden scripts")
	}
	for _, file := range names {
		t.Run(strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)), func(t *testing.T) {
			want, err := files.Read(file)
			if err != nil {
				t.Fatal(err)
			}
			got := run(t, string(want))
			if *update {
				if err := files.Write(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("%s: output differs (run with -update and review the diff):\n%s", file, Diff(string(want), got))
			}
		})
	}
}

// Diff lists the first lines (at most 20) in which got differs from want, by number.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < maxDiffLines; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// Output is the text a script run produces: the script's own lines, each command
// followed by the lines Emit adds for it.
type Output struct {
	b strings.Builder
}

// Emit adds one output line, "> " and the formatted text.
func (o *Output) Emit(format string, args ...any) {
	fmt.Fprintf(&o.b, "> "+format+"\n", args...)
}

// String returns the output so far.
func (o *Output) String() string { return o.b.String() }

// Line is one command line of a script.
type Line struct {
	N    int    // 1-based line number in the script
	Text string // the line as written
}

// Command returns the line without surrounding blanks.
func (l Line) Command() string { return strings.TrimSpace(l.Text) }

// Fatal stops the test with err, naming the line.
func (l Line) Fatal(t testing.TB, err error) {
	t.Helper()
	t.Fatalf("line %d %q: %v", l.N, l.Text, err)
}

// Commands yields the commands of script in order. It drops the expected output lines
// ("> ..."), which the run writes anew, and copies every other line to out as it goes,
// so that what the consumer emits for a command follows it. Blank lines and comments
// ("#...") are copied but not yielded.
func Commands(script string, out *Output) iter.Seq[Line] {
	return func(yield func(Line) bool) {
		for n, text := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
			if strings.HasPrefix(text, "> ") || text == ">" {
				continue
			}
			out.b.WriteString(text + "\n")
			cmd := strings.TrimSpace(text)
			if cmd == "" || strings.HasPrefix(cmd, "#") {
				continue
			}
			if !yield(Line{N: n + 1, Text: text}) {
				return
			}
		}
	}
}

// At parses the time of a "VERB @T ..." command from its fields.
func At(fields []string) (int64, error) {
	if len(fields) < 2 || !strings.HasPrefix(fields[1], "@") {
		return 0, fmt.Errorf("want VERB @TIME ...: %q", strings.Join(fields, " "))
	}
	return strconv.ParseInt(fields[1][1:], 10, 64)
}
