// Command zraft is the command-line client of zraft's key-value example application.
//
//	zraft [flags] set KEY VALUE     store VALUE under KEY
//	zraft [flags] get KEY           print KEY's value (nothing if absent; --json tells)
//	zraft [flags] del KEY           delete KEY
//	zraft [flags] watch KEY...      print every change of the KEYs until Ctrl-C
//	zraft [flags] status            the leader, the members and this session
//
// Flags (before or after the command): --endpoints (default $ZRAFT_ENDPOINTS, else
// node-1=tcp://127.0.0.1:7001), --timeout (default 10s: connecting plus the operation;
// for watch only the set-up), --json.
//
// Exit codes: 0 ok (and -h), 1 usage, 2 unavailable or timed out, 3 rejected by the server,
// 130 interrupted (also how watch ends). Errors are one line on stderr.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
