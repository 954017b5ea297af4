package raftnode

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// A snapshot is the node's header followed by the state machine's own bytes:
//
//	"zrn1", uint64 applied index,
//	uint32 n, n x (uint16-length member id, uint16-length client endpoint),
//	uint32 v, v x (uint16-length member id, uint16-length raft address),
//	state machine bytes to the end.
const snapshotMagic = "zrn1"

type snapshotHeader struct {
	applied   uint64
	endpoints map[string]string
	voters    map[string]string
}

func writeSnapshotHeader(w io.Writer, h snapshotHeader) error {
	b := []byte(snapshotMagic)
	b = binary.BigEndian.AppendUint64(b, h.applied)
	for _, m := range []map[string]string{h.endpoints, h.voters} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys) // byte-identical snapshots for identical state
		b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
		for _, k := range keys {
			b = appendString16(b, k)
			b = appendString16(b, m[k])
		}
	}
	_, err := w.Write(b)
	return err
}

// readSnapshotHeader reads the header and returns the reader positioned at the state
// machine's bytes. Counts and lengths are trusted only as far as bytes arrive.
func readSnapshotHeader(r io.Reader) (snapshotHeader, io.Reader, error) {
	br := bufio.NewReader(r)
	h := snapshotHeader{endpoints: map[string]string{}, voters: map[string]string{}}
	var fixed [12]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return h, nil, fmt.Errorf("%w: snapshot header: %v", ErrCorruptEntry, err)
	}
	if string(fixed[:4]) != snapshotMagic {
		return h, nil, fmt.Errorf("%w: snapshot magic %q", ErrCorruptEntry, fixed[:4])
	}
	h.applied = binary.BigEndian.Uint64(fixed[4:])
	for _, m := range []map[string]string{h.endpoints, h.voters} {
		var cnt [4]byte
		if _, err := io.ReadFull(br, cnt[:]); err != nil {
			return h, nil, fmt.Errorf("%w: snapshot member count: %v", ErrCorruptEntry, err)
		}
		for n := binary.BigEndian.Uint32(cnt[:]); n > 0; n-- {
			k, err := readStream16(br)
			if err != nil {
				return h, nil, err
			}
			v, err := readStream16(br)
			if err != nil {
				return h, nil, err
			}
			m[k] = v
		}
	}
	return h, br, nil
}

// readStream16 reads a uint16-length string; at most 64 KiB, and only as bytes arrive.
func readStream16(r io.Reader) (string, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return "", fmt.Errorf("%w: snapshot string length: %v", ErrCorruptEntry, err)
	}
	n := int64(binary.BigEndian.Uint16(l[:]))
	b, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil || int64(len(b)) != n {
		return "", fmt.Errorf("%w: snapshot string of %d bytes truncated", ErrCorruptEntry, n)
	}
	return string(b), nil
}
