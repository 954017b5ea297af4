package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
)

// ClusterStatus is what GET /cluster answers.
type ClusterStatus struct {
	ID                string   `json:"id"`
	Role              string   `json:"role"`
	Term              uint64   `json:"term"`
	Leader            *Member  `json:"leader,omitempty"`
	Members           []Member `json:"members"`
	AppliedIndex      uint64   `json:"applied_index"`
	CommitIndex       uint64   `json:"commit_index"`
	LastIndex         uint64   `json:"last_index"`
	LastSnapshotIndex uint64   `json:"last_snapshot_index"`
	// Sessions is the number of live sessions in the replicated state.
	Sessions int `json:"sessions"`
	// Connections and BoundSessions are this member's client connections and the
	// sessions bound to one of them (the leader's only).
	Connections   int `json:"connections"`
	BoundSessions int `json:"bound_sessions"`
}

// AdminError is the body of an admin endpoint's error answer. A membership change sent
// to a member that does not lead is answered 421 Misdirected Request naming the leader.
type AdminError struct {
	Error                string `json:"error"`
	LeaderID             string `json:"leader_id,omitempty"`
	LeaderClientEndpoint string `json:"leader_client_endpoint,omitempty"`
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /cluster", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("POST /cluster/members", func(w http.ResponseWriter, r *http.Request) {
		var m Member
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m); err != nil || m.ID == "" || m.RaftAddr == "" {
			writeJSON(w, http.StatusBadRequest, AdminError{Error: "body must be {\"id\", \"raft_addr\", \"client_endpoint\"}"})
			return
		}
		s.membership(w, s.node.AddMember(r.Context(), raftnode.Member(m)))
	})
	mux.HandleFunc("DELETE /cluster/members/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.membership(w, s.node.RemoveMember(r.Context(), r.PathValue("id")))
	})
	if s.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index) // also heap, goroutine, allocs, block, mutex, threadcreate
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	for pattern, h := range s.extra {
		mux.Handle(pattern, h)
	}
	return mux
}

func (s *Server) membership(w http.ResponseWriter, err error) {
	var nl *raftnode.NotLeaderError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, s.Status())
	case errors.As(err, &nl):
		writeJSON(w, http.StatusMisdirectedRequest, AdminError{Error: ErrNotLeader.Error(),
			LeaderID: nl.LeaderID, LeaderClientEndpoint: nl.LeaderEndpoint})
	case errors.Is(err, raftnode.ErrInvalidConfig):
		writeJSON(w, http.StatusBadRequest, AdminError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusServiceUnavailable, AdminError{Error: err.Error()})
	}
}

// ready: part of a cluster with a known leader.
func (s *Server) ready() error {
	st := s.node.State()
	if st.Leader.ID == "" {
		return errors.New("no known leader")
	}
	for _, m := range st.Members {
		if m.ID == s.cfg.MemberID {
			return nil
		}
	}
	return errors.New("not a member of the cluster")
}

// Status describes the member and the cluster as this member sees them.
func (s *Server) Status() ClusterStatus {
	st := s.node.State()
	stats := s.node.Stats()
	out := ClusterStatus{ID: s.cfg.MemberID, Role: st.Role.String(), Term: st.Term, Members: []Member{},
		AppliedIndex: stats.AppliedIndex, CommitIndex: stats.CommitIndex, LastIndex: stats.LastIndex,
		LastSnapshotIndex: stats.LastSnapshotIndex, Sessions: s.sm.Len()}
	if st.Leader.ID != "" {
		l := Member(st.Leader)
		out.Leader = &l
	}
	for _, m := range st.Members {
		out.Members = append(out.Members, Member(m))
	}
	if gs := s.loop.stats.Load(); gs != nil {
		out.Connections, out.BoundSessions = gs.Connections, gs.Sessions
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// join asks the members at Config.Join, in turn, to add this member, until one (the
// leader) does or ctx ends. Members that do not lead answer 421 and are skipped.
func (s *Server) join(ctx context.Context) {
	body, _ := json.Marshal(s.Member())
	client := &http.Client{Timeout: 15 * time.Second}
	for {
		for _, addr := range s.cfg.Join {
			err := postJoin(ctx, client, addr, body)
			if err == nil {
				s.log.Info("server: joined the cluster", "via", addr)
				return
			}
			s.log.Info("server: join attempt", "via", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func postJoin(ctx context.Context, client *http.Client, addr string, body []byte) error {
	base, err := adminURL(addr)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/cluster/members", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var ae AdminError
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ae)
	return fmt.Errorf("%s: %s (leader %q)", resp.Status, ae.Error, ae.LeaderID)
}
