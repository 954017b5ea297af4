package clientsession_test

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// This file turns script lines into inputs and outputs into lines; golden_test.go runs
// the scripts.

// splitArgs separates positional words from key=value options.
func splitArgs(fields []string) (pos []string, opt map[string]string) {
	opt = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok && k != "" {
			opt[k] = v
			continue
		}
		pos = append(pos, f)
	}
	return pos, opt
}

func atoi(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func parseConfig(fields []string) (clientsession.Config, error) {
	var cfg clientsession.Config
	_, opt := splitArgs(fields)
	for k, v := range opt {
		switch k {
		case "members":
			for _, m := range strings.Split(v, ",") {
				id, ep, _ := strings.Cut(m, "@")
				cfg.Members = append(cfg.Members, protocol.Member{ID: protocol.MemberID(id), Endpoint: ep})
			}
			continue
		case "caps":
			for _, c := range strings.Split(v, ",") {
				key, val, _ := strings.Cut(c, ":")
				cfg.Capabilities = append(cfg.Capabilities, protocol.Capability{Key: key, Value: val})
			}
			continue
		case "ext":
			cfg.Extensions = v == "on"
			continue
		case "backoff":
			lo, hi, _ := strings.Cut(v, "/")
			a, err1 := atoi(lo)
			b, err2 := atoi(hi)
			if err1 != nil || err2 != nil {
				return cfg, fmt.Errorf("backoff=%s", v)
			}
			cfg.BackoffBase, cfg.BackoffMax = a, b
			continue
		}
		n, err := atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("config %s=%s: %v", k, v, err)
		}
		switch k {
		case "keepalive":
			cfg.KeepAliveInterval = n
		case "katimeout":
			cfg.KeepAliveTimeout = n
		case "connect":
			cfg.ConnectTimeout = n
		case "resend":
			cfg.ResendInterval = n
		case "pending":
			cfg.MaxPending = int(n)
		case "held":
			cfg.MaxHeldServerRequests = int(n)
		case "maxmembers":
			cfg.MaxMembers = int(n)
		case "seed":
			cfg.Seed = uint64(n)
		default:
			return cfg, fmt.Errorf("unknown config %q", k)
		}
	}
	return cfg, nil
}

// parseInput parses "WORD ARGS..." (the @T already removed) into an input.
func parseInput(word string, fields []string) (clientsession.Input, error) {
	pos, opt := splitArgs(fields)
	num := func(k string) int64 {
		n, _ := atoi(opt[k])
		return n
	}
	payload := strings.Join(pos, " ")
	switch word {
	case "submit":
		return clientsession.Submit{Handle: clientsession.Handle(num("h")), Payload: []byte(payload),
			TraceParent: opt["traceparent"], TraceState: opt["tracestate"]}, nil
	case "query":
		return clientsession.Query{Handle: clientsession.Handle(num("h")), Payload: []byte(payload),
			CorrelationID: protocol.CorrelationID(opt["corr"]), Consistency: protocol.Consistency(num("consistency")),
			TraceParent: opt["traceparent"], TraceState: opt["tracestate"]}, nil
	case "cancel":
		return clientsession.CancelRequest{Handle: clientsession.Handle(num("h"))}, nil
	case "close":
		return clientsession.Close{}, nil
	case "up":
		return clientsession.ConnectionUp{Conn: clientsession.ConnID(num("conn")), Nonce: protocol.Nonce(num("nonce"))}, nil
	case "down":
		return clientsession.ConnectionDown{Conn: clientsession.ConnID(num("conn"))}, nil
	case "recv-raw":
		b, err := hex.DecodeString(payload)
		if err != nil {
			return nil, err
		}
		return clientsession.Received{Conn: clientsession.ConnID(num("conn")), Bytes: b}, nil
	case "recv":
		if len(pos) == 0 {
			return nil, fmt.Errorf("recv: no message")
		}
		m, err := parseServerMessage(pos[0], pos[1:], opt)
		if err != nil {
			return nil, err
		}
		b, err := protocol.AppendServerMessage(nil, m)
		if err != nil {
			return nil, err
		}
		return clientsession.Received{Conn: clientsession.ConnID(num("conn")), Bytes: b}, nil
	}
	return nil, fmt.Errorf("unknown input %q", word)
}

func reasonCode[T ~uint8](name string, names map[string]T) (T, error) {
	if v, ok := names[name]; ok {
		return v, nil
	}
	n, err := strconv.ParseUint(name, 10, 8)
	return T(n), err
}

