// Package tools pins the developer tools of zraft (go-task, staticcheck) so that
// `go tool NAME` runs them from the repository root on a fresh machine.
package tools
