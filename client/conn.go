package client

import (
	"context"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// conn is one connection the engine asked for: its own ZeroMQ CLIENT socket, and a pump
// goroutine that forwards the socket's events to the owner, tagged with the connection.
// A socket per connection keeps the engine's numbering exact: events of an old
// connection can never be mistaken for the new one's.
type conn struct {
	id     clientsession.ConnID
	member protocol.MemberID
	zc     *zmtp.Client
	cancel context.CancelFunc
	up     bool
}

// tooLargePrefix is how much of a message over the size limit the transport keeps for
// the engine, which finds the call it answers in it.
const tooLargePrefix = 512

type connEvent struct {
	id clientsession.ConnID
	ev zmtp.Event
}

func (l *loop) connect(o clientsession.Connect) {
	zc, err := zmtp.NewClient(
		zmtp.WithLogger(l.c.opts.logger),
		zmtp.WithSendQueue(defaultTransportSendQueue),
		// One limit end to end: what the transport accepts, the engine decodes; an
		// answer over it fails its call instead of breaking the connection.
		zmtp.WithMaxMessageSize(l.c.opts.maxMessage),
		zmtp.WithSkipTooLarge(tooLargePrefix),
		zmtp.WithDialTimeout(l.c.opts.connectTimeout),
		zmtp.WithHandshakeTimeout(max(l.c.opts.connectTimeout, defaultTransportHandshakeTO)),
	)
	if err == nil {
		err = zc.Connect(o.Endpoint)
		if err != nil {
			_ = zc.Close()
		}
	}
	if err != nil {
		// A bad endpoint: tell the engine the connection failed, so it tries the next
		// member; it answers with Disconnect, for which there is nothing to do.
		l.c.opts.logger.Warn("client: cannot connect", "member", o.Member, "endpoint", o.Endpoint, "err", err)
		_ = l.step(clientsession.ConnectionDown{Conn: o.Conn})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{id: o.Conn, member: o.Member, zc: zc, cancel: cancel}
	l.conns[o.Conn] = c
	l.pumps.Add(1)
	go func() {
		defer l.pumps.Done()
		for {
			ev, err := zc.Recv(ctx)
			if err != nil {
				return
			}
			select {
			case l.inbox <- connEvent{id: c.id, ev: ev}:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (l *loop) disconnect(id clientsession.ConnID) {
	c, ok := l.conns[id]
	if !ok {
		return
	}
	if l.closing && l.closeSent[id] {
		l.linger(c)
	}
	delete(l.conns, id)
	c.cancel()
	_ = c.zc.Close()
}

func (l *loop) sendOn(id clientsession.ConnID, b []byte) {
	c, ok := l.conns[id]
	if !ok {
		return
	}
	if l.closing {
		l.closeSent[id] = true
	}
	// Send waits only while the socket's queue is full, which its writer drains.
	if err := c.zc.Send(context.Background(), b); err != nil {
		// The connection is going down: its EventDown follows, and the engine re-sends
		// everything pending on the next connection.
		l.c.opts.logger.Debug("client: send failed", "member", c.member, "err", err)
	}
}

// connEvent feeds one socket event to the engine, deferring server requests while the
// application is behind on ServerRequests (see loop.backlog).
func (l *loop) connEvent(ce connEvent) {
	c, ok := l.conns[ce.id]
	if !ok {
		return // a connection already released; its late events mean nothing
	}
	switch ce.ev.Kind {
	case zmtp.EventUp:
		if c.up {
			return // the socket reconnected on its own; the engine already has this one
		}
		c.up = true
		l.c.metrics.connected()
		_ = l.step(clientsession.ConnectionUp{Conn: c.id, Nonce: nonce()})
	case zmtp.EventDown:
		_ = l.step(clientsession.ConnectionDown{Conn: c.id})
	case zmtp.EventDialFailed:
		if c.up {
			return // the engine already had this connection's EventDown
		}
		// A refused or failed attempt: the engine moves on to the next member now
		// rather than at its connect timeout.
		l.c.opts.logger.Debug("client: connection attempt failed", "member", c.member, "err", ce.ev.Reason)
		_ = l.step(clientsession.ConnectionDown{Conn: c.id})
	case zmtp.EventTooLarge:
		l.c.opts.logger.Warn("client: message over the size limit (WithMaxMessageSize)", "member", c.member,
			"size", ce.ev.Size, "limit", l.c.opts.maxMessage)
		l.from = c.member
		_ = l.step(clientsession.ReceivedTooLarge{Conn: c.id, Prefix: ce.ev.Data, Size: ce.ev.Size})
		l.from = ""
	case zmtp.EventMessage:
		l.c.metrics.frame(ce.ev.Data)
		if len(l.backlog) > 0 && l.mustDefer(ce.ev.Data) {
			return
		}
		l.from = c.member // what this message completes, that member answered
		_ = l.step(clientsession.Received{Conn: c.id, Bytes: ce.ev.Data})
		l.from = ""
	}
}

// mustDefer reports whether b is a new server request that must wait because the
// application has not read the earlier ones. Re-sent ones (id ≤ last) still go to the
// engine, which re-acknowledges them.
func (l *loop) mustDefer(b []byte) bool {
	if len(b) < 7 || protocol.ServerCode(b[6]) != protocol.CodeServerRequest {
		return false
	}
	m, err := protocol.Decoder{MaxMessageSize: l.c.opts.maxMessage}.DecodeServerMessage(b)
	if err != nil {
		return false // the engine reports it
	}
	sr := m.(*protocol.ServerRequest)
	if sr.RequestID <= l.eng.Status().LastServerRequest {
		return false
	}
	l.deferred++
	l.c.opts.logger.Debug("client: server request deferred: the application is not reading ServerRequests",
		"id", sr.RequestID, "deferred", l.deferred)
	return true
}

// linger waits, before a connection carrying a CloseSession is closed, until what was
// queued on it (the CloseSession) is written to the socket, so that closing the socket
// does not lose it. Bounded by the close linger and Close's context.
func (l *loop) linger(c *conn) {
	if !c.up || l.c.opts.linger == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(l.closeCtx, l.c.opts.linger)
	defer cancel()
	if err := c.zc.Flush(ctx); err != nil {
		l.c.opts.logger.Debug("client: close linger ended before the CloseSession was written", "member", c.member, "err", err)
	}
}
