module github.com/zraft/zraft/adapters/telemetry

go 1.26
