//go:build linux

package zmtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollerSupported: on Linux a Server serves idle connections from its own epoll set
// (WithPoller, on by default), so that they hold no goroutine.
const pollerSupported = true

// poller is a Server's own epoll set: an established connection that has nothing to
// read is registered in it, one-shot and level-triggered, with its routing id as the
// token (never the fd: fds are reused, routing ids never are). The epoll fd is itself
// registered in Go's netpoller, so that no thread blocks in epoll_wait: the runtime
// tells the poller's goroutine when the set has events, and closing the set ends it.
// Go's netpoller also has each connection's fd; a second epoll set on the same fd is
// independent of it.
type poller struct {
	f  *os.File
	rc syscall.RawConn
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	// A non-blocking fd becomes pollable: os registers it in the runtime's netpoller.
	f := os.NewFile(uintptr(epfd), "zmtp-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &poller{f: f, rc: rc}, nil
}

// arm asks for one report when conn has bytes to read (or is closed by the peer): add
// registers conn, otherwise its registration is re-armed. Level-triggered, so that
// bytes that arrived before the call are reported too.
func (p *poller) arm(conn syscall.RawConn, token uint64, add bool) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(uint32(token)),
		Pad:    int32(uint32(token >> 32)),
	}
	op := unix.EPOLL_CTL_MOD
	if add {
		op = unix.EPOLL_CTL_ADD
	}
	return p.ctl(conn, op, &ev)
}

// remove takes conn out of the set; call it before closing conn.
func (p *poller) remove(conn syscall.RawConn) error {
	return p.ctl(conn, unix.EPOLL_CTL_DEL, nil)
}

// ctl runs epoll_ctl with both fds held open (Control), so that neither number can be
// closed and reused meanwhile.
func (p *poller) ctl(conn syscall.RawConn, op int, ev *unix.EpollEvent) error {
	var errno error
	err := p.rc.Control(func(epfd uintptr) {
		cerr := conn.Control(func(fd uintptr) {
			errno = unix.EpollCtl(int(epfd), op, int(fd), ev)
		})
		if cerr != nil && errno == nil {
			errno = cerr
		}
	})
	if err != nil {
		return err
	}
	if errno != nil {
		return os.NewSyscallError("epoll_ctl", errno)
	}
	return nil
}

// pollBatch is how many reports the poller takes from the kernel at once. After a full
// batch it yields, so that the bursts it started run before it starts more: the peak
// number of goroutines stays near one batch (the runtime keeps every goroutine
// structure it ever allocated, about 400 bytes each, for reuse).
const pollBatch = 64

// run calls ready with the token of every connection reported, until close. ready runs
// on run's goroutine and must not block.
func (p *poller) run(ready func(token uint64)) error {
	evs := make([]unix.EpollEvent, pollBatch)
	var werr error
	err := p.rc.Read(func(epfd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(epfd), evs, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				werr = os.NewSyscallError("epoll_wait", err)
				return true
			}
			if n <= 0 {
				return false // drained: wait for the netpoller's next report
			}
			for i := range evs[:n] {
				ready(uint64(uint32(evs[i].Fd)) | uint64(uint32(evs[i].Pad))<<32)
			}
			if n < len(evs) {
				// Drained (one-shot reports are not queued again): wait. Reports that
				// come later make the set readable again, which the netpoller sees.
				return false
			}
			runtime.Gosched()
		}
	})
	if err != nil {
		return err
	}
	return werr
}

// close ends run.
func (p *poller) close() error { return p.f.Close() }

// errWouldBlock: a probe found nothing to read.
var errWouldBlock = errors.New("zmtp: nothing to read")

// pollSource is the reader under a polled connection's frame reader. A probe (a read at
// a frame boundary with nothing buffered) does not wait: it returns errWouldBlock when
// the socket has nothing, and the connection goes back to the poller. Any other read
// is an ordinary blocking read with the connection's read deadline, so a peer that sent
// half a frame keeps a goroutine only until the rest arrives or the deadline passes.
type pollSource struct {
	nc net.Conn
	rc syscall.RawConn
	// deadlineSet: deadline (UnixNano, 0: none), the current frame's, is set on nc.
	deadline    int64
	deadlineSet bool
	probe       bool // the next read is a probe
	// active: a message was read since the last probe; a probe that then finds
	// nothing lingers (lingerState decides how long).
	active bool
	// idleAt is when a probe last found nothing (UnixNano).
	idleAt int64
	lingerState
}

func (s *pollSource) init(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("zmtp: %T has no file descriptor to poll", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	s.nc, s.rc = nc, rc
	return nil
}

// Read implements io.Reader.
func (s *pollSource) Read(p []byte) (int, error) {
	if !s.probe || len(p) == 0 {
		if s.deadline != 0 && !s.deadlineSet {
			if err := s.nc.SetReadDeadline(time.Unix(0, s.deadline)); err != nil {
				return 0, err
			}
			s.deadlineSet = true
		}
		return s.nc.Read(p)
	}
	s.probe = false
	if !s.active {
		n, err := s.tryRead(p)
		if err == errWouldBlock {
			s.idleAt = time.Now().UnixNano()
		}
		return n, err
	}
	// After a message: a quiet period begins, unless bytes are already there.
	s.active = false
	now := time.Now()
	s.idleAt = now.UnixNano()
	d := s.quiet(s.idleAt)
	if d <= 0 {
		n, err := s.tryRead(p)
		if err != errWouldBlock {
			s.quietAt = 0 // not quiet after all
		}
		return n, err
	}
	// Linger: a blocking read under a short deadline, cleared afterwards (an expired
	// one would fail the next probe, a later one would bound the next frame). The
	// read itself tries the socket first, so no separate probe is needed.
	if err := s.nc.SetReadDeadline(now.Add(d)); err != nil {
		return 0, err
	}
	n, err := s.nc.Read(p)
	if derr := s.nc.SetReadDeadline(time.Time{}); derr != nil && err == nil {
		err = derr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errWouldBlock
	}
	return n, err
}

// tryRead is one non-blocking read: errWouldBlock when the socket has nothing.
func (s *pollSource) tryRead(p []byte) (int, error) {
	var n int
	var errno error
	// Returning true at once makes RawRead try exactly once, without waiting; it still
	// refuses a closed connection or an expired deadline.
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = unix.Read(int(fd), p)
			if errno != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno == unix.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// writeNow writes p with one non-blocking write: it returns how much the socket took,
// and errWouldBlock if it took nothing, or the write deadline of an earlier write
// passed (the caller then writes with the writer goroutine).
func (s *pollSource) writeNow(p []byte) (int, error) {
	var n int
	var errno error
	err := s.rc.Write(func(fd uintptr) bool {
		for {
			n, errno = unix.Write(int(fd), p)
			if errno != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case errno == unix.EAGAIN:
		return 0, errWouldBlock
	case errno != nil:
		return 0, os.NewSyscallError("write", errno)
	}
	return n, nil
}
