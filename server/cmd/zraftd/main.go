// Command zraftd runs one zraft cluster member. With no flags it is a single-member
// cluster that bootstraps itself, keeps its data under ./zraft-data and serves clients on
// tcp://127.0.0.1:7001 as member node-1. With --recover it rewrites a stopped member's
// data dir to a new cluster configuration and exits instead. See docs/operations.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/otel"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/export"
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
	if s.recover != nil {
		// Rewrite the configuration and exit: left in the flags, --recover cannot reset
		// the configuration again on every start.
		if err := server.Recover(s.cfg, s.recover, server.WithLogger(log)); err != nil {
			fmt.Fprintf(os.Stderr, "zraftd: recover %s: %v\n", s.cfg.DataDir, err)
			return 1
		}
		log.Info("zraftd: recovered; start zraftd without --recover to serve", "member", s.cfg.MemberID,
			"data", s.cfg.DataDir, "members", len(s.recover))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Metrics: Prometheus on the admin listener's /metrics, plus whatever the OTEL_*
	// environment asks for (traces and OTLP export; off when unset). Export failures
	// and dropped spans are logged, not printed through the standard log package.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("zraftd: telemetry", "err", err) }))
	tel, err := export.Setup(ctx, export.Config{ServiceName: "zraftd", InstanceID: s.cfg.MemberID, Prometheus: true,
		Console: s.telemetryConsole})
	if err != nil {
		log.Error("zraftd: telemetry", "err", err)
		return 1
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	metrics, err := telemetry.NewServerMetrics(tel.Meter())
	if err != nil {
		log.Error("zraftd: metrics", "err", err)
		return 1
	}
	opts := []server.Option{server.WithLogger(log), server.WithMetrics(metrics),
		server.WithAdminHandler("GET /metrics", tel.PrometheusHandler())}
	if tel.TracesEnabled() {
		// Only then: a member without a tracer does not decode messages for trace context.
		opts = append(opts, server.WithTracerProvider(tel.TracerProvider()))
	}
	srv, err := server.New(s.cfg, opts...)
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
