package protocol

import "strconv"

// Decoded messages alias their input: every []byte field (Payload, Result, and the
// values of unknown extension entries) points into the slice given to the decoder.
// Do not modify or reuse that slice while the message is in use, or copy the field
// (bytes.Clone) to keep it. Strings are always copies.

// ClientMessage is a message a client sends to a cluster member. It is implemented only
// by the pointer types of this package: *CreateSession, *ContinueSession, *KeepAlive,
// *ClientRequest, *ServerRequestAck, *CloseSession, *ConnectionClosed and *Query.
type ClientMessage interface {
	// ClientCode returns the message's code on the wire.
	ClientCode() ClientCode
	// Extensions returns the message's extension block, nil when it has none.
	Extensions() *Extensions
	isClientMessage()
}

// ServerMessage is a message a cluster member sends to a client. It is implemented only
// by the pointer types of this package: *SessionCreated, *SessionContinued,
// *SessionRejected, *SessionClosed, *KeepAliveResponse, *ClientResponse, *ServerRequest,
// *RequestError and *QueryResponse.
type ServerMessage interface {
	// ServerCode returns the message's code on the wire.
	ServerCode() ServerCode
	// Extensions returns the message's extension block, nil when it has none.
	Extensions() *Extensions
	isServerMessage()
}

// ClientCode is the code byte of a client→server message.
type ClientCode uint8

// Client→server message codes.
const (
	CodeCreateSession    ClientCode = 1
	CodeContinueSession  ClientCode = 2
	CodeKeepAlive        ClientCode = 3
	CodeClientRequest    ClientCode = 4
	CodeServerRequestAck ClientCode = 5
	CodeCloseSession     ClientCode = 6
	CodeConnectionClosed ClientCode = 7
	CodeQuery            ClientCode = 8
)

var clientCodeNames = [...]string{1: "CreateSession", 2: "ContinueSession", 3: "KeepAlive", 4: "ClientRequest",
	5: "ServerRequestAck", 6: "CloseSession", 7: "ConnectionClosed", 8: "Query"}

// String returns the message name of c, or "ClientCode(n)".
func (c ClientCode) String() string {
	if int(c) < len(clientCodeNames) && clientCodeNames[c] != "" {
		return clientCodeNames[c]
	}
	return "ClientCode(" + strconv.Itoa(int(c)) + ")"
}

// ServerCode is the code byte of a server→client message. It is a separate number space
// from ClientCode: the same byte means different messages in the two directions.
type ServerCode uint8

// Server→client message codes.
const (
	CodeSessionCreated    ServerCode = 1
	CodeSessionContinued  ServerCode = 2
	CodeSessionRejected   ServerCode = 3
	CodeSessionClosed     ServerCode = 4
	CodeKeepAliveResponse ServerCode = 5
	CodeClientResponse    ServerCode = 6
	CodeServerRequest     ServerCode = 7
	CodeRequestError      ServerCode = 8
	CodeQueryResponse     ServerCode = 9
)

var serverCodeNames = [...]string{1: "SessionCreated", 2: "SessionContinued", 3: "SessionRejected", 4: "SessionClosed",
	5: "KeepAliveResponse", 6: "ClientResponse", 7: "ServerRequest", 8: "RequestError", 9: "QueryResponse"}

// String returns the message name of c, or "ServerCode(n)".
func (c ServerCode) String() string {
	if int(c) < len(serverCodeNames) && serverCodeNames[c] != "" {
		return serverCodeNames[c]
	}
	return "ServerCode(" + strconv.Itoa(int(c)) + ")"
}

// Every message has an Ext field: nil means no extension block, which is what a zio-raft
// peer sends and must receive. See Extensions for when a block may be sent.

// CreateSession asks for a new session. Capabilities must hold at least one entry; the
// reserved key ExtensionCapabilityKey declares extension support.
type CreateSession struct {
	Capabilities Capabilities
	Nonce        Nonce
	Ext          *Extensions
}

// ContinueSession resumes an existing session on a new connection.
type ContinueSession struct {
	SessionID SessionID
	Nonce     Nonce
	Ext       *Extensions
}

// KeepAlive keeps the session alive; the server echoes Timestamp in KeepAliveResponse.
type KeepAlive struct {
	Timestamp Timestamp
	Ext       *Extensions
}

// ClientRequest is a command, applied exactly once through the replicated log.
// Payload aliases the decoder's input.
type ClientRequest struct {
	RequestID RequestID
	// LowestPendingRequestID is the smallest request id the client still waits for;
	// the server may forget cached responses below it.
	LowestPendingRequestID RequestID
	Payload                []byte
	CreatedAt              Timestamp
	Ext                    *Extensions
}

// ServerRequestAck acknowledges every server request of the session up to RequestID.
type ServerRequestAck struct {
	RequestID RequestID
	Ext       *Extensions
}

// CloseSession ends the session for good.
type CloseSession struct {
	Reason ClientCloseReason
	Ext    *Extensions
}

// ConnectionClosed has no fields. zio-raft's server socket injects it locally when a
// peer disconnects; a server accepts it from the wire as a disconnect of that connection.
type ConnectionClosed struct {
	Ext *Extensions
}

// Query is a read, answered without a log entry. Payload aliases the decoder's input.
type Query struct {
	CorrelationID CorrelationID
	Payload       []byte
	CreatedAt     Timestamp
	Ext           *Extensions
}

// SessionCreated confirms a CreateSession, echoing its nonce.
type SessionCreated struct {
	SessionID SessionID
	Nonce     Nonce
	Ext       *Extensions
}

