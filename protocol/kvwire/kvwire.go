// Package kvwire holds the payloads of zraft's key-value example application, which ride
// inside protocol.ClientRequest, protocol.Query and protocol.ServerRequest payloads and
// their results. Set, Watch, Get and Notification are byte-compatible with zio-raft's
// key-value example; Delete is zraft's addition.
//
// Every payload starts with an ASCII code byte; strings are an int32 length followed by
// UTF-8. Errors are *protocol.DecodeError and *protocol.EncodeError wrapping the
// protocol package's sentinels. Decoded strings are copies: nothing aliases the input.
package kvwire

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/zraft/zraft/protocol"
)

// Payload codes, the first byte of each payload.
const (
	CodeSet          byte = 'S'
	CodeWatch        byte = 'W'
	CodeDelete       byte = 'D'
	CodeGet          byte = 'G'
	CodeNotification byte = 'N'
)

// Get result markers.
const (
	resultAbsent  byte = 0x00
	resultPresent byte = 0xff
)

// Command is a write the key-value application applies: Set, Watch or Delete.
type Command interface {
	isCommand()
}

// Set stores Value under Key. Its result is empty.
type Set struct {
	Key   string
	Value string
}

// Watch asks to be notified (with Notification server requests) when Key changes.
// Its result is empty.
type Watch struct {
	Key string
}

// Delete removes Key (zraft's addition; code 'D'). Its result is empty.
type Delete struct {
	Key string
}

// Get reads Key; it travels as a Query payload and its result is a GetResult.
type Get struct {
	Key string
}

// Notification tells a watcher that Key now holds Value; it travels as a ServerRequest payload.
type Notification struct {
	Key   string
	Value string
}

// GetResult is the result of a Get: Found reports whether the key exists.
type GetResult struct {
	Value string
	Found bool
}

func (Set) isCommand()    {}
func (Watch) isCommand()  {}
func (Delete) isCommand() {}

// AppendCommand appends the encoding of c to dst. c may also be a non-nil pointer to a
// Set, Watch or Delete.
func AppendCommand(dst []byte, c Command) ([]byte, error) {
	switch v := c.(type) {
	case *Set:
		if v != nil {
			c = *v
		}
	case *Watch:
		if v != nil {
			c = *v
		}
	case *Delete:
		if v != nil {
			c = *v
		}
	}
	w := writer{b: dst}
	switch v := c.(type) {
	case Set:
		w.msg = "Set"
		w.b = append(w.b, CodeSet)
		w.str("key", v.Key)
		w.str("value", v.Value)
	case Watch:
		w.msg = "Watch"
		w.b = append(w.b, CodeWatch)
		w.str("key", v.Key)
	case Delete:
		w.msg = "Delete"
		w.b = append(w.b, CodeDelete)
		w.str("key", v.Key)
	default:
		return dst, &protocol.EncodeError{Message: "Command", Err: protocol.ErrNilMessage}
	}
	return w.finish(dst)
}

