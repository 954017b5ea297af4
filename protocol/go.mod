module github.com/zraft/zraft/protocol

go 1.26
