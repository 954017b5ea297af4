package zmtp

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// chunkReader returns its data in reads of the given sizes, cycling through them.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(c.sizes) > 0 {
		n = min(n, max(c.sizes[c.i%len(c.sizes)], 1))
		c.i++
	}
	n = copy(p, c.data[:min(n, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// readAllMixed reads z to the end with a mix of ReadByte and Reads of the sizes ops
// gives, and checks that the large buffer is never held with nothing left to read.
func readAllMixed(t *testing.T, z *lazyReader, ops []byte) []byte {
	t.Helper()
	var out []byte
	for i := 0; ; i++ {
		op := byte(0)
		if len(ops) > 0 {
			op = ops[i%len(ops)]
		}
		var err error
		if op%4 == 0 {
			var c byte
			if c, err = z.ReadByte(); err == nil {
				out = append(out, c)
			}
		} else {
			size := int(op) * 37
			if op%4 == 3 {
				size = largeReadSize + int(op)
			}
			p := make([]byte, size)
			var n int
			n, err = z.Read(p)
			out = append(out, p[:n]...)
		}
		if z.large != nil && z.Buffered() == 0 {
			t.Fatal("large buffer held with nothing buffered")
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzLazyReader(f *testing.F) {
	f.Add(bytes.Repeat([]byte("abc"), 5000), []byte{0, 1, 2, 3}, []byte{byte(smallReadSize >> 2), 7})
	f.Add([]byte("x"), []byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{1}, 3*largeReadSize+1), []byte{3, 3, 0}, []byte{255})
	f.Fuzz(func(t *testing.T, data, ops, sizes []byte) {
		var sz []int
		for _, s := range sizes {
			sz = append(sz, int(s)<<2) // multiples of 4 hit the small buffer's size exactly
		}
		got := readAllMixed(t, newLazyReader(&chunkReader{data: data, sizes: sz}), ops)
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, want %d (or different)", len(got), len(data))
		}
	})
}

// The reader works over sources that return little at a time or data with the error.
func TestLazyReaderSources(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 3000)
	for name, src := range map[string]func() io.Reader{
		"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data-err": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		"whole":    func() io.Reader { return bytes.NewReader(data) },
	} {
		for _, ops := range [][]byte{{0}, {1}, {3}, {0, 1, 2, 3, 5}} {
			if got := readAllMixed(t, newLazyReader(src()), ops); !bytes.Equal(got, data) {
				t.Fatalf("%s %v: read %d bytes, want %d", name, ops, len(got), len(data))
			}
		}
	}
	// A source that never makes progress is reported, not spun on forever.
	if _, err := newLazyReader(iotest.ErrReader(nil)).ReadByte(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("no progress: %v", err)
	}
}

// After a burst that used the large buffer, an idle reader holds none, nor a small one.
func TestLazyReaderReleasesLargeBuffer(t *testing.T) {
	data := bytes.Repeat([]byte("z"), 4*largeReadSize)
	z := newLazyReader(bytes.NewReader(data))
	p := make([]byte, 100)
	sawLarge := false
	for {
		if _, err := z.Read(p); err != nil {
			break
		}
		sawLarge = sawLarge || z.large != nil
	}
	if !sawLarge {
		t.Fatal("a burst was never read into the large buffer")
	}
	if z.large != nil || z.small != nil || z.Buffered() != 0 {
		t.Fatal("buffers held after the burst was consumed")
	}
	// Likewise the small buffer, after a short read consumed whole.
	z = newLazyReader(bytes.NewReader([]byte("abc")))
	if _, err := z.ReadByte(); err != nil || z.small == nil {
		t.Fatalf("first byte: %v, small buffer %v", err, z.small != nil)
	}
	if _, err := z.Read(p); err != nil {
		t.Fatal(err)
	}
	if z.small != nil || z.Buffered() != 0 {
		t.Fatal("small buffer held after its bytes were consumed")
	}
}
