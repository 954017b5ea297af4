package raftnodetest

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ErrPartitioned is returned when dialling a peer the network cuts off.
var ErrPartitioned = errors.New("raftnodetest: partitioned")

// Network partitions members that talk real TCP: every member's stream layer is wrapped
// (Wrap) and refuses to dial cut-off peers; cutting closes the connections already dialled.
// Each side only closes what it dialled, so cuts are made symmetric (Cut(a, b) blocks both
// directions).
type Network struct {
	mu      sync.Mutex
	blocked map[[2]string]bool
	layers  map[string]*layer
}

// NewNetwork returns a network with no cuts.
func NewNetwork() *Network {
	return &Network{blocked: map[[2]string]bool{}, layers: map[string]*layer{}}
}

// Wrap is a raftnode.Config.WrapStreamLayer.
func (nw *Network) Wrap(inner raft.StreamLayer) raft.StreamLayer {
	l := &layer{StreamLayer: inner, nw: nw, self: inner.Addr().String(), conns: map[*trackedConn]struct{}{}}
	nw.mu.Lock()
	nw.layers[l.self] = l
	nw.mu.Unlock()
	return l
}

// Cut blocks traffic between raft addresses a and b, both ways.
func (nw *Network) Cut(a, b string) {
	nw.mu.Lock()
	nw.blocked[[2]string{a, b}] = true
	nw.blocked[[2]string{b, a}] = true
	la, lb := nw.layers[a], nw.layers[b]
	nw.mu.Unlock()
	if la != nil {
		la.closeTo(b)
	}
	if lb != nil {
		lb.closeTo(a)
	}
}

// HealAll removes every cut.
func (nw *Network) HealAll() {
	nw.mu.Lock()
	nw.blocked = map[[2]string]bool{}
	nw.mu.Unlock()
}

func (nw *Network) isBlocked(from, to string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.blocked[[2]string{from, to}]
}

type layer struct {
	raft.StreamLayer
	nw    *Network
	self  string
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func (l *layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.nw.isBlocked(l.self, string(address)) {
		return nil, ErrPartitioned
	}
	c, err := l.StreamLayer.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l, peer: string(address)}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	if l.nw.isBlocked(l.self, string(address)) { // cut while dialling
		_ = tc.Close()
		return nil, ErrPartitioned
	}
	return tc, nil
}

func (l *layer) closeTo(peer string) {
	l.mu.Lock()
	var victims []*trackedConn
	for c := range l.conns {
		if c.peer == peer {
			victims = append(victims, c)
		}
	}
	l.mu.Unlock()
	for _, c := range victims {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *layer
	peer string
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
