package raftnode

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStreamLayer is raft's stream layer on plain TCP: our own so that the bound address
// can be learnt before the advertised one is chosen (port 0) and so that tests can wrap
// it (WrapStreamLayer) to partition members over real TCP.
//
// It also owns every connection it accepted or dialled and closes them on Close:
// raft's NetworkTransport closes only the listener, and its handlers of accepted
// connections would otherwise live on until the peer hangs up.
type tcpStreamLayer struct {
	net.Listener
	advertise net.Addr

	mu     sync.Mutex
	conns  map[*ownedConn]struct{}
	closed bool
}

var _ raft.StreamLayer = (*tcpStreamLayer)(nil)

func listenStreamLayer(bind, advertise string) (*tcpStreamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raftnode: listen %s: %w", bind, err)
	}
	adv := ln.Addr()
	if advertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", advertise); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("raftnode: resolve advertise address %s: %w", advertise, err)
		}
	} else if err := checkAdvertise(adv.String()); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: bound address %s cannot be advertised (set AdvertiseAddr): %v", ErrInvalidConfig, adv, err)
	}
	return &tcpStreamLayer{Listener: ln, advertise: adv, conns: map[*ownedConn]struct{}{}}, nil
}

// Dial implements raft.StreamLayer.
func (l *tcpStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	return l.own(c)
}

// Accept implements net.Listener.
func (l *tcpStreamLayer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.own(c)
}

func (l *tcpStreamLayer) own(c net.Conn) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	oc := &ownedConn{Conn: c, l: l}
	l.conns[oc] = struct{}{}
	return oc, nil
}

// Close closes the listener and every connection of the layer.
func (l *tcpStreamLayer) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*ownedConn]struct{}{}
	l.mu.Unlock()
	err := l.Listener.Close()
	for c := range conns {
		_ = c.Conn.Close()
	}
	return err
}

type ownedConn struct {
	net.Conn
	l    *tcpStreamLayer
	once sync.Once
}

func (c *ownedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Addr implements net.Listener: the advertised address.
func (l *tcpStreamLayer) Addr() net.Addr { return l.advertise }
