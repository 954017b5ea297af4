package zmtp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// FuzzFrameReader: arbitrary bytes never panic the frame decoder, no frame exceeds its
// limit, and a frame we encode decodes to itself.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c'})
	f.Add([]byte{flagMore, 1, 'a', 0, 0})
	f.Add(appendCommand(nil, cmdPing, []byte{0, 100, 'x'}))
	f.Add(appendCommand(nil, cmdReady, appendMetadata(nil, property{propSocketType, []byte("CLIENT")})))
	f.Add([]byte{flagLong, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{flagLong | flagCommand, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{flagLong, 0, 0, 0, 0, 0, 0, 2, 0, 'z'}) // 512 bytes announced, 1 there
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxMsg = 300
		fr := newFrameReader(bytes.NewReader(data), maxMsg)
		// Half the inputs read with skipping on (a Client's WithSkipTooLarge), chosen by
		// the input itself so a finding replays.
		if len(data) > 0 && data[len(data)-1]&1 == 1 {
			fr.skipPrefix = 16
		}
		for {
			fm, err := fr.next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrProtocol) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				break
			}
			if fm.oversize > 0 {
				if fr.skipPrefix == 0 || fm.oversize <= maxMsg || fm.isCommand() || fm.more() ||
					len(fm.body) != min(fr.skipPrefix, int(fm.oversize)) {
					t.Fatalf("skipped frame of %d bytes, prefix %d, flags %#x", fm.oversize, len(fm.body), fm.flags)
				}
				continue
			}
			limit := maxMsg
			if fm.isCommand() {
				limit = maxCommandSize
				_ = checkCommand(fm.body)
			}
			if len(fm.body) > limit {
				t.Fatalf("frame of %d bytes passed limit %d", len(fm.body), limit)
			}
			// Re-encoding gives a frame that decodes to the same flags and body.
			var hdr [9]byte
			enc := append(frameHeader(&hdr, fm.flags&^flagLong, len(fm.body)), fm.body...)
			again, err := newFrameReader(bytes.NewReader(enc), maxMsg).next()
			if err != nil || again.flags&^flagLong != fm.flags&^flagLong || !bytes.Equal(again.body, fm.body) {
				t.Fatalf("re-encoded frame differs: %v", err)
			}
		}
	})
}

// checkCommand runs every command decoder on a command body.
func checkCommand(body []byte) error {
	name, data, err := parseCommand(body)
	if err != nil {
		return err
	}
	switch name {
	case cmdReady:
		_, err = parseMetadata(data)
	case cmdPing:
		_, _, err = parsePing(data)
	case cmdError:
		_, err = parseError(data)
	}
	return err
}

// FuzzCommand: the command, metadata, PING and ERROR decoders never panic, and metadata
// that decodes re-encodes to the same bytes.
func FuzzCommand(f *testing.F) {
	f.Add([]byte{5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6, 'C', 'L', 'I', 'E', 'N', 'T'})
	f.Add([]byte{4, 'P', 'I', 'N', 'G', 0, 1, 'c'})
	f.Add([]byte{5, 'E', 'R', 'R', 'O', 'R', 2, 'n', 'o'})
	f.Add([]byte{0xFF, 'x'})
	f.Add([]byte{1, 'x', 3, 'a', 'b', 'c', 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkCommand(body)
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Metadata round trip, on the whole input as well as on the command data.
		for _, md := range [][]byte{body, commandData(body)} {
			props, err := parseMetadata(md)
			if err != nil {
				continue
			}
			if enc := appendMetadata(nil, props...); !bytes.Equal(enc, md) {
				t.Fatalf("metadata re-encodes to %x, was %x", enc, md)
			}
		}
	})
}

func commandData(body []byte) []byte {
	_, data, _ := parseCommand(body)
	return data
}

// FuzzGreeting: any 64 bytes either parse or fail with ErrProtocol, and ours parse.
func FuzzGreeting(f *testing.F) {
	f.Add(appendGreeting(nil, false))
	f.Add(appendGreeting(nil, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGreeting(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if g.major < 3 || len(b) != greetingSize {
			t.Fatalf("accepted %x", b)
		}
	})
}

// FuzzHandshake: the server side of the handshake, fed arbitrary peer bytes over an
// in-memory connection, never panics and accepts only a CLIENT.
func FuzzHandshake(f *testing.F) {
	f.Add(announce(socketClient))
	f.Add(announce("DEALER"))
	f.Add(appendGreeting(nil, false)[:10])
	f.Add(append(announce(socketClient), 0, 1, 'x'))
	f.Fuzz(func(t *testing.T, in []byte) {
		ours, peer := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, peer) }()
		go func() { defer wg.Done(); _, _ = peer.Write(in); _ = peer.Close() }()
		fr := newFrameReader(ours, 1000)
		_, err := handshake(ours, fr, socketServer, socketClient, time.Now().Add(time.Second))
		_ = ours.Close()
		wg.Wait()
		if err == nil && !bytes.Contains(in, []byte(socketClient)) {
			t.Fatalf("accepted a peer that never said CLIENT: %x", in)
		}
	})
}
