package protocol

// Signature is the five bytes every message starts with, followed by Version.
const Signature = "zraft"

// Version is the protocol version byte that follows Signature.
const Version uint8 = 1

// HeaderSize is the size of signature, version and message code together.
const HeaderSize = len(Signature) + 2

// DefaultMaxMessageSize is the largest message a zero Decoder accepts: 4 MiB.
const DefaultMaxMessageSize = 4 << 20

// Decoder decodes messages with limits. The zero value uses DefaultMaxMessageSize.
// A Decoder holds no state and may be used by many goroutines at once.
type Decoder struct {
	// MaxMessageSize is the largest message accepted, in bytes; it is checked before
	// anything else. Zero or negative means DefaultMaxMessageSize.
	MaxMessageSize int
}

func (d Decoder) maxSize() int {
	if d.MaxMessageSize <= 0 {
		return DefaultMaxMessageSize
	}
	return d.MaxMessageSize
}

// DecodeClientMessage decodes one client→server message with the default limits.
// See Decoder.DecodeClientMessage.
func DecodeClientMessage(b []byte) (ClientMessage, error) { return Decoder{}.DecodeClientMessage(b) }

// DecodeServerMessage decodes one server→client message with the default limits.
// See Decoder.DecodeServerMessage.
func DecodeServerMessage(b []byte) (ServerMessage, error) { return Decoder{}.DecodeServerMessage(b) }

// header checks size, signature and version and returns the code byte.
func (d Decoder) header(r *reader) uint8 {
	if len(r.b) > d.maxSize() {
		r.fail("size", 0, ErrTooLarge)
		return 0
	}
	for i := 0; i < len(Signature); i++ {
		if i >= len(r.b) {
			r.fail("signature", 0, ErrTruncated)
			return 0
		}
		if r.b[i] != Signature[i] {
			r.fail("signature", 0, ErrBadSignature)
			return 0
		}
	}
	r.off = len(Signature)
	if v := r.u8("version"); r.err == nil && v != Version {
		r.fail("version", r.off-1, ErrUnsupportedVersion)
	}
	return r.u8("code")
}

