package clientsession

// sent is a pending call's place in the send order: a doubly linked list of the calls
// on the live connection, ordered by when each was last sent. Every send happens at the
// engine's latest time, which never goes back, so moving the sent call to the back keeps
// the list sorted, and the front is the call whose resend is due first. That makes
// NextDeadline constant-time; the shell asks for it after every event.
type sent struct {
	prev, next *sent
	lastSent   int64
}

// sendOrder is the list; its zero value must be initialised with init.
type sendOrder struct{ root sent }

func (o *sendOrder) init() { o.root.prev, o.root.next = &o.root, &o.root }

// touch records that n was sent at now (not earlier than any other call's last send)
// and moves it to the back.
func (o *sendOrder) touch(n *sent, now int64) {
	o.remove(n)
	n.lastSent = now
	n.prev, n.next = o.root.prev, &o.root
	o.root.prev.next = n
	o.root.prev = n
}

// remove takes n out of the list; removing a call that is not in it does nothing.
func (o *sendOrder) remove(n *sent) {
	if n.next == nil {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
}

// oldest is the call sent longest ago, if any.
func (o *sendOrder) oldest() (*sent, bool) {
	if o.root.next == &o.root {
		return nil, false
	}
	return o.root.next, true
}
