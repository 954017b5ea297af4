package clientsession_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/domain/internal/scripttest"
)

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
	scripttest.Run(t, scripttest.Files{Read: os.ReadFile, Write: os.WriteFile}, "testdata/*.txt", runScript)
}

func runScript(t *testing.T, script string) string {
	t.Helper()
	var (
		out scripttest.Output
		e   *clientsession.Engine
		chk *checker
	)
	emit := func(s string) { out.Emit("%s", s) }
	for line := range scripttest.Commands(script, &out) {
		fields := strings.Fields(line.Text)
		fail := func(err error) { line.Fatal(t, err) }
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
		now, err := scripttest.At(fields)
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
