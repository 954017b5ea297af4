module github.com/zraft/zraft/domain

go 1.26

replace github.com/zraft/zraft/protocol => ../protocol
