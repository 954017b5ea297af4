// Package integration will hold black-box tests of a containerized zraft cluster under
// faults, driven through the public client only.
package integration
