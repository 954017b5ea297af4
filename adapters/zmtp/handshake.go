package zmtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// handshake exchanges greetings and READY commands on nc, announcing our socket type and
// accepting only a peer of socket type want. Everything happens before deadline; the
// frame reader enforces the command size limit, so a hostile peer costs at most the
// deadline and a few KiB. Bytes the peer sent after its READY stay buffered in fr.
func handshake(nc net.Conn, fr *frameReader, ours, want string, deadline time.Time) (greeting, error) {
	if err := nc.SetDeadline(deadline); err != nil {
		return greeting{}, err
	}
	g, err := doHandshake(nc, fr, ours, want)
	if err != nil {
		return greeting{}, handshakeError(err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return greeting{}, err
	}
	return g, nil
}

func doHandshake(nc net.Conn, fr *frameReader, ours, want string) (greeting, error) {
	// The greeting is written whole: libzmq sends its signature first and waits for ours,
	// which ours starts with, so neither side waits on the other.
	if _, err := nc.Write(appendGreeting(nil, false)); err != nil {
		return greeting{}, err
	}
	// The 10-byte signature is checked before waiting for the rest, so that a peer
	// speaking something else entirely is dropped at once, not at the deadline.
	var buf [greetingSize]byte
	if _, err := io.ReadFull(fr.r, buf[:1]); err != nil {
		return greeting{}, noEOF(err)
	}
	if buf[0] != 0xFF {
		return greeting{}, fmt.Errorf("%w: bad greeting signature", ErrProtocol)
	}
	if _, err := io.ReadFull(fr.r, buf[1:10]); err != nil {
		return greeting{}, noEOF(err)
	}
	if buf[9] != 0x7F {
		return greeting{}, fmt.Errorf("%w: bad greeting signature", ErrProtocol)
	}
	if _, err := io.ReadFull(fr.r, buf[10:]); err != nil {
		return greeting{}, noEOF(err)
	}
	g, err := parseGreeting(buf[:])
	if err != nil {
		return greeting{}, err
	}
	ready := appendCommand(nil, cmdReady, appendMetadata(nil, property{propSocketType, []byte(ours)}))
	if _, err := nc.Write(ready); err != nil {
		return greeting{}, err
	}
	f, err := fr.next()
	if err != nil {
		return greeting{}, err
	}
	if !f.isCommand() {
		return greeting{}, fmt.Errorf("%w: message before READY", ErrProtocol)
	}
	name, data, err := parseCommand(f.body)
	if err != nil {
		return greeting{}, err
	}
	if name == cmdError {
		reason, _ := parseError(data)
		return greeting{}, fmt.Errorf("%w: %q", ErrPeerError, reason)
	}
	if name != cmdReady {
		return greeting{}, fmt.Errorf("%w: %q instead of READY", ErrProtocol, printable([]byte(name)))
	}
	props, err := parseMetadata(data)
	if err != nil {
		return greeting{}, err
	}
	peer, ok := lookupProperty(props, propSocketType)
	if !ok || string(peer) != want {
		// Tell the peer why, as libzmq does; it may already be gone, so errors are moot.
		_, _ = nc.Write(appendCommand(nil, cmdError, append([]byte{19}, "Invalid socket type"...)))
		return greeting{}, fmt.Errorf("%w: peer is %s, want %s", ErrSocketType, printable(peer), want)
	}
	return g, nil
}

func handshakeError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrHandshakeTimeout
	}
	return err
}
