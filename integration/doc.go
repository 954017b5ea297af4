// Package integration holds black-box tests of a containerized zraft cluster under
// faults, driven through the public client only, and the harness they use: it builds a
// zraftd image FROM scratch, starts members on private Docker networks through
// testcontainers-go, and kills, stops, restarts, pauses and partitions them.
//
// The scenarios run only with ZRAFT_INTEGRATION=1 (`go tool task integration`); without
// it the package's tests are compiled and its Docker-free unit tests run. See
// docs/testing.md.
package integration
