//go:build !unix

package session_test

func processCPU() int64 { return -1 }