// DecodeClientMessage decodes exactly one client→server message from b (one ZeroMQ
// frame). The returned message's []byte fields alias b: keep b unchanged while using
// them. On malformed input it returns a *DecodeError wrapping a sentinel (ErrTruncated,
// ErrBadSignature, …); it never panics and never allocates more than b can justify.
func (d Decoder) DecodeClientMessage(b []byte) (ClientMessage, error) {
	r := reader{b: b, msg: "header"}
	code := ClientCode(d.header(&r))
	if r.err != nil {
		return nil, r.err
	}
	r.msg = code.String()
	var m ClientMessage
	var ext **Extensions
	switch code {
	case CodeCreateSession:
		v := &CreateSession{Capabilities: r.capabilities(), Nonce: r.nonce("nonce")}
		m, ext = v, &v.Ext
	case CodeContinueSession:
		v := &ContinueSession{SessionID: SessionID(r.str8("session_id", "session_id.length")), Nonce: r.nonce("nonce")}
		m, ext = v, &v.Ext
	case CodeKeepAlive:
		v := &KeepAlive{Timestamp: Timestamp(r.i64("timestamp"))}
		m, ext = v, &v.Ext
	case CodeClientRequest:
		v := &ClientRequest{RequestID: RequestID(r.i64("request_id")), LowestPendingRequestID: RequestID(r.i64("lowest_pending_request_id")),
			Payload: r.blob32("payload", "payload.length"), CreatedAt: Timestamp(r.i64("created_at"))}
		m, ext = v, &v.Ext
	case CodeServerRequestAck:
		v := &ServerRequestAck{RequestID: RequestID(r.i64("request_id"))}
		m, ext = v, &v.Ext
	case CodeCloseSession:
		v := &CloseSession{Reason: ClientCloseReason(r.u8("reason"))}
		m, ext = v, &v.Ext
	case CodeConnectionClosed:
		v := &ConnectionClosed{}
		m, ext = v, &v.Ext
	case CodeQuery:
		v := &Query{CorrelationID: r.correlationID(), Payload: r.blob32("payload", "payload.length"), CreatedAt: Timestamp(r.i64("created_at"))}
		m, ext = v, &v.Ext
	default:
		r.fail("code", HeaderSize-1, ErrUnknownCode)
		return nil, r.err
	}
	*ext = r.extensions()
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// DecodeServerMessage decodes exactly one server→client message from b (one ZeroMQ
// frame). The returned message's []byte fields alias b: keep b unchanged while using
// them. On malformed input it returns a *DecodeError wrapping a sentinel; it never
// panics and never allocates more than b can justify.
func (d Decoder) DecodeServerMessage(b []byte) (ServerMessage, error) {
	r := reader{b: b, msg: "header"}
	code := ServerCode(d.header(&r))
	if r.err != nil {
		return nil, r.err
	}
	r.msg = code.String()
	var m ServerMessage
	var ext **Extensions
	switch code {
	case CodeSessionCreated:
		v := &SessionCreated{SessionID: SessionID(r.str8("session_id", "session_id.length")), Nonce: r.nonce("nonce")}
		m, ext = v, &v.Ext
	case CodeSessionContinued:
		v := &SessionContinued{Nonce: r.nonce("nonce")}
		m, ext = v, &v.Ext
	case CodeSessionRejected:
		v := &SessionRejected{Reason: RejectionReason(r.u8("reason")), Nonce: r.nonce("nonce")}
		v.Leader, v.HasLeader = r.leader("leader")
		m, ext = v, &v.Ext
	case CodeSessionClosed:
		v := &SessionClosed{Reason: SessionCloseReason(r.u8("reason"))}
		v.Leader, v.HasLeader = r.leader("leader")
		m, ext = v, &v.Ext
	case CodeKeepAliveResponse:
		v := &KeepAliveResponse{Timestamp: Timestamp(r.i64("timestamp"))}
		m, ext = v, &v.Ext
	case CodeClientResponse:
		v := &ClientResponse{RequestID: RequestID(r.i64("request_id")), Result: r.blob32("result", "result.length")}
		m, ext = v, &v.Ext
	case CodeServerRequest:
		v := &ServerRequest{RequestID: RequestID(r.i64("request_id")), Payload: r.blob32("payload", "payload.length"), CreatedAt: Timestamp(r.i64("created_at"))}
		m, ext = v, &v.Ext
	case CodeRequestError:
		v := &RequestError{RequestID: RequestID(r.i64("request_id")), Reason: RequestErrorReason(r.u8("reason"))}
		m, ext = v, &v.Ext
	case CodeQueryResponse:
		v := &QueryResponse{CorrelationID: r.correlationID(), Result: r.blob32("result", "result.length")}
		m, ext = v, &v.Ext
	default:
		r.fail("code", HeaderSize-1, ErrUnknownCode)
		return nil, r.err
	}
	*ext = r.extensions()
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func (r *reader) correlationID() CorrelationID {
	off := r.off
	id := r.str16("correlation_id", "correlation_id.length")
	if r.err == nil && id == "" {
		r.fail("correlation_id", off, ErrEmptyCorrelationID)
	}
	return CorrelationID(id)
}

func (r *reader) capabilities() Capabilities {
	off := r.off
	n := int(r.u16("capabilities.count"))
	if r.err != nil {
		return nil
	}
	if n == 0 {
		r.fail("capabilities.count", off, ErrEmptyCapabilities)
		return nil
	}
	// Each entry takes at least 4 bytes: refuse a count the message cannot hold before
	// allocating for it.
	if n*4 > r.left() {
		r.fail("capabilities.count", off, ErrTruncated)
		return nil
	}
	caps := make(Capabilities, n)
	for i := range caps {
		caps[i].Key = r.str16("capabilities.key", "capabilities.key.length")
		caps[i].Value = r.str16("capabilities.value", "capabilities.value.length")
	}
	return caps
}

// begin starts the encoding of a message: it names the message for errors and, when
// present (the message is not a nil pointer), writes the header. It reports whether to
// write the body; a nil message writes nothing, which finish turns into ErrNilMessage.
// The name is a constant rather than code.String(), which costs a call per message.
func (w *writer) begin(name string, code uint8, present bool) bool {
	w.msg = name
	if present {
		w.b = append(w.b, Signature...)
		w.b = append(w.b, Version, code)
	}
	return present
}

// AppendClientMessage appends the encoding of m to dst and returns the extended slice.
// It does not allocate when dst has room. Values the wire cannot carry (zero nonce,
// empty capabilities or correlation id, invalid UTF-8, a string too long for its length
// field, a malformed extension) give an *EncodeError and dst unchanged.
func AppendClientMessage(dst []byte, m ClientMessage) ([]byte, error) {
	w := writer{b: dst}
	switch v := m.(type) {
	case *CreateSession:
		if w.begin("CreateSession", uint8(CodeCreateSession), v != nil) {
			w.capabilities(v.Capabilities)
			w.nonce("nonce", v.Nonce)
			w.extensions(v.Ext)
		}
	case *ContinueSession:
		if w.begin("ContinueSession", uint8(CodeContinueSession), v != nil) {
			w.str8("session_id", string(v.SessionID))
			w.nonce("nonce", v.Nonce)
			w.extensions(v.Ext)
		}
	case *KeepAlive:
		if w.begin("KeepAlive", uint8(CodeKeepAlive), v != nil) {
			w.i64(int64(v.Timestamp))
			w.extensions(v.Ext)
		}
	case *ClientRequest:
		if w.begin("ClientRequest", uint8(CodeClientRequest), v != nil) {
			w.i64(int64(v.RequestID))
			w.i64(int64(v.LowestPendingRequestID))
			w.blob32("payload", v.Payload)
			w.i64(int64(v.CreatedAt))
			w.extensions(v.Ext)
		}
	case *ServerRequestAck:
		if w.begin("ServerRequestAck", uint8(CodeServerRequestAck), v != nil) {
			w.i64(int64(v.RequestID))
			w.extensions(v.Ext)
		}
	case *CloseSession:
		if w.begin("CloseSession", uint8(CodeCloseSession), v != nil) {
			w.u8(uint8(v.Reason))
			w.extensions(v.Ext)
		}
	case *ConnectionClosed:
		if w.begin("ConnectionClosed", uint8(CodeConnectionClosed), v != nil) {
			w.extensions(v.Ext)
		}
	case *Query:
		if w.begin("Query", uint8(CodeQuery), v != nil) {
			w.correlationID("correlation_id", v.CorrelationID)
			w.blob32("payload", v.Payload)
			w.i64(int64(v.CreatedAt))
			w.extensions(v.Ext)
		}
	}
	return w.finish(dst)
}

// AppendServerMessage appends the encoding of m to dst and returns the extended slice.
// It does not allocate when dst has room. Values the wire cannot carry give an
// *EncodeError and dst unchanged (see AppendClientMessage).
func AppendServerMessage(dst []byte, m ServerMessage) ([]byte, error) {
	w := writer{b: dst}
	switch v := m.(type) {
	case *SessionCreated:
		if w.begin("SessionCreated", uint8(CodeSessionCreated), v != nil) {
			w.str8("session_id", string(v.SessionID))
			w.nonce("nonce", v.Nonce)
			w.extensions(v.Ext)
		}
	case *SessionContinued:
		if w.begin("SessionContinued", uint8(CodeSessionContinued), v != nil) {
			w.nonce("nonce", v.Nonce)
			w.extensions(v.Ext)
		}
	case *SessionRejected:
		if w.begin("SessionRejected", uint8(CodeSessionRejected), v != nil) {
			w.u8(uint8(v.Reason))
			w.nonce("nonce", v.Nonce)
			w.leader("leader", v.Leader, v.HasLeader)
			w.extensions(v.Ext)
		}
	case *SessionClosed:
		if w.begin("SessionClosed", uint8(CodeSessionClosed), v != nil) {
			w.u8(uint8(v.Reason))
			w.leader("leader", v.Leader, v.HasLeader)
			w.extensions(v.Ext)
		}
	case *KeepAliveResponse:
		if w.begin("KeepAliveResponse", uint8(CodeKeepAliveResponse), v != nil) {
			w.i64(int64(v.Timestamp))
			w.extensions(v.Ext)
		}
	case *ClientResponse:
		if w.begin("ClientResponse", uint8(CodeClientResponse), v != nil) {
			w.i64(int64(v.RequestID))
			w.blob32("result", v.Result)
			w.extensions(v.Ext)
		}
	case *ServerRequest:
		if w.begin("ServerRequest", uint8(CodeServerRequest), v != nil) {
			w.i64(int64(v.RequestID))
			w.blob32("payload", v.Payload)
			w.i64(int64(v.CreatedAt))
			w.extensions(v.Ext)
		}
	case *RequestError:
		if w.begin("RequestError", uint8(CodeRequestError), v != nil) {
			w.i64(int64(v.RequestID))
			w.u8(uint8(v.Reason))
			w.extensions(v.Ext)
		}
	case *QueryResponse:
		if w.begin("QueryResponse", uint8(CodeQueryResponse), v != nil) {
			w.correlationID("correlation_id", v.CorrelationID)
			w.blob32("result", v.Result)
			w.extensions(v.Ext)
		}
	}
	return w.finish(dst)
}

// finish returns the result of an Append function: the grown slice, or dst with its
// original length and the error. Nothing written means the message was nil.
func (w *writer) finish(dst []byte) ([]byte, error) {
	if w.err == nil && len(w.b) == len(dst) {
		if w.msg == "" {
			w.msg = "message"
		}
		w.fail("", ErrNilMessage)
	}
	if w.err != nil {
		return dst, w.err
	}
	return w.b, nil
}

func (w *writer) correlationID(field string, id CorrelationID) {
	if id == "" {
		w.fail(field, ErrEmptyCorrelationID)
	}
	w.str16(field, string(id))
}

func (w *writer) capabilities(caps Capabilities) {
	if len(caps) == 0 {
		w.fail("capabilities", ErrEmptyCapabilities)
		return
	}
	if len(caps) > 0xffff {
		w.fail("capabilities", ErrInvalidLength)
		return
	}
	w.u16(uint16(len(caps)))
	for _, c := range caps {
		w.str16("capabilities.key", c.Key)
		w.str16("capabilities.value", c.Value)
	}
}
