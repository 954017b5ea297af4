module github.com/zraft/zraft/adapters/zmtp

go 1.26.0

replace github.com/zraft/zraft/protocol => ../../protocol

require (
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/zraft/zraft/protocol v0.0.0-00010101000000-000000000000
	golang.org/x/sys v0.49.0
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	golang.org/x/sync v0.7.0 // indirect
	golang.org/x/text v0.15.0 // indirect
)