// DecodeCommand decodes a Set, Watch or Delete payload.
func DecodeCommand(b []byte) (Command, error) {
	r := reader{b: b, msg: "Command"}
	code := r.code()
	var c Command
	switch {
	case r.err != nil:
	case code == CodeSet:
		r.msg = "Set"
		c = Set{Key: r.str("key"), Value: r.str("value")}
	case code == CodeWatch:
		r.msg = "Watch"
		c = Watch{Key: r.str("key")}
	case code == CodeDelete:
		r.msg = "Delete"
		c = Delete{Key: r.str("key")}
	default:
		r.fail("code", 0, protocol.ErrUnknownCode)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return c, nil
}

// AppendGet appends the encoding of g to dst.
func AppendGet(dst []byte, g Get) ([]byte, error) {
	w := writer{b: append(dst, CodeGet), msg: "Get"}
	w.str("key", g.Key)
	return w.finish(dst)
}

// DecodeGet decodes a Get payload.
func DecodeGet(b []byte) (Get, error) {
	r := reader{b: b, msg: "Get"}
	if code := r.code(); r.err == nil && code != CodeGet {
		r.fail("code", 0, protocol.ErrUnknownCode)
	}
	g := Get{Key: r.str("key")}
	if err := r.end(); err != nil {
		return Get{}, err
	}
	return g, nil
}

// AppendNotification appends the encoding of n to dst.
func AppendNotification(dst []byte, n Notification) ([]byte, error) {
	w := writer{b: append(dst, CodeNotification), msg: "Notification"}
	w.str("key", n.Key)
	w.str("value", n.Value)
	return w.finish(dst)
}

// DecodeNotification decodes a Notification payload.
func DecodeNotification(b []byte) (Notification, error) {
	r := reader{b: b, msg: "Notification"}
	if code := r.code(); r.err == nil && code != CodeNotification {
		r.fail("code", 0, protocol.ErrUnknownCode)
	}
	n := Notification{Key: r.str("key"), Value: r.str("value")}
	if err := r.end(); err != nil {
		return Notification{}, err
	}
	return n, nil
}

// AppendGetResult appends the encoding of res to dst: 00 when absent, ff and the value
// when found.
func AppendGetResult(dst []byte, res GetResult) ([]byte, error) {
	if !res.Found {
		if res.Value != "" {
			return dst, &protocol.EncodeError{Message: "GetResult", Field: "value", Err: protocol.ErrInvalidValue}
		}
		return append(dst, resultAbsent), nil
	}
	w := writer{b: append(dst, resultPresent), msg: "GetResult"}
	w.str("value", res.Value)
	return w.finish(dst)
}

// DecodeGetResult decodes the result of a Get.
func DecodeGetResult(b []byte) (GetResult, error) {
	r := reader{b: b, msg: "GetResult"}
	var res GetResult
	switch marker := r.code(); {
	case r.err != nil:
	case marker == resultAbsent:
	case marker == resultPresent:
		res = GetResult{Value: r.str("value"), Found: true}
	default:
		r.fail("marker", 0, protocol.ErrInvalidValue)
	}
	if err := r.end(); err != nil {
		return GetResult{}, err
	}
	return res, nil
}

// DecodeEmptyResult checks the result of a Set, Watch or Delete, which must be empty.
func DecodeEmptyResult(b []byte) error {
	if len(b) != 0 {
		return &protocol.DecodeError{Message: "EmptyResult", Field: "result", Err: protocol.ErrTrailingBytes}
	}
	return nil
}

type reader struct {
	b   []byte
	off int
	msg string
	err error
}

func (r *reader) fail(field string, off int, err error) {
	if r.err == nil {
		r.err = &protocol.DecodeError{Message: r.msg, Field: field, Offset: off, Err: err}
	}
}

func (r *reader) code() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("code", 0, protocol.ErrTruncated)
		return 0
	}
	r.off = 1
	return r.b[0]
}

// str reads an int32 length and that much UTF-8, checking the length against the bytes
// present before copying anything.
func (r *reader) str(field string) string {
	if r.err != nil {
		return ""
	}
	off := r.off
	if len(r.b)-r.off < 4 {
		r.fail(field+".length", off, protocol.ErrTruncated)
		return ""
	}
	n := int64(int32(binary.BigEndian.Uint32(r.b[r.off:])))
	if n < 0 {
		r.fail(field+".length", off, protocol.ErrInvalidLength)
		return ""
	}
	r.off += 4
	if n > int64(len(r.b)-r.off) {
		r.fail(field, r.off, protocol.ErrTruncated)
		return ""
	}
	p := r.b[r.off : r.off+int(n)]
	if !utf8.Valid(p) {
		r.fail(field, r.off, protocol.ErrInvalidUTF8)
		return ""
	}
	r.off += int(n)
	return string(p)
}

// end returns the first failure, or ErrTrailingBytes when input is left over.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("end", r.off, protocol.ErrTrailingBytes)
	}
	return r.err
}

type writer struct {
	b   []byte
	msg string
	err error
}

func (w *writer) str(field, s string) {
	if w.err != nil {
		return
	}
	if uint64(len(s)) > math.MaxInt32 {
		w.err = &protocol.EncodeError{Message: w.msg, Field: field, Err: protocol.ErrInvalidLength}
		return
	}
	if !utf8.ValidString(s) {
		w.err = &protocol.EncodeError{Message: w.msg, Field: field, Err: protocol.ErrInvalidUTF8}
		return
	}
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

func (w *writer) finish(dst []byte) ([]byte, error) {
	if w.err != nil {
		return dst, w.err
	}
	return w.b, nil
}
