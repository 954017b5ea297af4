package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zraft/zraft/protocol"
)

// The idle-session load of the cluster benchmark: every session is a raw TCP connection
// that speaks just enough ZMTP 3.1 as a CLIENT socket (greeting, READY, single short
// frames, PONG for the server's PINGs) and the session protocol. A few writer
// goroutines send all the keep-alives, spread evenly over each period, into
// pre-allocated buffers; each connection has one reader goroutine with a 128-byte
// buffer that counts the answers. That keeps the generator's CPU small next to the
// leader's, which zmtp.Client (reconnection, heartbeats, a goroutine pair and a timer
// per client, a ticker per session) could not.

// rawSession is one session on its own raw connection.
type rawSession struct {
	nc      net.Conn
	r       *bufio.Reader
	body    []byte      // the reader's frame buffer
	pongDue atomic.Bool // the server PINGed; the next write carries the PONG
	pongCtx atomic.Pointer[[]byte]
}

const (
	zmtpFlagLong    = 0x02
	zmtpFlagCommand = 0x04
)

// zmtpGreeting is a ZMTP 3.1 greeting with the NULL mechanism, not as server.
func zmtpGreeting() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
	copy(g[12:], "NULL")
	return g
}

// appendZMTPFrame appends one short or long frame.
func appendZMTPFrame(dst []byte, flags byte, body []byte) []byte {
	if len(body) < 256 {
		dst = append(dst, flags, byte(len(body)))
	} else {
		dst = append(dst, flags|zmtpFlagLong)
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(body)))
	}
	return append(dst, body...)
}

// appendZMTPCommand appends a command frame: name length, name, data.
func appendZMTPCommand(dst []byte, name string, data []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	return appendZMTPFrame(dst, zmtpFlagCommand, append(body, data...))
}

// readFrame reads one frame into s.body (grown as needed).
func (s *rawSession) readFrame() (flags byte, body []byte, err error) {
	flags, err = s.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	var size uint64
	if flags&zmtpFlagLong != 0 {
		var b [8]byte
		if _, err := io.ReadFull(s.r, b[:]); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(b[:])
	} else {
		b, err := s.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		size = uint64(b)
	}
	if size > 16<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", size)
	}
	if uint64(cap(s.body)) < size {
		s.body = make([]byte, size)
	}
	body = s.body[:size]
	_, err = io.ReadFull(s.r, body)
	return flags, body, err
}

// next returns the next message frame, handling PINGs (their PONG goes with the next
// write).
func (s *rawSession) next() ([]byte, error) {
	for {
		flags, body, err := s.readFrame()
		if err != nil {
			return nil, err
		}
		if flags&zmtpFlagCommand == 0 {
			return body, nil
		}
		if len(body) > 0 && int(body[0])+1 <= len(body) && string(body[1:1+int(body[0])]) == "PING" {
			rest := body[1+int(body[0]):]
			if len(rest) >= 2 {
				ctx := append([]byte(nil), rest[2:]...)
				s.pongCtx.Store(&ctx)
				s.pongDue.Store(true)
			}
		}
	}
}

// openRawSession connects, handshakes and creates a session.
func openRawSession(ctx context.Context, endpoint string) (*rawSession, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(endpoint, "tcp://"))
	if err != nil {
		return nil, err
	}
	s := &rawSession{nc: nc, r: bufio.NewReaderSize(nc, 128)}
	fail := func(err error) (*rawSession, error) { _ = nc.Close(); return nil, err }
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	meta := append([]byte{11}, "Socket-Type"...)
	meta = binary.BigEndian.AppendUint32(meta, 6)
	meta = append(meta, "CLIENT"...)
	out := appendZMTPCommand(zmtpGreeting(), "READY", meta)
	if _, err := nc.Write(out); err != nil {
		return fail(err)
	}
	var g [64]byte
	if _, err := io.ReadFull(s.r, g[:]); err != nil {
		return fail(err)
	}
	if g[0] != 0xFF || g[9] != 0x7F || g[10] < 3 {
		return fail(errors.New("bad greeting"))
	}
	flags, body, err := s.readFrame()
	if err != nil {
		return fail(err)
	}
	if flags&zmtpFlagCommand == 0 || len(body) < 6 || string(body[1:6]) != "READY" {
		return fail(fmt.Errorf("expected READY, got flags %#x %q", flags, body))
	}
	msg, err := protocol.AppendClientMessage(nil, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "bench"}}, Nonce: 1})
	if err != nil {
		return fail(err)
	}
	if _, err := nc.Write(appendZMTPFrame(nil, 0, msg)); err != nil {
		return fail(err)
	}
	b, err := s.next()
	if err != nil {
		return fail(err)
	}
	m, err := protocol.DecodeServerMessage(b)
	if err != nil {
		return fail(err)
	}
	if _, ok := m.(*protocol.SessionCreated); !ok {
		return fail(fmt.Errorf("create session: %#v", m))
	}
	_ = nc.SetDeadline(time.Time{})
	return s, nil
}

