module github.com/zraft/zraft/adapters/zmtp

go 1.26

replace github.com/zraft/zraft/protocol => ../../protocol
