package raftnode

import (
	"encoding/binary"
	"fmt"
)

// Every raft LogCommand the node writes starts with one kind byte, so that the node's
// own entries (member metadata) share the log with the state machine's commands without
// the state machine ever seeing them.
const (
	kindCommand byte = 1 // the rest is a StateMachine command
	kindMembers byte = 2 // the rest is a membersEntry
	kindTagged  byte = 3 // a proposalTag, then a kindCommand or kindMembers entry
)

// proposalTag names the proposal an entry came from: the proposing node's incarnation
// nonce and a sequence number. The member that proposed it hands the entry's result to
// the waiting caller when it applies the entry. Results travel this way, not through
// raft's futures, because hashicorp/raft may never complete a future whose entry sat in
// its apply queue or FSM queue at shutdown.
type proposalTag struct {
	nonce uint64
	seq   uint64
}

const tagLen = 1 + 16

func encodeTagged(tag proposalTag, entry []byte) []byte {
	out := make([]byte, 0, tagLen+len(entry))
	out = append(out, kindTagged)
	out = binary.BigEndian.AppendUint64(out, tag.nonce)
	out = binary.BigEndian.AppendUint64(out, tag.seq)
	return append(out, entry...)
}

// splitTagged returns the tag and the inner entry of a kindTagged entry's body.
func splitTagged(b []byte) (proposalTag, []byte, error) {
	if len(b) < 16 {
		return proposalTag{}, nil, fmt.Errorf("%w: tag truncated", ErrCorruptEntry)
	}
	return proposalTag{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, b[16:], nil
}

// membersEntry publishes client endpoints of members (member id -> endpoint). It is
// proposed by each new leader (its own endpoint, and those of BootstrapMembers it knows)
// and by AddMember.
type membersEntry struct {
	endpoints []Member // ID and ClientEndpoint are used
}

func encodeCommand(cmd []byte) []byte {
	out := make([]byte, 1+len(cmd))
	out[0] = kindCommand
	copy(out[1:], cmd)
	return out
}

// encodeMembers: kind, uint16 count, then per member uint16-length id and endpoint.
func encodeMembers(e membersEntry) []byte {
	out := []byte{kindMembers}
	out = binary.BigEndian.AppendUint16(out, uint16(len(e.endpoints)))
	for _, m := range e.endpoints {
		out = appendString16(out, m.ID)
		out = appendString16(out, m.ClientEndpoint)
	}
	return out
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// decodeMembers decodes the body of a kindMembers entry (after the kind byte). It never
// allocates more than the input's length.
func decodeMembers(b []byte) (membersEntry, error) {
	var e membersEntry
	if len(b) < 2 {
		return e, fmt.Errorf("%w: members entry truncated", ErrCorruptEntry)
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for i := 0; i < n; i++ {
		var id, ep string
		var err error
		if id, b, err = readString16(b); err != nil {
			return membersEntry{}, err
		}
		if ep, b, err = readString16(b); err != nil {
			return membersEntry{}, err
		}
		e.endpoints = append(e.endpoints, Member{ID: id, ClientEndpoint: ep})
	}
	if len(b) != 0 {
		return membersEntry{}, fmt.Errorf("%w: %d trailing bytes in members entry", ErrCorruptEntry, len(b))
	}
	return e, nil
}

func readString16(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, fmt.Errorf("%w: string length truncated", ErrCorruptEntry)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return "", nil, fmt.Errorf("%w: string of %d bytes truncated", ErrCorruptEntry, n)
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}