// keepAliveLoad sends every session a keep-alive once per period, spread evenly, from
// writers goroutines, and counts the answers.
type keepAliveLoad struct {
	sent, answered, other, failed atomic.Int64
	firstErr, firstOther          atomic.Value
	wg, writers                   sync.WaitGroup
	cancel, stopWriters           context.CancelFunc
}

func (k *keepAliveLoad) fail(err error) {
	k.failed.Add(1)
	k.firstErr.CompareAndSwap(nil, err.Error())
}

func startKeepAlives(ctx context.Context, sessions []*rawSession, period time.Duration, writers int) *keepAliveLoad {
	ctx, cancel := context.WithCancel(ctx)
	k := &keepAliveLoad{cancel: cancel}
	for _, s := range sessions {
		k.wg.Go(func() {
			for {
				b, err := s.next()
				if err != nil {
					if ctx.Err() == nil {
						k.fail(err)
					}
					return
				}
				m, err := protocol.DecodeServerMessage(b)
				if _, ok := m.(*protocol.KeepAliveResponse); ok && err == nil {
					k.answered.Add(1)
					continue
				}
				k.other.Add(1)
				k.firstOther.CompareAndSwap(nil, fmt.Sprintf("%#v (%v)", m, err))
			}
		})
	}
	n := len(sessions)
	writers = max(1, min(writers, n))
	start := time.Now()
	wctx, stopWriters := context.WithCancel(ctx)
	k.stopWriters = stopWriters
	for w := range writers {
		k.writers.Go(func() {
			ctx := wctx
			// This writer's sessions are w, w+writers, ...; session i is due at
			// start + i*period/n + j*period.
			var buf []byte
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			next := w // next session index of this writer
			round := time.Duration(0)
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-tick.C:
					for {
						if start.Add(round + time.Duration(next)*period/time.Duration(n)).After(now) {
							break
						}
						s := sessions[next]
						buf = buf[:0]
						if s.pongDue.Swap(false) {
							var pctx []byte
							if p := s.pongCtx.Load(); p != nil {
								pctx = *p
							}
							buf = appendZMTPCommand(buf, "PONG", pctx)
						}
						buf = append(buf, 0, 0)
						at := len(buf)
						var err error
						buf, err = protocol.AppendClientMessage(buf, &protocol.KeepAlive{Timestamp: protocol.Timestamp(now.UnixMilli())})
						if err != nil {
							k.fail(err)
							return
						}
						buf[at-1] = byte(len(buf) - at) // a keep-alive is far below 256 bytes
						if _, err := s.nc.Write(buf); err != nil {
							if ctx.Err() == nil {
								k.fail(err)
							}
						} else {
							k.sent.Add(1)
						}
						if next += writers; next >= n {
							next, round = w, round+period
						}
					}
				}
			}
		})
	}
	return k
}

// pause stops the keep-alives; the connections stay open and read.
func (k *keepAliveLoad) pause() {
	k.stopWriters()
	k.writers.Wait()
}

func (k *keepAliveLoad) stop(sessions []*rawSession) {
	k.pause()
	k.cancel()
	for _, s := range sessions {
		if s != nil {
			_ = s.nc.Close()
		}
	}
	k.wg.Wait()
}
