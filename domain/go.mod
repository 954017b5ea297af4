module github.com/zraft/zraft/domain

go 1.26

replace github.com/zraft/zraft/protocol => ../protocol

require github.com/zraft/zraft/protocol v0.0.0-00010101000000-000000000000
