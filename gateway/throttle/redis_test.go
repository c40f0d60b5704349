package throttle

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func randomPrefix() string {
	return "gatehouse-test-" + rand.Text()[:12] + ":"
}

// newTestClient builds a client the way store.NewRedis does, closed at the end of the
// test.
func newTestClient(tb testing.TB, addrs []string, timeout time.Duration) redis.UniversalClient {
	tb.Helper()
	return redistest.Client(tb, addrs, timeout)
}

// The suite's timeout is generous (-race, parallel subtests); the fail-closed test uses
// the default.
const testTimeout = 2 * time.Second

func TestRedisLimiterConformance(t *testing.T) {
	client := newTestClient(t, []string{redistest.SharedAddr(t)}, testTimeout)
	runConformance(t, func(t *testing.T) (Limiter, testClock) {
		return NewRedisLimiter(client, randomPrefix(), testTimeout), realClock{}
	})
}

// TestRedisClusterLimiterConformance runs the suite through the Cluster client against
// a one-node Redis Cluster, which refuses commands whose keys span slots.
func TestRedisClusterLimiterConformance(t *testing.T) {
	srv := redistest.StartCluster(t)
	client := newTestClient(t, srv.ClusterAddrs(), testTimeout)
	if _, ok := client.(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", client)
	}
	runConformance(t, func(t *testing.T) (Limiter, testClock) {
		return NewRedisLimiter(client, randomPrefix(), testTimeout), realClock{}
	})
}

func TestRedisLimitersShareState(t *testing.T) {
	addr := redistest.SharedAddr(t)
	prefix := randomPrefix()
	// Two gateway instances: separate clients, separate limiters, one Redis.
	a := NewRedisLimiter(newTestClient(t, []string{addr}, testTimeout), prefix, testTimeout)
	b := NewRedisLimiter(newTestClient(t, []string{addr}, testTimeout), prefix, testTimeout)

	k := Take{Key: "caller:spiffe://example.org/app", Limit: perMinute3}
	wantAllowed(t, a, k)
	wantAllowed(t, b, k)
	wantAllowed(t, a, k)
	wantRefused(t, b, k.Key, k)
	wantRefused(t, a, k.Key, k)

	// Another prefix is another deployment.
	other := NewRedisLimiter(newTestClient(t, []string{addr}, testTimeout), randomPrefix(), testTimeout)
	wantAllowed(t, other, k)
}

func TestRedisLimiterKeysAreHashed(t *testing.T) {
	srv := redistest.Start(t) // private: the test lists every key
	prefix := randomPrefix()
	l := NewRedisLimiter(newTestClient(t, []string{srv.Addr}, testTimeout), prefix, testTimeout)

	key := "subject:SECRET-alice-{tag}"
	wantAllowed(t, l, Take{Key: key, Limit: perMinute1})

	keys, err := srv.Admin().Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	want := "rate:" + prefix + "limit:{" + hex.EncodeToString(sum[:]) + "}"
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want [%q]", keys, want)
	}
	if strings.Contains(keys[0], "SECRET") || !regexp.MustCompile(`\{[0-9a-f]{64}\}$`).MatchString(keys[0]) {
		t.Fatalf("key %q is not a hash", keys[0])
	}
	// The key expires once the budget is full again.
	ttl, err := srv.Admin().TTL(context.Background(), keys[0]).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL = %s, %v; want at most the refill time", ttl, err)
	}
}

// pipelineCounter counts how the client sends scripts: alone or in pipelines.
// Connection set-up (HELLO, CLIENT SETNAME) is not counted.
type pipelineCounter struct{ singles, pipelines, pipelinedCmds atomic.Int64 }

func isScriptCmd(cmd redis.Cmder) bool {
	name := cmd.Name()
	return name == "evalsha" || name == "eval"
}

func (h *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScriptCmd(cmd) {
			h.singles.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, cmd := range cmds {
			if isScriptCmd(cmd) {
				n++
			}
		}
		if n > 0 {
			h.pipelines.Add(1)
			h.pipelinedCmds.Add(int64(n))
		}
		return next(ctx, cmds)
	}
}

func TestRedisLimiterOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t) // private: the script cache starts empty
	client := newTestClient(t, []string{srv.Addr}, testTimeout)
	h := &pipelineCounter{}
	client.AddHook(h)
	l := NewRedisLimiter(client, randomPrefix(), testTimeout)
	takes := []Take{
		{Key: "caller:spiffe://example.org/app", Limit: perMinute3},
		{Key: "subject:alice", Limit: perMinute3},
		{Key: "subject:service-account", Limit: perMinute3},
	}

	// Cold: the server does not know the script yet, so EVALSHA then EVAL.
	wantAllowed(t, l, takes...)
	if s, p, c := h.singles.Load(), h.pipelines.Load(), h.pipelinedCmds.Load(); s != 0 || p != 2 || c != 6 {
		t.Fatalf("cold: %d single commands, %d pipelines of %d commands; want 0, 2, 6", s, p, c)
	}
	// Warm: one pipeline of EVALSHA, one command per key.
	wantAllowed(t, l, takes...)
	if s, p, c := h.singles.Load(), h.pipelines.Load(), h.pipelinedCmds.Load(); s != 0 || p != 3 || c != 9 {
		t.Fatalf("warm: %d single commands, %d pipelines of %d commands; want 0, 3, 9", s, p, c)
	}
}

// TestRedisLimiterScriptFlush checks the EVAL fallback does not charge twice: NOSCRIPT
// means the script did not run.
func TestRedisLimiterScriptFlush(t *testing.T) {
	srv := redistest.Start(t) // private: the test flushes the script cache
	l := NewRedisLimiter(newTestClient(t, []string{srv.Addr}, testTimeout), randomPrefix(), testTimeout)
	k := Take{Key: "caller:flush", Limit: perMinute3}
	wantAllowed(t, l, k)
	if err := srv.Admin().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, l, k)
	wantAllowed(t, l, k)
	wantRefused(t, l, k.Key, k)
}

func TestRedisLimiterFailsClosedAndRecovers(t *testing.T) {
	srv := redistest.Start(t) // private: this test kills it
	l := NewRedisLimiter(newTestClient(t, []string{srv.Addr}, DefaultTimeout), "", 0)
	k := Take{Key: "caller:spiffe://example.org/app", Limit: perMinute3}
	wantAllowed(t, l, k)

	srv.Stop()
	for round := range 3 { // stale pooled connections first, then failing dials
		start := time.Now()
		r, err := l.Allow(context.Background(), k)
		took := time.Since(start)
		if err == nil {
			t.Fatalf("round %d: Allow with Redis down = %+v, no error", round, r)
		}
		if r != (Result{}) {
			t.Fatalf("round %d: Allow returned %+v with its error, want a zero Result", round, r)
		}
		if took > DefaultTimeout+time.Second {
			t.Fatalf("round %d: Allow took %s to fail, want about the %s timeout", round, took, DefaultTimeout)
		}
		t.Logf("round %d: failed after %s: %v", round, took.Round(time.Millisecond), err)
	}

	srv.Restart() // same port, same client; empty data and script cache
	restarted := time.Now()
	for {
		if _, err := l.Allow(context.Background(), Take{Key: "caller:probe", Limit: perMinute3}); err == nil {
			break
		}
		if time.Since(restarted) > 10*time.Second {
			t.Fatal("the limiter did not recover within 10s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovered %s after the restart", time.Since(restarted).Round(time.Millisecond))
	for range 3 {
		wantAllowed(t, l, k)
	}
	wantRefused(t, l, k.Key, k)
}

func TestRedisLimiterDeadline(t *testing.T) {
	// A server that accepts connections but never answers: the timeout must hold.
	srv := redistest.Start(t)
	l := NewRedisLimiter(newTestClient(t, []string{srv.Addr}, DefaultTimeout), randomPrefix(), DefaultTimeout)
	wantAllowed(t, l, Take{Key: "caller:warm", Limit: perMinute1})
	paused := make(chan error, 1)
	go func() {
		paused <- srv.Admin().Do(context.Background(), "CLIENT", "PAUSE", 1500, "ALL").Err()
	}()
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := l.Allow(context.Background(), Take{Key: "caller:paused", Limit: perMinute1})
	if took := time.Since(start); err == nil || took > DefaultTimeout+time.Second {
		t.Fatalf("Allow on a paused server: %v after %s, want an error within about %s", err, took, DefaultTimeout)
	}
}
