package clientsession_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
)

var update = flag.Bool("update", false, "rewrite the expected output of the golden scripts in testdata/")

// TestGolden runs every testdata/*.txt script. A script is a list of commands, one per
// line; the lines starting with "> " after a command are its outputs. With -update the
// outputs are regenerated: review the diff.
//
//	config members=a@EP,b@EP caps=k:v ext=on keepalive=MS katimeout=MS connect=MS
//	       resend=MS backoff=BASE/MAX pending=N held=N maxmembers=N seed=N
//	tick @T
//	submit @T h=N PAYLOAD... [traceparent=X]
//	query @T h=N corr=C PAYLOAD... [consistency=N]
//	cancel @T h=N | close @T | up @T conn=N nonce=N | down @T conn=N
//	recv @T conn=N MESSAGE ARGS... [leader=X] [ext=V] [members=a@EP,...]
//	recv-raw @T conn=N HEX
//	status | deadline
//
// Every script also runs under the invariant checker.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden scripts")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := runScript(t, string(want))
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("%s: output differs (run with -update and review the diff):\n%s", file, lineDiff(string(want), got))
			}
		})
	}
}

func runScript(t *testing.T, script string) string {
	t.Helper()
	var (
		out strings.Builder
		e   *clientsession.Engine
		chk *checker
	)
	emit := func(s string) { out.WriteString("> " + s + "\n") }
	for n, line := range strings.Split(strings.TrimRight(script, "\n"), "\n") {
		if strings.HasPrefix(line, "> ") || line == ">" {
			continue
		}
		out.WriteString(line + "\n")
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		fail := func(err error) { t.Fatalf("line %d %q: %v", n+1, line, err) }
		word := fields[0]
		if word == "config" {
			cfg, err := parseConfig(fields[1:])
			if err != nil {
				fail(err)
			}
			if e, err = clientsession.New(cfg); err != nil {
				emit("error " + err.Error())
				continue
			}
			chk = newChecker(e, max(cfg.MaxHeldServerRequests, 64))
			continue
		}
		if e == nil {
			fail(fmt.Errorf("no engine: start with config"))
		}
		switch word {
		case "status":
			emit(formatStatus(e.Status()))
			continue
		case "deadline":
			if d, ok := e.NextDeadline(); ok {
				emit(fmt.Sprintf("deadline %d", d))
			} else {
				emit("deadline none")
			}
			continue
		}
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "@") {
			fail(fmt.Errorf("want %s @TIME", word))
		}
		now, err := atoi(fields[1][1:])
		if err != nil {
			fail(err)
		}
		var outs []clientsession.Output
		chk.before()
		if word == "tick" {
			outs = e.Tick(now)
		} else {
			in, err := parseInput(word, fields[2:])
			if err != nil {
				fail(err)
			}
			outs, err = e.Step(now, in)
			if err != nil {
				emit("error " + err.Error())
				continue
			}
			chk.input(in)
		}
		for _, o := range outs {
			emit(formatOutput(o))
		}
		if err := chk.outputs(outs); err != nil {
			fail(fmt.Errorf("invariant: %w", err))
		}
	}
	return out.String()
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
