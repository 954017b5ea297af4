package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Status is the part of a member's GET /cluster answer the tests use.
type Status struct {
	ID     string `json:"id"`
	Role   string `json:"role"`
	Term   uint64 `json:"term"`
	Leader *struct {
		ID string `json:"id"`
	} `json:"leader,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	// Sessions is the number of live sessions in the replicated state.
	Sessions int `json:"sessions"`
}

// LeaderID is the leader the member knows of, or "".
func (s Status) LeaderID() string {
	if s.Leader == nil {
		return ""
	}
	return s.Leader.ID
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func (m *Member) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(m.AdminPort)+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// Status asks the member for GET /cluster.
func (m *Member) Status(ctx context.Context) (Status, error) {
	code, b, err := m.get(ctx, "/cluster")
	if err != nil {
		return Status{}, fmt.Errorf("integration: %s /cluster: %w", m.ID, err)
	}
	if code != http.StatusOK {
		return Status{}, fmt.Errorf("integration: %s /cluster: status %d", m.ID, code)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return Status{}, fmt.Errorf("integration: %s /cluster: %w", m.ID, err)
	}
	return s, nil
}

// Ready reports whether GET /readyz answers 200.
func (m *Member) Ready(ctx context.Context) bool {
	code, _, err := m.get(ctx, "/readyz")
	return err == nil && code == http.StatusOK
}

// WaitReady waits until every member given answers /readyz with 200, bounded by ctx and
// by two minutes (a loaded machine starts containers slowly).
func (c *Cluster) WaitReady(ctx context.Context, members ...*Member) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, m := range members {
		for !m.Ready(ctx) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s: %w", ErrNotReady, m.ID, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Leader waits until a member that answers calls itself leader and a majority of the
// members name it, and returns it. Members that do not answer (killed, paused) count
// against the majority; a deposed leader cut off the others cannot win it.
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if m := c.leaderOnce(ctx); m != nil {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) leaderOnce(ctx context.Context) *Member {
	votes := map[string]int{}
	var leaders []*Member
	for _, m := range c.Members {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := m.Status(qctx)
		cancel()
		if err != nil {
			continue
		}
		if id := s.LeaderID(); id != "" {
			votes[id]++
		}
		if s.Role == "leader" {
			leaders = append(leaders, m)
		}
	}
	for _, m := range leaders {
		if votes[m.ID] > len(c.Members)/2 {
			return m
		}
	}
	return nil
}

// Follower returns a member other than the current leader.
func (c *Cluster) Follower(ctx context.Context) (*Member, error) {
	l, err := c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	others := c.Others(l)
	if len(others) == 0 {
		return nil, errors.New("integration: a single member has no follower")
	}
	return others[0], nil
}
