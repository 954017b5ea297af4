package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/internal/testserver"
	"github.com/zraft/zraft/client/kv"
)

func setup(t *testing.T, cfg testserver.Config) (*kv.Client, *client.Client, context.Context) {
	t.Helper()
	cl, err := testserver.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	c, err := client.Dial(ctx, cl.Endpoints())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return kv.New(c), c, ctx
}

func next(t *testing.T, c *client.Client) kv.Notification {
	t.Helper()
	select {
	case r := <-c.ServerRequests():
		n, err := kv.ParseNotification(r)
		if err != nil {
			t.Fatal(err)
		}
		return n
	case <-time.After(20 * time.Second):
		t.Fatal("no notification")
	}
	return kv.Notification{}
}

func TestSetGetDeleteWatch(t *testing.T) {
	k, c, ctx := setup(t, testserver.Config{Members: 1, Extensions: true})
	if _, found, err := k.Get(ctx, "a"); err != nil || found {
		t.Fatalf("Get absent: %v %v", found, err)
	}
	if err := k.Set(ctx, "a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := k.Watch(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n := next(t, c); n != (kv.Notification{ID: 1, Key: "a", Value: "1"}) {
		t.Fatalf("current value on watch: %+v", n)
	}
	if err := k.Set(ctx, "a", "2"); err != nil {
		t.Fatal(err)
	}
	if n := next(t, c); n != (kv.Notification{ID: 2, Key: "a", Value: "2"}) {
		t.Fatalf("after set: %+v", n)
	}
	if v, found, err := k.Get(ctx, "a", client.WithConsistency(client.Lease)); err != nil || !found || v != "2" {
		t.Fatalf("Get = %q %v %v", v, found, err)
	}
	if err := k.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if n := next(t, c); n != (kv.Notification{ID: 3, Key: "a", Value: ""}) {
		t.Fatalf("after delete: %+v", n)
	}
	if _, found, err := k.Get(ctx, "a"); err != nil || found {
		t.Fatalf("Get deleted: %v %v", found, err)
	}
}

// refusing answers every command and query with an application error.
type refusing struct{}

func (refusing) Apply(string, []byte, func(string, []byte)) []byte { return []byte("kv: refused") }
func (refusing) Query(string, []byte) []byte                       { return []byte("kv: refused") }
func (refusing) SessionEnded(string)                               {}

type garbage struct{ refusing }

func (garbage) Apply(string, []byte, func(string, []byte)) []byte { return []byte{1, 2, 3} }
func (garbage) Query(string, []byte) []byte                       { return []byte{1, 2, 3} }

func TestApplicationErrorsAreTyped(t *testing.T) {
	k, _, ctx := setup(t, testserver.Config{App: refusing{}})
	var appErr *kv.ApplicationError
	if err := k.Set(ctx, "a", "1"); !errors.As(err, &appErr) || appErr.Message != "kv: refused" {
		t.Fatalf("Set: %v", err)
	}
	if _, _, err := k.Get(ctx, "a"); !errors.As(err, &appErr) {
		t.Fatalf("Get: %v", err)
	}
	k2, _, ctx2 := setup(t, testserver.Config{App: garbage{}})
	if err := k2.Delete(ctx2, "a"); !errors.Is(err, kv.ErrUnexpectedResult) {
		t.Fatalf("Delete: %v", err)
	}
	if _, _, err := k2.Get(ctx2, "a"); !errors.Is(err, kv.ErrUnexpectedResult) {
		t.Fatalf("Get: %v", err)
	}
}

func TestParseNotificationRejectsOtherPayloads(t *testing.T) {
	if _, err := kv.ParseNotification(client.ServerRequest{ID: 1, Payload: []byte("x")}); !errors.Is(err, kv.ErrUnexpectedResult) {
		t.Fatalf("got %v", err)
	}
}
