package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// linearizabilityRun is how long the clients work under the nemesis.
const linearizabilityRun = 60 * time.Second

// Several clients run set, get and delete on a few keys for a minute while the nemesis
// kills, pauses and partitions members; porcupine checks the recorded history. On
// failure the history (JSON) and porcupine's visualization (HTML) are kept under
// artifacts/.
func TestLinearizableUnderFaults(t *testing.T) {
	c, ctx := newCluster(t, 8*time.Minute)
	const clients = 4
	keys := []string{"a", "b", "c"}
	base := time.Now()
	now := func() int64 { return time.Since(base).Nanoseconds() }

	var mu sync.Mutex
	var history []porcupine.Operation
	var stats struct{ ok, unknown, failedReads, expired int }
	runCtx, stop := context.WithTimeout(ctx, linearizabilityRun)
	defer stop()
	var wg sync.WaitGroup
	for id := range clients {
		store := kv.New(dial(ctx, t, c, ""))
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(id), uint64(base.UnixNano())))
			for n := 0; runCtx.Err() == nil; n++ {
				in := kvInput{Key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(10); {
				case r < 4:
					in.Op = "get"
				case r < 8:
					in.Op, in.Value = "set", fmt.Sprintf("c%d-%d", id, n)
				default:
					in.Op = "delete"
				}
				// Each call gets long enough to ride out a failover; one that still
				// does not finish stays in doubt.
				opCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
				call := now()
				var out kvOutput
				var err error
				switch in.Op {
				case "get":
					out.Value, out.Found, err = store.Get(opCtx, in.Key)
				case "set":
					err = store.Set(opCtx, in.Key, in.Value)
				default:
					err = store.Delete(opCtx, in.Key)
				}
				cancel()
				ret := now()
				mu.Lock()
				switch {
				case err == nil:
					stats.ok++
				case in.Op == "get":
					// A read without an answer says nothing.
					stats.failedReads++
					mu.Unlock()
					continue
				default:
					// A write may still be applied, once, at any later time.
					stats.unknown++
					out, ret = kvOutput{Unknown: true}, math.MaxInt64/2
				}
				if errors.Is(err, client.ErrSessionExpired) {
					stats.expired++
				}
				history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
				if errors.Is(err, client.ErrSessionExpired) || errors.Is(err, client.ErrClosed) {
					t.Errorf("client %d: %v", id, err)
					return
				}
			}
		})
	}
	nem := newNemesis(t, c)
	nemErr := nem.run(runCtx)
	wg.Wait()
	// A nemesis that could not inject or heal a fault fails the test, but the history
	// recorded so far is still checked.
	if nemErr != nil {
		t.Errorf("nemesis: %v", nemErr)
	}
	t.Logf("%d operations (%d in doubt, %d reads without an answer, %d session expiries) under %d faults in %v",
		stats.ok+stats.unknown, stats.unknown, stats.failedReads, stats.expired, nem.faults(), linearizabilityRun)
	if stats.ok < 100 {
		t.Errorf("only %d operations completed: the run says little", stats.ok)
	}

	res, info := porcupine.CheckOperationsVerbose(kvModel, history, 2*time.Minute)
	if res == porcupine.Ok {
		t.Logf("history of %d operations is linearizable", len(history))
		return
	}
	t.Errorf("porcupine: %v", res)
	dir, err := ArtifactDir(t)
	must(t, err)
	hist := filepath.Join(dir, "history.json")
	if b, err := json.MarshalIndent(history, "", " "); err == nil {
		_ = os.WriteFile(hist, b, 0o644)
	}
	viz := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(kvModel, info, viz); err != nil {
		t.Logf("visualization: %v", err)
	}
	t.Logf("history: %s\nvisualization: %s", hist, viz)
}
