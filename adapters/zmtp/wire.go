package zmtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// ZMTP 3.1 wire format (rfc.zeromq.org/spec/37). We write the decoders ourselves
// instead of using zmq4.Conn: zmq4 allocates whatever a frame's length field claims and
// its metadata decoder indexes past the end of short input (docs/transport.md).

const (
	greetingSize = 64

	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
	flagsKnown  = flagMore | flagLong | flagCommand

	// maxCommandSize bounds command frames (READY metadata, PING, ERROR): libzmq's are
	// a few dozen bytes; 64 KiB leaves room for application metadata.
	maxCommandSize = 64 << 10
	// maxPingContext is the largest PING context the spec allows.
	maxPingContext = 16
	// readChunk: bodies larger than this grow as their bytes arrive, so a length field
	// alone never makes us allocate more than this.
	readChunk = 64 << 10

	mechanismNull = "NULL"

	cmdReady = "READY"
	cmdPing  = "PING"
	cmdPong  = "PONG"
	cmdError = "ERROR"

	propSocketType = "Socket-Type"

	socketClient = "CLIENT"
	socketServer = "SERVER"
)

// greeting is the decoded part of a peer's 64-byte greeting that we act on.
type greeting struct {
	major, minor byte
	asServer     bool
}

// supportsHeartbeat reports whether the peer speaks ZMTP 3.1 or later (PING/PONG).
func (g greeting) supportsHeartbeat() bool {
	return g.major > 3 || (g.major == 3 && g.minor >= 1)
}

// appendGreeting appends our greeting: ZMTP 3.1, NULL mechanism.
func appendGreeting(dst []byte, asServer bool) []byte {
	var g [greetingSize]byte
	g[0] = 0xFF
	g[8] = 0x01 // padding as libzmq sends it: looks like a 1-byte ZMTP 1.0 identity
	g[9] = 0x7F
	g[10], g[11] = 3, 1
	copy(g[12:32], mechanismNull)
	if asServer {
		g[32] = 1
	}
	return append(dst, g[:]...)
}

// parseGreeting validates a peer's greeting. It requires ZMTP 3.0 or later and the NULL
// mechanism; older peers are refused rather than downgraded to.
func parseGreeting(b []byte) (greeting, error) {
	if len(b) != greetingSize {
		return greeting{}, fmt.Errorf("%w: greeting of %d bytes", ErrProtocol, len(b))
	}
	if b[0] != 0xFF || b[9] != 0x7F {
		return greeting{}, fmt.Errorf("%w: bad greeting signature", ErrProtocol)
	}
	g := greeting{major: b[10], minor: b[11], asServer: b[32] == 1}
	if g.major < 3 {
		return greeting{}, fmt.Errorf("%w: ZMTP version %d.%d unsupported", ErrProtocol, g.major, g.minor)
	}
	mech := b[12:32]
	if end := bytes.IndexByte(mech, 0); end >= 0 {
		if !allZero(mech[end:]) {
			return greeting{}, fmt.Errorf("%w: bad mechanism field", ErrProtocol)
		}
		mech = mech[:end]
	}
	if string(mech) != mechanismNull {
		return greeting{}, fmt.Errorf("%w: mechanism %q unsupported", ErrProtocol, printable(mech))
	}
	return g, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// printable shortens and sanitizes peer-supplied bytes for error messages and logs.
func printable(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return fmt.Sprintf("%q", b)
}

// frame is one decoded ZMTP frame.
type frame struct {
	flags byte
	body  []byte
	// oversize is the length of a message frame over the limit that was skipped
	// (frameReader.skipPrefix); body then holds its first bytes. Zero otherwise.
	oversize uint64
}

func (f frame) isCommand() bool { return f.flags&flagCommand != 0 }
func (f frame) more() bool      { return f.flags&flagMore != 0 }

// frameReader decodes frames, refusing any whose declared size exceeds the limits before
// reading or allocating its body.
type frameReader struct {
	r      *lazyReader
	maxMsg int
	// skipPrefix > 0: a single-part message frame over maxMsg is read past instead of
	// failing, keeping its first skipPrefix bytes (a Client's WithSkipTooLarge).
	skipPrefix int
	hdr        [8]byte
}

// maxSkip bounds what a skipped frame may claim; the read deadline bounds how long
// reading past it may take.
const maxSkip = 1 << 40

func newFrameReader(r io.Reader, maxMsg int) *frameReader {
	return &frameReader{r: newLazyReader(r), maxMsg: maxMsg}
}

// next reads one frame. Errors from the underlying reader are returned as they are;
// format and size violations wrap ErrProtocol or ErrTooLarge.
func (fr *frameReader) next() (frame, error) {
	flags, err := fr.r.ReadByte()
	if err != nil {
		return frame{}, err
	}
	if flags&^flagsKnown != 0 {
		return frame{}, fmt.Errorf("%w: reserved frame flags %#x", ErrProtocol, flags)
	}
	if flags&flagCommand != 0 && flags&flagMore != 0 {
		return frame{}, fmt.Errorf("%w: command frame with MORE", ErrProtocol)
	}
	var size uint64
	if flags&flagLong != 0 {
		if _, err := io.ReadFull(fr.r, fr.hdr[:8]); err != nil {
			return frame{}, noEOF(err)
		}
		size = binary.BigEndian.Uint64(fr.hdr[:8])
	} else {
		b, err := fr.r.ReadByte()
		if err != nil {
			return frame{}, noEOF(err)
		}
		size = uint64(b)
	}
	limit := uint64(fr.maxMsg)
	if flags&flagCommand != 0 {
		limit = maxCommandSize
		if size > limit {
			return frame{}, fmt.Errorf("%w: command frame of %d bytes", ErrProtocol, size)
		}
	} else if size > limit {
		if fr.skipPrefix > 0 && flags&flagMore == 0 && size <= maxSkip {
			return fr.skip(flags, size)
		}
		return frame{}, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, size, limit)
	}
	body, err := readBody(fr.r, int(size))
	if err != nil {
		return frame{}, noEOF(err)
	}
	return frame{flags: flags, body: body}, nil
}

