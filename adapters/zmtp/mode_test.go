package zmtp

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// serverModeEnv selects how the tests' Servers serve established connections:
// "poller" (WithPoller(true), the default) or "goroutine" (WithPoller(false)). Where the
// poller exists, TestMain runs the whole suite in both modes: first in this process
// with the poller, then again in a child process with goroutines.
const serverModeEnv = "ZRAFT_ZMTP_SERVER_MODE"

// serverModeOpts are the options every test Server starts with.
func serverModeOpts() []Option {
	return []Option{WithPoller(os.Getenv(serverModeEnv) != "goroutine")}
}

// pollerMode reports whether the tests' Servers use the poller.
func pollerMode() bool { return pollerSupported && os.Getenv(serverModeEnv) != "goroutine" }

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(serverModeEnv) != "" || !pollerSupported || !rerunnable() {
		os.Exit(m.Run())
	}
	// Children started by tests (client processes, attackers) inherit the mode, so
	// they do not run the suite again themselves.
	_ = os.Setenv(serverModeEnv, "poller")
	code := m.Run()
	if code != 0 {
		os.Exit(code)
	}
	fmt.Println("zmtp: the same tests again, with goroutine-per-connection Servers (" + serverModeEnv + "=goroutine)")
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), serverModeEnv+"=goroutine")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Println("zmtp: goroutine-per-connection run:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// rerunnable: a plain test run, not a benchmark, fuzzing or a listing, which run once
// (choose their mode with the environment variable).
func rerunnable() bool {
	for _, name := range []string{"test.bench", "test.fuzz", "test.list", "test.fuzzcachedir"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return false
	}
	return true
}
