package zmtp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Client is a ZeroMQ CLIENT socket: one connection at a time to a SERVER peer, to the
// endpoint last given to Connect, re-established after loss with exponential backoff
// and jitter. Recv reports EventUp and EventDown around each connection.
type Client struct {
	cfg    *config
	events chan Event
	wake   chan struct{} // the endpoint changed

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu            sync.Mutex
	endpoint      string // tcp://... as given
	addr          string // host:port
	cur           *link
	curEndpoint   string
	attemptCancel context.CancelFunc

	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewClient returns a Client that connects once Connect names an endpoint.
func NewClient(opts ...Option) (*Client, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		events: make(chan Event, cfg.recvQueue),
		wake:   make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// Connect makes endpoint (tcp://host:port) the one to be connected to. A connection to
// another endpoint is closed (EventDown with ErrDisconnected); a pending reconnect wait
// is cut short.
func (c *Client) Connect(endpoint string) error {
	addr, err := parseEndpoint(endpoint, false)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	c.endpoint, c.addr = endpoint, addr
	if c.cur != nil && c.curEndpoint != endpoint {
		c.cur.shutdown(ErrDisconnected)
	}
	if c.attemptCancel != nil {
		c.attemptCancel()
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// Send queues data on the current connection, waiting while its queue is full; data must
// not be modified afterwards. Without a connection it returns ErrNotConnected at once.
func (c *Client) Send(ctx context.Context, data []byte) error {
	if len(data) > c.cfg.maxMsg {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	c.mu.Lock()
	l := c.cur
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if l == nil || l.closed() {
		return ErrNotConnected
	}
	for {
		ok, space := l.queue.push(data)
		if ok {
			l.kick()
			return nil
		}
		select {
		case <-space:
		case <-l.done:
			return ErrNotConnected
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return ErrClosed
		}
	}
}

// Flush returns once every message queued on the current connection before the call
// has been written to the socket (handed to the operating system, which sends it even
// if the Client is closed right after), or when ctx ends. Without a connection, or if
// the connection ends first, it fails with ErrNotConnected.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	l := c.cur
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if l == nil || l.closed() {
		return ErrNotConnected
	}
	reply := make(chan struct{})
	l.requestFlush(reply)
	select {
	case <-reply:
		return nil
	case <-l.done:
		select {
		case <-reply:
			return nil
		default:
		}
		return fmt.Errorf("%w: %w", ErrNotConnected, l.err())
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// Recv returns the next event: a message, or the connection going up or down.
func (c *Client) Recv(ctx context.Context) (Event, error) {
	select {
	case ev := <-c.events:
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-c.ctx.Done():
		return Event{}, ErrClosed
	}
}

// Close closes the connection and waits for all goroutines to end.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cancel()
		if c.cur != nil {
			c.cur.shutdown(ErrClosed)
		}
		if c.attemptCancel != nil {
			c.attemptCancel()
		}
		c.mu.Unlock()
	})
	c.wg.Wait()
	return nil
}

// run is the connection manager: dial, serve, report, back off, repeat.
func (c *Client) run() {
	defer c.wg.Done()
	backoff := c.cfg.backoffMin
	for c.ctx.Err() == nil {
		select { // a wake-up for an endpoint change is consumed by reading the endpoint
		case <-c.wake:
		default:
		}
		c.mu.Lock()
		endpoint, addr := c.endpoint, c.addr
		ctx, cancel := context.WithCancel(c.ctx)
		c.attemptCancel = cancel
		c.mu.Unlock()
		if endpoint == "" {
			cancel()
			if !c.wait(0) {
				return
			}
			continue
		}
		l, err := c.dial(ctx, addr)
		abandoned := ctx.Err() != nil
		cancel()
		if err != nil {
			c.cfg.logger.Debug("zmtp: connect failed", "endpoint", endpoint, "err", err, "retry_in", backoff)
			if !abandoned && !c.emit(nil, Event{Kind: EventDialFailed, Endpoint: endpoint, Reason: err}) {
				return
			}
			if !c.wait(jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, c.cfg.backoffMax)
			continue
		}
		backoff = c.cfg.backoffMin
		if c.serve(l, endpoint) {
			continue // the endpoint was switched: dial the new one at once
		}
		if !c.wait(jitter(backoff)) {
			return
		}
	}
}

// wait sleeps for d (forever if 0) or until Connect or Close; false means closed.
func (c *Client) wait(d time.Duration) bool {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
	case <-c.wake:
	case <-c.ctx.Done():
		return false
	}
	return true
}

// jitter spreads d over [d/2, d) so that many clients do not reconnect in step.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func (c *Client) dial(ctx context.Context, addr string) (*link, error) {
	d := net.Dialer{Timeout: c.cfg.dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fr := newFrameReader(nc, c.cfg.maxMsg)
	fr.skipPrefix = c.cfg.skipPrefix
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	g, err := handshake(nc, fr, socketClient, socketServer, time.Now().Add(c.cfg.handshakeTimeout))
	if !stop() || err != nil {
		_ = nc.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return newLink(nc, fr, c.cfg, g.supportsHeartbeat()), nil
}

// serve runs an established link until it ends and reports it; it returns true if the
// link ended because the endpoint was switched.
func (c *Client) serve(l *link, endpoint string) bool {
	c.mu.Lock()
	if c.endpoint != endpoint || c.ctx.Err() != nil {
		c.mu.Unlock()
		l.shutdown(ErrDisconnected)
		return true
	}
	c.cur, c.curEndpoint = l, endpoint
	c.mu.Unlock()

	l.start()
	if c.emit(l, Event{Kind: EventUp, Endpoint: endpoint}) {
		l.shutdown(l.readLoop(func(b []byte) bool {
			return c.emit(l, Event{Kind: EventMessage, Data: b})
		}, func(prefix []byte, size uint64) bool {
			c.cfg.logger.Debug("zmtp: skipped a message over the size limit", "endpoint", endpoint, "size", size, "limit", c.cfg.maxMsg)
			return c.emit(l, Event{Kind: EventTooLarge, Endpoint: endpoint, Data: prefix, Size: size})
		}))
	} else {
		l.shutdown(ErrClosed)
	}
	reason := l.err()
	l.stopWriters()
	c.mu.Lock()
	c.cur = nil
	switched := c.endpoint != endpoint
	c.mu.Unlock()
	c.emit(nil, Event{Kind: EventDown, Endpoint: endpoint, Reason: reason})
	return switched
}

func (c *Client) emit(l *link, ev Event) bool {
	var ldone chan struct{}
	if l != nil {
		ldone = l.done
	}
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	case <-ldone:
		return false
	}
}
