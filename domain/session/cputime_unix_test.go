//go:build unix

package session_test

import "syscall"

// processCPU is the CPU time this process used (user + system), in nanoseconds. The
// benchmarks report it next to wall time because the shared build machine's load makes
// wall time a poor measure of what the code costs.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
