// Command zraftd runs one zraft cluster member. With no flags it is a single-member
// cluster that bootstraps itself, keeps its data under ./zraft-data and serves clients on
// tcp://127.0.0.1:7001 as member node-1; see docs/operations.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/zraft/zraft/server"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	s, err := parseSettings(args, os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case err != nil:
		fmt.Fprintf(os.Stderr, "zraftd: %v (see zraftd -h)\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: s.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv, err := server.New(s.cfg, server.WithLogger(log))
	if err != nil {
		log.Error("zraftd: cannot start", "err", err)
		return 1
	}
	log.Info("zraftd: serving", "member", srv.ID(), "clients", srv.ClientEndpoint(),
		"raft", srv.RaftAddr(), "admin", srv.AdminAddr(), "data", s.cfg.DataDir)
	if err := srv.Run(ctx); err != nil {
		log.Error("zraftd: stopped with an error", "err", err)
		return 1
	}
	return 0
}
