package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// envCollector makes the test binary a stand-in OTLP/HTTP collector instead of running
// tests: it serves on 127.0.0.1, prints its address, reads every request whole and
// discards it, and exits when its standard input closes. BenchmarkSubmitTracing runs it
// as a separate process, as a collector is in production, so that the CPU counted
// against zraft is zraft's alone.
const envCollector = "ZRAFT_TEST_COLLECTOR"

func TestMain(m *testing.M) {
	if os.Getenv(envCollector) == "1" {
		os.Exit(runCollector())
	}
	os.Exit(m.Run())
}

func runCollector() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = ln.Close()
	}()
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	if err != nil && !strings.Contains(err.Error(), "use of closed network connection") {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startCollector starts the collector process and returns its traces URL; it stops
// when tb ends.
func startCollector(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envCollector+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("collector: %v", err)
		}
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("collector: %v", err)
	}
	return "http://" + strings.TrimSpace(addr) + "/v1/traces"
}