// SessionContinued confirms a ContinueSession, echoing its nonce.
type SessionContinued struct {
	Nonce Nonce
	Ext   *Extensions
}

// SessionRejected refuses a CreateSession or ContinueSession. When HasLeader is true,
// Leader is the member the client should try instead (it may be the empty string).
type SessionRejected struct {
	Reason    RejectionReason
	Nonce     Nonce
	Leader    MemberID
	HasLeader bool
	Ext       *Extensions
}

// SessionClosed tells the client that the server ended the session or this connection.
// When HasLeader is true, Leader is the member the client should try instead.
type SessionClosed struct {
	Reason    SessionCloseReason
	Leader    MemberID
	HasLeader bool
	Ext       *Extensions
}

// KeepAliveResponse echoes a KeepAlive's timestamp.
type KeepAliveResponse struct {
	Timestamp Timestamp
	Ext       *Extensions
}

// ClientResponse carries the result of a ClientRequest. Result aliases the decoder's input.
type ClientResponse struct {
	RequestID RequestID
	Result    []byte
	Ext       *Extensions
}

// ServerRequest is work the cluster addresses to the session, numbered 1, 2, 3, … per
// session. Payload aliases the decoder's input.
type ServerRequest struct {
	RequestID RequestID
	Payload   []byte
	CreatedAt Timestamp
	Ext       *Extensions
}

// RequestError answers a ClientRequest with an error instead of a result.
type RequestError struct {
	RequestID RequestID
	Reason    RequestErrorReason
	Ext       *Extensions
}

// QueryResponse carries the result of a Query. Result aliases the decoder's input.
type QueryResponse struct {
	CorrelationID CorrelationID
	Result        []byte
	Ext           *Extensions
}

// ClientCode returns CodeCreateSession.
func (*CreateSession) ClientCode() ClientCode { return CodeCreateSession }

// ClientCode returns CodeContinueSession.
func (*ContinueSession) ClientCode() ClientCode { return CodeContinueSession }

// ClientCode returns CodeKeepAlive.
func (*KeepAlive) ClientCode() ClientCode { return CodeKeepAlive }

// ClientCode returns CodeClientRequest.
func (*ClientRequest) ClientCode() ClientCode { return CodeClientRequest }

// ClientCode returns CodeServerRequestAck.
func (*ServerRequestAck) ClientCode() ClientCode { return CodeServerRequestAck }

// ClientCode returns CodeCloseSession.
func (*CloseSession) ClientCode() ClientCode { return CodeCloseSession }

// ClientCode returns CodeConnectionClosed.
func (*ConnectionClosed) ClientCode() ClientCode { return CodeConnectionClosed }

// ClientCode returns CodeQuery.
func (*Query) ClientCode() ClientCode { return CodeQuery }

// ServerCode returns CodeSessionCreated.
func (*SessionCreated) ServerCode() ServerCode { return CodeSessionCreated }

// ServerCode returns CodeSessionContinued.
func (*SessionContinued) ServerCode() ServerCode { return CodeSessionContinued }

// ServerCode returns CodeSessionRejected.
func (*SessionRejected) ServerCode() ServerCode { return CodeSessionRejected }

// ServerCode returns CodeSessionClosed.
func (*SessionClosed) ServerCode() ServerCode { return CodeSessionClosed }

// ServerCode returns CodeKeepAliveResponse.
func (*KeepAliveResponse) ServerCode() ServerCode { return CodeKeepAliveResponse }

// ServerCode returns CodeClientResponse.
func (*ClientResponse) ServerCode() ServerCode { return CodeClientResponse }

// ServerCode returns CodeServerRequest.
func (*ServerRequest) ServerCode() ServerCode { return CodeServerRequest }

// ServerCode returns CodeRequestError.
func (*RequestError) ServerCode() ServerCode { return CodeRequestError }

// ServerCode returns CodeQueryResponse.
func (*QueryResponse) ServerCode() ServerCode { return CodeQueryResponse }

// Extensions returns the message's extension block, nil when it has none.
func (m *CreateSession) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ContinueSession) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *KeepAlive) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ClientRequest) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ServerRequestAck) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *CloseSession) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ConnectionClosed) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *Query) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *SessionCreated) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *SessionContinued) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *SessionRejected) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *SessionClosed) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *KeepAliveResponse) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ClientResponse) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *ServerRequest) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *RequestError) Extensions() *Extensions { return m.Ext }

// Extensions returns the message's extension block, nil when it has none.
func (m *QueryResponse) Extensions() *Extensions { return m.Ext }

func (*CreateSession) isClientMessage()    {}
func (*ContinueSession) isClientMessage()  {}
func (*KeepAlive) isClientMessage()        {}
func (*ClientRequest) isClientMessage()    {}
func (*ServerRequestAck) isClientMessage() {}
func (*CloseSession) isClientMessage()     {}
func (*ConnectionClosed) isClientMessage() {}
func (*Query) isClientMessage()            {}

func (*SessionCreated) isServerMessage()    {}
func (*SessionContinued) isServerMessage()  {}
func (*SessionRejected) isServerMessage()   {}
func (*SessionClosed) isServerMessage()     {}
func (*KeepAliveResponse) isServerMessage() {}
func (*ClientResponse) isServerMessage()    {}
func (*ServerRequest) isServerMessage()     {}
func (*RequestError) isServerMessage()      {}
func (*QueryResponse) isServerMessage()     {}
