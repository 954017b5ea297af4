module github.com/zraft/zraft/client

go 1.26.0

replace (
	github.com/zraft/zraft/adapters/zmtp => ../adapters/zmtp
	github.com/zraft/zraft/domain => ../domain
	github.com/zraft/zraft/protocol => ../protocol
)

require (
	github.com/zraft/zraft/adapters/zmtp v0.0.0-00010101000000-000000000000
	github.com/zraft/zraft/domain v0.0.0-00010101000000-000000000000
	github.com/zraft/zraft/protocol v0.0.0-00010101000000-000000000000
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