var (
	rejectReasons = map[string]protocol.RejectionReason{"NotLeader": protocol.RejectNotLeader,
		"SessionExpired": protocol.RejectSessionExpired, "InvalidCapabilities": protocol.RejectInvalidCapabilities,
		"Other": protocol.RejectOther, "SessionLimit": protocol.RejectSessionLimit, "Overloaded": protocol.RejectOverloaded}
	closeReasons = map[string]protocol.SessionCloseReason{"Shutdown": protocol.CloseShutdown,
		"NotLeaderAnymore": protocol.CloseNotLeaderAnymore, "SessionError": protocol.CloseSessionError,
		"ConnectionClosed": protocol.CloseConnectionClosed, "SessionExpired": protocol.CloseSessionExpired}
	errorReasons = map[string]protocol.RequestErrorReason{"ResponseEvicted": protocol.ErrorResponseEvicted,
		"PayloadTooLarge": protocol.ErrorPayloadTooLarge, "Overloaded": protocol.ErrorOverloaded}
)

func parseExt(opt map[string]string) *protocol.Extensions {
	var e protocol.Extensions
	if v, ok := opt["ext"]; ok {
		n, _ := strconv.Atoi(v)
		e.Version = uint8(n)
	}
	if v, ok := opt["members"]; ok {
		for _, m := range strings.Split(v, ",") {
			id, ep, _ := strings.Cut(m, "@")
			e.Members = append(e.Members, protocol.Member{ID: protocol.MemberID(id), Endpoint: ep})
		}
	}
	e.TraceParent = opt["traceparent"]
	if e.IsZero() {
		return nil
	}
	return &e
}

// parseServerMessage builds a server message from "Name positional... key=value...".
func parseServerMessage(name string, pos []string, opt map[string]string) (protocol.ServerMessage, error) {
	arg := func(i int) string {
		if i < len(pos) {
			return pos[i]
		}
		return ""
	}
	num := func(i int) int64 {
		n, _ := atoi(arg(i))
		return n
	}
	leader, hasLeader := opt["leader"]
	ext := parseExt(opt)
	switch name {
	case "SessionCreated":
		return &protocol.SessionCreated{SessionID: protocol.SessionID(arg(0)), Nonce: protocol.Nonce(num(1)), Ext: ext}, nil
	case "SessionContinued":
		return &protocol.SessionContinued{Nonce: protocol.Nonce(num(0)), Ext: ext}, nil
	case "SessionRejected":
		r, err := reasonCode(arg(0), rejectReasons)
		return &protocol.SessionRejected{Reason: r, Nonce: protocol.Nonce(num(1)),
			Leader: protocol.MemberID(leader), HasLeader: hasLeader, Ext: ext}, err
	case "SessionClosed":
		r, err := reasonCode(arg(0), closeReasons)
		return &protocol.SessionClosed{Reason: r, Leader: protocol.MemberID(leader), HasLeader: hasLeader, Ext: ext}, err
	case "KeepAliveResponse":
		return &protocol.KeepAliveResponse{Timestamp: protocol.Timestamp(num(0))}, nil
	case "ClientResponse":
		return &protocol.ClientResponse{RequestID: protocol.RequestID(num(0)), Result: []byte(strings.Join(pos[1:], " "))}, nil
	case "RequestError":
		r, err := reasonCode(arg(1), errorReasons)
		return &protocol.RequestError{RequestID: protocol.RequestID(num(0)), Reason: r}, err
	case "QueryResponse":
		return &protocol.QueryResponse{CorrelationID: protocol.CorrelationID(arg(0)), Result: []byte(strings.Join(pos[1:], " "))}, nil
	case "ServerRequest":
		at, _ := atoi(opt["at"])
		return &protocol.ServerRequest{RequestID: protocol.RequestID(num(0)), Payload: []byte(strings.Join(pos[1:], " ")),
			CreatedAt: protocol.Timestamp(at), Ext: ext}, nil
	}
	return nil, fmt.Errorf("unknown server message %q", name)
}

