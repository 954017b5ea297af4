module github.com/zraft/zraft/integration

go 1.26

replace (
	github.com/zraft/zraft/adapters/zmtp => ../adapters/zmtp
	github.com/zraft/zraft/client => ../client
	github.com/zraft/zraft/domain => ../domain
	github.com/zraft/zraft/protocol => ../protocol
)