// skip keeps the first bytes of a frame over the limit and reads past the rest without
// keeping it.
func (fr *frameReader) skip(flags byte, size uint64) (frame, error) {
	prefix := make([]byte, min(uint64(fr.skipPrefix), size))
	if _, err := io.ReadFull(fr.r, prefix); err != nil {
		return frame{}, noEOF(err)
	}
	rest := int64(size) - int64(len(prefix))
	if n, err := io.CopyN(io.Discard, fr.r, rest); n != rest {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	return frame{flags: flags, body: prefix, oversize: size}, nil
}

// readBody reads n bytes, growing the buffer at most readChunk ahead of the bytes that
// have actually arrived.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= readChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, readChunk)
	for len(b) < n {
		step := min(n-len(b), readChunk)
		b = slices.Grow(b, step)
		m, err := io.ReadFull(r, b[len(b):len(b)+step])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// noEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frameHeader returns the header bytes of a frame of the given size, into buf.
func frameHeader(buf *[9]byte, flags byte, size int) []byte {
	if size > 255 {
		buf[0] = flags | flagLong
		binary.BigEndian.PutUint64(buf[1:], uint64(size))
		return buf[:9]
	}
	buf[0] = flags
	buf[1] = byte(size)
	return buf[:2]
}

// appendCommand appends a whole command frame.
func appendCommand(dst []byte, name string, data []byte) []byte {
	var hdr [9]byte
	dst = append(dst, frameHeader(&hdr, flagCommand, 1+len(name)+len(data))...)
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}

// parseCommand splits a command frame's body into its name and data.
func parseCommand(body []byte) (name string, data []byte, err error) {
	if len(body) == 0 {
		return "", nil, fmt.Errorf("%w: empty command", ErrProtocol)
	}
	n := int(body[0])
	if n == 0 || n > len(body)-1 {
		return "", nil, fmt.Errorf("%w: bad command name length %d", ErrProtocol, n)
	}
	return string(body[1 : 1+n]), body[1+n:], nil
}

// property is one metadata entry of a READY command.
type property struct {
	name  string
	value []byte
}

// appendMetadata encodes properties (names must be 1..255 bytes).
func appendMetadata(dst []byte, props ...property) []byte {
	for _, p := range props {
		dst = append(dst, byte(len(p.name)))
		dst = append(dst, p.name...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.value)))
		dst = append(dst, p.value...)
	}
	return dst
}

// parseMetadata decodes READY metadata. Values alias data.
func parseMetadata(data []byte) ([]property, error) {
	var props []property
	for len(data) > 0 {
		n := int(data[0])
		if n == 0 || len(data) < 1+n+4 {
			return nil, fmt.Errorf("%w: truncated metadata name", ErrProtocol)
		}
		name := string(data[1 : 1+n])
		data = data[1+n:]
		vlen := binary.BigEndian.Uint32(data)
		data = data[4:]
		if uint64(vlen) > uint64(len(data)) {
			return nil, fmt.Errorf("%w: truncated metadata value", ErrProtocol)
		}
		props = append(props, property{name: name, value: data[:vlen]})
		data = data[vlen:]
	}
	return props, nil
}

// lookupProperty finds a property by name, case-insensitively as the spec requires.
func lookupProperty(props []property, name string) ([]byte, bool) {
	for _, p := range props {
		if equalFoldASCII(p.name, name) {
			return p.value, true
		}
	}
	return nil, false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// parsePing decodes a PING's TTL (in deciseconds) and context.
func parsePing(data []byte) (ttlDeciseconds uint16, context []byte, err error) {
	if len(data) < 2 || len(data)-2 > maxPingContext {
		return 0, nil, fmt.Errorf("%w: PING of %d bytes", ErrProtocol, len(data))
	}
	return binary.BigEndian.Uint16(data), data[2:], nil
}

// parseError decodes an ERROR command's reason.
func parseError(data []byte) (string, error) {
	if len(data) < 1 || int(data[0]) > len(data)-1 {
		return "", fmt.Errorf("%w: malformed ERROR", ErrProtocol)
	}
	return string(data[1 : 1+int(data[0])]), nil
}
