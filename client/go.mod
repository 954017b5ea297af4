module github.com/zraft/zraft/client

go 1.26

replace (
	github.com/zraft/zraft/adapters/zmtp => ../adapters/zmtp
	github.com/zraft/zraft/domain => ../domain
	github.com/zraft/zraft/protocol => ../protocol
)

require (
	github.com/zraft/zraft/adapters/zmtp v0.0.0-00010101000000-000000000000
	github.com/zraft/zraft/domain v0.0.0-00010101000000-000000000000
	github.com/zraft/zraft/protocol v0.0.0-00010101000000-000000000000
)
