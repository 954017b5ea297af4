//go:build !linux

package zmtp

import (
	"errors"
	"net"
	"syscall"
)

// pollerSupported: only Linux has the Server's poller; elsewhere every established
// connection keeps its reader goroutine (WithPoller has no effect).
const pollerSupported = false

var errNoPoller = errors.New("zmtp: no poller on this platform")

// poller is Linux-only (poller_linux.go); a Server never creates one here.
type poller struct{}

func newPoller() (*poller, error)                         { return nil, errNoPoller }
func (p *poller) arm(syscall.RawConn, uint64, bool) error { return errNoPoller }
func (p *poller) remove(syscall.RawConn) error            { return errNoPoller }
func (p *poller) run(func(uint64)) error                  { return errNoPoller }
func (p *poller) close() error                            { return errNoPoller }

// errWouldBlock: a probe found nothing to read (never, here).
var errWouldBlock = errors.New("zmtp: nothing to read")

// pollSource is Linux-only (poller_linux.go).
type pollSource struct {
	nc          net.Conn
	rc          syscall.RawConn
	deadline    int64
	deadlineSet bool
	probe       bool
	active      bool
	idleAt      int64
	lingerState
}

func (s *pollSource) init(net.Conn) error { return errNoPoller }

// Read implements io.Reader.
func (s *pollSource) Read([]byte) (int, error) { return 0, errNoPoller }

func (s *pollSource) writeNow([]byte) (int, error) { return 0, errWouldBlock }
