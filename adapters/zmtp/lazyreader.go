package zmtp

import (
	"io"
	"sync"
)

// Read buffer sizes: a read waits for the next frame in a small buffer borrowed from a
// pool, which holds a typical message whole; only when a read fills it (more bytes are
// on the way) does the next read borrow a large buffer from another pool. Either buffer
// goes back as soon as its bytes are consumed, so a connection that is not reading
// (an idle one served by the Server's poller) holds none.
const (
	smallReadSize = 512
	largeReadSize = 8 << 10
)

var (
	smallReadBufs = sync.Pool{New: func() any { return new([smallReadSize]byte) }}
	largeReadBufs = sync.Pool{New: func() any {
		b := make([]byte, largeReadSize)
		return &b
	}}
)

// lazyReader is a buffered reader (like bufio.Reader, for the methods the frame reader
// uses) that holds no buffer while it has no unread bytes and no read in progress. Not
// safe for concurrent use.
type lazyReader struct {
	src   io.Reader
	small *[smallReadSize]byte // borrowed from smallReadBufs while in use
	large *[]byte              // borrowed from largeReadBufs while in use
	err   error                // from the read that filled the buffer, returned once it is consumed
	r, w  int32                // the buffer's unread bytes are buf()[r:w]
	more  bool                 // the last read filled its buffer
}

// buf is the buffer in use: the large one if borrowed, else the small one.
func (z *lazyReader) buf() []byte {
	if z.large != nil {
		return *z.large
	}
	return z.small[:]
}

func newLazyReader(src io.Reader) *lazyReader { return &lazyReader{src: src} }

// Buffered is the number of bytes read from the source and not yet consumed.
func (z *lazyReader) Buffered() int { return int(z.w - z.r) }

// Read reads into p. When nothing is buffered and p is at least as large as the large
// buffer, it reads from the source directly, as bufio does.
func (z *lazyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if z.r == z.w {
		if len(p) >= largeReadSize && z.err == nil {
			z.release()
			n, err := z.src.Read(p)
			z.more = n == len(p)
			return n, err
		}
		if err := z.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, z.buf()[z.r:z.w])
	z.r += int32(n)
	z.consumed()
	return n, nil
}

// ReadByte reads one byte.
func (z *lazyReader) ReadByte() (byte, error) {
	if z.r == z.w {
		if err := z.fill(); err != nil {
			return 0, err
		}
	}
	c := z.buf()[z.r]
	z.r++
	z.consumed()
	return c, nil
}

// fill reads at least one byte into an empty buffer, or returns the pending error.
func (z *lazyReader) fill() error {
	if z.err != nil {
		err := z.err
		z.err = nil
		return err
	}
	z.release()
	var buf []byte
	if z.more {
		z.large = largeReadBufs.Get().(*[]byte)
		buf = *z.large
	} else {
		z.small = smallReadBufs.Get().(*[smallReadSize]byte)
		buf = z.small[:]
	}
	for range 100 {
		n, err := z.src.Read(buf)
		if n > 0 {
			z.r, z.w, z.err = 0, int32(n), err
			z.more = n == len(buf)
			return nil
		}
		if err != nil {
			z.release()
			z.more = false
			return err
		}
	}
	z.release()
	return io.ErrNoProgress
}

// consumed returns the buffer once its last byte is read.
func (z *lazyReader) consumed() {
	if z.r == z.w {
		z.release()
	}
}

func (z *lazyReader) release() {
	if z.large != nil {
		largeReadBufs.Put(z.large)
		z.large = nil
	}
	if z.small != nil {
		smallReadBufs.Put(z.small)
		z.small = nil
	}
	z.r, z.w = 0, 0
}
