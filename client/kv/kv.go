// Package kv has typed helpers for zraft's key-value example application (server/kv,
// payloads from protocol/kvwire, byte-compatible with zio-raft's kvstore): Set, Get,
// Delete and Watch on a client.Client, and the decoding of the notifications a watch
// brings in as server requests.
package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/protocol/kvwire"
)

// ErrUnexpectedResult: the cluster answered with bytes that are neither a result of the
// key-value application nor one of its errors (a different application?).
var ErrUnexpectedResult = errors.New("kv: unexpected result")

// ApplicationError is the key-value application's refusal of a command or query (for
// example a payload it cannot decode). It is the cluster's answer, cached like any
// result; it is not a failure of the client or the connection.
type ApplicationError struct {
	// Message is the application's text, for example "kv: malformed payload: …".
	Message string
}

func (e *ApplicationError) Error() string { return "kv: application error: " + e.Message }

// Client wraps a client.Client with the key-value application's operations.
type Client struct {
	c *client.Client
}

// New returns the key-value helpers for c.
func New(c *client.Client) *Client { return &Client{c: c} }

// Set stores value under key, exactly once. Watchers of key are notified.
func (k *Client) Set(ctx context.Context, key, value string) error {
	return k.command(ctx, kvwire.Set{Key: key, Value: value})
}

// Delete removes key (nothing happens if it is absent). Watchers get a notification with
// an empty value: on the v1 wire a deletion and an empty value look the same.
func (k *Client) Delete(ctx context.Context, key string) error {
	return k.command(ctx, kvwire.Delete{Key: key})
}

// Watch subscribes this session to key: each later Set or Delete of key arrives as a
// notification on the client's ServerRequests (see ParseNotification), and the current
// value, if any, arrives at once. A subscription lasts as long as the session.
func (k *Client) Watch(ctx context.Context, key string) error {
	return k.command(ctx, kvwire.Watch{Key: key})
}

// Get reads key; found is false when it is absent. opts may choose a weaker consistency
// (client.WithConsistency); the default is linearizable.
func (k *Client) Get(ctx context.Context, key string, opts ...client.QueryOption) (value string, found bool, err error) {
	q, err := kvwire.AppendGet(nil, kvwire.Get{Key: key})
	if err != nil {
		return "", false, fmt.Errorf("kv: get %q: %w", key, err)
	}
	res, err := k.c.Query(ctx, q, opts...)
	if err != nil {
		return "", false, err
	}
	r, derr := kvwire.DecodeGetResult(res)
	if derr != nil {
		return "", false, resultError(res, derr)
	}
	return r.Value, r.Found, nil
}

func (k *Client) command(ctx context.Context, cmd kvwire.Command) error {
	b, err := kvwire.AppendCommand(nil, cmd)
	if err != nil {
		return fmt.Errorf("kv: %T: %w", cmd, err)
	}
	res, err := k.c.Submit(ctx, b)
	if err != nil {
		return err
	}
	if derr := kvwire.DecodeEmptyResult(res); derr != nil {
		return resultError(res, derr)
	}
	return nil
}

// resultError tells an application error (its text starts with "kv: ") from bytes that
// make no sense.
func resultError(res []byte, derr error) error {
	if len(res) >= 4 && string(res[:4]) == "kv: " {
		return &ApplicationError{Message: string(res)}
	}
	return fmt.Errorf("%w: %w", ErrUnexpectedResult, derr)
}

// Notification is a change of a watched key. An empty Value means the key was deleted
// or set to the empty string (use Get to tell them apart).
type Notification struct {
	// ID is the server request's id (1, 2, 3, … in the session).
	ID    int64
	Key   string
	Value string
}

// ParseNotification decodes a server request of the key-value application.
func ParseNotification(r client.ServerRequest) (Notification, error) {
	n, err := kvwire.DecodeNotification(r.Payload)
	if err != nil {
		return Notification{}, fmt.Errorf("%w: server request %d: %w", ErrUnexpectedResult, r.ID, err)
	}
	return Notification{ID: r.ID, Key: n.Key, Value: n.Value}, nil
}
