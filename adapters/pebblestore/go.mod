module github.com/zraft/zraft/adapters/pebblestore

go 1.26