// formatOutput renders an output as one line; Send bytes are decoded, so a script shows
// exactly what went on the wire.
func formatOutput(o clientsession.Output) string {
	switch o := o.(type) {
	case clientsession.Connect:
		return fmt.Sprintf("connect conn=%d member=%s endpoint=%s", o.Conn, o.Member, o.Endpoint)
	case clientsession.Disconnect:
		return fmt.Sprintf("disconnect conn=%d", o.Conn)
	case clientsession.Send:
		m, err := protocol.DecodeClientMessage(o.Bytes)
		if err != nil {
			return fmt.Sprintf("send conn=%d UNDECODABLE %x: %v", o.Conn, o.Bytes, err)
		}
		return fmt.Sprintf("send conn=%d %s", o.Conn, formatClientMessage(m))
	case clientsession.Deliver:
		if o.Err != nil {
			return fmt.Sprintf("deliver h=%d err=%q", o.Handle, o.Err.Error())
		}
		return fmt.Sprintf("deliver h=%d result=%q", o.Handle, o.Result)
	case clientsession.DeliverServerRequest:
		s := fmt.Sprintf("server-request id=%d %q at=%d", o.ID, o.Payload, o.CreatedAt)
		if o.TraceParent != "" {
			s += " traceparent=" + o.TraceParent
		}
		return s
	case clientsession.Event:
		s := fmt.Sprintf("event %s member=%s session=%s", o.Kind, o.Member, o.SessionID)
		if o.New {
			s += " new"
		}
		if o.Reason != "" {
			s += fmt.Sprintf(" reason=%q", o.Reason)
		}
		if o.Err != nil {
			s += fmt.Sprintf(" err=%q", o.Err.Error())
		}
		return s
	case clientsession.Ignored:
		return fmt.Sprintf("ignored %s: %s", o.What, o.Why)
	}
	return fmt.Sprintf("unknown output %T", o)
}

func formatExt(e *protocol.Extensions) string {
	if e == nil {
		return ""
	}
	var parts []string
	if e.Version != 0 {
		parts = append(parts, fmt.Sprintf("v=%d", e.Version))
	}
	if e.TraceParent != "" {
		parts = append(parts, "traceparent="+e.TraceParent)
	}
	if e.TraceState != "" {
		parts = append(parts, "tracestate="+e.TraceState)
	}
	if e.Consistency != 0 {
		parts = append(parts, "consistency="+e.Consistency.String())
	}
	return " ext{" + strings.Join(parts, " ") + "}"
}

func formatClientMessage(m protocol.ClientMessage) string {
	switch m := m.(type) {
	case *protocol.CreateSession:
		var caps []string
		for _, c := range m.Capabilities {
			caps = append(caps, c.Key+":"+c.Value)
		}
		return fmt.Sprintf("CreateSession caps=[%s] nonce=%d%s", strings.Join(caps, ","), m.Nonce, formatExt(m.Ext))
	case *protocol.ContinueSession:
		return fmt.Sprintf("ContinueSession session=%s nonce=%d%s", m.SessionID, m.Nonce, formatExt(m.Ext))
	case *protocol.KeepAlive:
		return fmt.Sprintf("KeepAlive ts=%d%s", m.Timestamp, formatExt(m.Ext))
	case *protocol.ClientRequest:
		return fmt.Sprintf("ClientRequest id=%d k=%d %q at=%d%s", m.RequestID, m.LowestPendingRequestID, m.Payload, m.CreatedAt, formatExt(m.Ext))
	case *protocol.ServerRequestAck:
		return fmt.Sprintf("ServerRequestAck %d%s", m.RequestID, formatExt(m.Ext))
	case *protocol.CloseSession:
		return fmt.Sprintf("CloseSession %s%s", m.Reason, formatExt(m.Ext))
	case *protocol.Query:
		return fmt.Sprintf("Query corr=%s %q at=%d%s", m.CorrelationID, m.Payload, m.CreatedAt, formatExt(m.Ext))
	}
	return fmt.Sprintf("%T", m)
}

func formatStatus(s clientsession.Status) string {
	var ms []string
	for _, m := range s.Members {
		ms = append(ms, string(m.ID)+"@"+m.Endpoint)
	}
	return fmt.Sprintf("status %s session=%s member=%s conn=%d ext=%d next=%d k=%d pending=%d cancelled=%d queries=%d last-sr=%d held=%d failures=%d members=%s",
		s.State, s.SessionID, s.Member, s.Conn, s.ExtensionVersion, s.NextRequestID, s.LowestPending,
		s.Pending, s.Cancelled, s.Queries, s.LastServerRequest, s.Held, s.Failures, strings.Join(ms, ","))
}
