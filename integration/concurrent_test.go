package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/client/kv"
)

// Scenario 7: one client shared by many goroutines, with server requests streaming in
// and its keep-alive timer running, for several keep-alive intervals at once. Every
// call succeeds, each goroutine reads its own writes, and the pushed changes arrive in
// order without gaps.
func TestConcurrentUsersOnOneClient(t *testing.T) {
	c, ctx := newCluster(t, 5*time.Minute)
	cl := dial(ctx, t, c, "")
	store := kv.New(cl)
	must(t, store.Watch(ctx, "feed"))
	writer := kv.New(dial(ctx, t, c, ""))

	const users, rounds, feed = 8, 25, 100
	var wg sync.WaitGroup
	errs := make(chan error, users+1)
	for u := range users {
		wg.Go(func() {
			key := fmt.Sprintf("user-%d", u)
			for r := range rounds {
				if err := store.Set(ctx, key, fmt.Sprint(r)); err != nil {
					errs <- fmt.Errorf("%s set %d: %w", key, r, err)
					return
				}
				v, _, err := store.Get(ctx, key)
				if err != nil || v != fmt.Sprint(r) {
					errs <- fmt.Errorf("%s read %q after writing %d: %v", key, v, r, err)
					return
				}
			}
		})
	}
	// Another session pushes changes to this client meanwhile, slowly enough that the
	// test spans several keep-alive intervals.
	wg.Go(func() {
		for i := range feed {
			if err := writer.Set(ctx, "feed", fmt.Sprint(i)); err != nil {
				errs <- fmt.Errorf("feed %d: %w", i, err)
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
	})
	received := make(chan error, 1)
	go func() {
		var last int64
		for i := range feed {
			select {
			case r := <-cl.ServerRequests():
				n, err := kv.ParseNotification(r)
				if err != nil || n.ID != last+1 || n.Value != fmt.Sprint(i) {
					received <- fmt.Errorf("push %d: %+v %v (last id %d)", i, n, err, last)
					return
				}
				last = n.ID
			case <-time.After(time.Minute):
				received <- fmt.Errorf("push %d not received", i)
				return
			}
		}
		received <- nil
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-received; err != nil {
		t.Fatal(err)
	}
}
