module github.com/zraft/zraft/adapters/raftnode

go 1.26

replace (
	github.com/zraft/zraft/adapters/pebblestore => ../pebblestore
	github.com/zraft/zraft/domain => ../../domain
	github.com/zraft/zraft/protocol => ../../protocol
)
