module github.com/zraft/zraft/client

go 1.26

replace (
	github.com/zraft/zraft/adapters/zmtp => ../adapters/zmtp
	github.com/zraft/zraft/domain => ../domain
	github.com/zraft/zraft/protocol => ../protocol
)
