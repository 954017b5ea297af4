package client

import (
	"fmt"
	"strings"
)

// DefaultEndpoints is the endpoint list of a single local member, zraftd's default.
const DefaultEndpoints = "node-1=tcp://127.0.0.1:7001"

// Member is one cluster member: its id (as the cluster names it in leader hints) and the
// endpoint clients connect to.
type Member struct {
	ID       string
	Endpoint string
}

// ParseEndpoints parses a comma-separated member list such as
// "node-1=tcp://127.0.0.1:7001,node-2=tcp://127.0.0.1:7002". An entry without "id="
// uses its endpoint as its id (the cluster's leader hints then cannot name it, so the
// client tries the members in order instead of following hints). Spaces around entries
// are ignored; ids must be unique and endpoints must start with tcp://.
func ParseEndpoints(s string) ([]Member, error) {
	var ms []Member
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var m Member
		if id, ep, ok := strings.Cut(entry, "="); ok {
			m = Member{ID: strings.TrimSpace(id), Endpoint: strings.TrimSpace(ep)}
		} else {
			m = Member{ID: entry, Endpoint: entry}
		}
		ms = append(ms, m)
	}
	if err := validateMembers(ms); err != nil {
		return nil, err
	}
	return ms, nil
}

func validateMembers(ms []Member) error {
	if len(ms) == 0 {
		return fmt.Errorf("%w: no members", ErrInvalidEndpoints)
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		switch {
		case m.ID == "":
			return fmt.Errorf("%w: member with endpoint %q has an empty id", ErrInvalidEndpoints, m.Endpoint)
		case !strings.HasPrefix(m.Endpoint, "tcp://") || len(m.Endpoint) == len("tcp://"):
			return fmt.Errorf("%w: member %q: endpoint %q is not tcp://host:port", ErrInvalidEndpoints, m.ID, m.Endpoint)
		case seen[m.ID]:
			return fmt.Errorf("%w: member %q listed twice", ErrInvalidEndpoints, m.ID)
		}
		seen[m.ID] = true
	}
	return nil
}
