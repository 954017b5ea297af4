package integration

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// Scenario 4: server-initiated work. The key-value application addresses work to the
// sessions watching a key; workers identify themselves by capability (role=worker) and
// register by watching their queue key.
//
// (a) A worker that has received but not acknowledged work when its connection dies
// (its channel is full, so the client has not taken the requests; then the leader it is
// connected to is killed) gets exactly that work again, in order, when it continues
// its session on the new leader.
// (b) A worker that vanishes (SIGKILL of its process) loses its session after the
// timeout; the work moves to the next worker that registers for the queue (the
// application hands the current value to a new watcher at once).
func TestServerInitiatedWork(t *testing.T) {
	c, ctx := newCluster(t, 6*time.Minute)
	producer := kv.New(dial(ctx, t, c, ""))

	// (a) One slot in the channel: the rest stays unacknowledged on the cluster.
	worker := dial(ctx, t, c, "", client.WithCapability("role", "worker"), client.WithServerRequestBuffer(1))
	must(t, kv.New(worker).Watch(ctx, "queue/a"))
	const jobs = 8
	for i := range jobs {
		must(t, producer.Set(ctx, "queue/a", fmt.Sprintf("job-%d", i)))
	}
	// The worker is busy (not reading) while its leader dies.
	leader, err := c.Leader(ctx)
	must(t, err)
	st, err := worker.Status(ctx)
	must(t, err)
	t.Logf("worker holds %d requests, deferred %d, before the leader %s is killed", st.LastServerRequest, st.ServerRequestsDeferred, leader.ID)
	must(t, leader.Kill(ctx))
	for i := range jobs {
		n := nextNotification(ctx, t, worker, time.Minute)
		if n.ID != int64(i+1) || n.Value != fmt.Sprintf("job-%d", i) {
			t.Fatalf("work item %d = %+v, want id %d job-%d", i, n, i+1, i)
		}
	}
	st, err = worker.Status(ctx)
	must(t, err)
	if st.Member == leader.ID {
		t.Fatalf("worker still on the killed member %s", leader.ID)
	}
	t.Logf("worker got all %d items in order on %s; deferred %d", jobs, st.Member, st.ServerRequestsDeferred)
	must(t, leader.Start(ctx))
	must(t, c.WaitReady(ctx, leader))

	// (b) A worker process that vanishes with work outstanding.
	proc, vanished := vanishingClient(ctx, t, c, "queue/b")
	must(t, producer.Set(ctx, "queue/b", "job-b"))
	before := countSessions(ctx, t, c)
	must(t, proc.Process.Signal(syscall.SIGKILL))
	_ = proc.Wait()
	waitSessions(ctx, t, c, before-1, sessionTimeout+leaderGrace+30*time.Second)
	expectContinueRejected(ctx, t, c, vanished)
	next := dial(ctx, t, c, "", client.WithCapability("role", "worker"))
	must(t, kv.New(next).Watch(ctx, "queue/b"))
	if n := nextNotification(ctx, t, next, time.Minute); n.Key != "queue/b" || n.Value != "job-b" {
		t.Fatalf("next worker got %+v, want queue/b=job-b", n)
	}
}
