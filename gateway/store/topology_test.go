package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// The replicated topologies against real servers: a Sentinel failover
// under load (a forced one and a crash of the master), a Cluster of three
// masters (the conformance suites, a request whose keys sit on every
// node), and the restart of one Cluster node that loses its data.

// epochLog collects a store's epoch changes (OnEpochChange runs on the
// store's goroutines).
type epochLog struct {
	mu      sync.Mutex
	changes []EpochChange
}

func (l *epochLog) add(c EpochChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *epochLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, c := range l.changes {
		fmt.Fprintf(&b, "\n  began %s: %s", c.Began.Format("15:04:05.000"), c.Why)
	}
	return b.String()
}

// admittedKey is a replay key Decide admitted during a load run.
type admittedKey struct {
	key      ReplayKey
	at       time.Time // when Decide returned
	replayed bool      // sent again by the replayer during the run
}

// failoverLoad drives Decide from several goroutines, each with fresh keys,
// and one replayer that sends keys already admitted again, while the
// topology changes underneath.
type failoverLoad struct {
	s     *Redis
	start time.Time

	mu         sync.Mutex
	admitted   []admittedKey
	errs       int
	firstErr   time.Time
	lastErr    time.Time
	errSamples []string
	fresh      map[Refusal]int // refusals of fresh keys (false replays, freshness before the switch)
	violations []string        // a key admitted again
	replays    map[Refusal]int // outcomes of the replayer's sends
	replayErrs int
	// switched is when the topology change was complete (the Sentinels
	// agree); recovered when a Decide that began after it first admitted.
	switched  time.Time
	recovered time.Time
	panics    atomic.Int64
}

func newFailoverLoad(s *Redis) *failoverLoad {
	return &failoverLoad{s: s, start: time.Now(), fresh: map[Refusal]int{}, replays: map[Refusal]int{}}
}

func (l *failoverLoad) failed(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs++
	if l.firstErr.IsZero() {
		l.firstErr = now
	}
	l.lastErr = now
	if len(l.errSamples) < 5 {
		l.errSamples = append(l.errSamples, fmt.Sprintf("%s: %v", l.since(now), err))
	}
}

func (l *failoverLoad) since(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(l.start).Round(time.Millisecond).String()
}

// worker decides requests of one fresh key each until stop is closed.
func (l *failoverLoad) worker(w int, stop <-chan struct{}) {
	defer func() {
		if p := recover(); p != nil {
			l.panics.Add(1)
			l.mu.Lock()
			l.violations = append(l.violations, fmt.Sprintf("worker %d panicked: %v", w, p))
			l.mu.Unlock()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := ReplayKey{Kind: "nonce", Value: fmt.Appendf(nil, "w%d-%d", w, i), TTL: time.Minute, Since: time.Now()}
		began := time.Now()
		d, err := l.s.Decide(context.Background(), Request{Keys: []ReplayKey{k}})
		if err != nil {
			l.failed(err)
			time.Sleep(5 * time.Millisecond) // a gateway refuses and goes on; no hot loop
			continue
		}
		now := time.Now()
		l.mu.Lock()
		if d.Refusal == Admitted {
			l.admitted = append(l.admitted, admittedKey{key: k, at: now})
			if !l.switched.IsZero() && !began.Before(l.switched) && l.recovered.IsZero() {
				l.recovered = now
			}
		} else {
			l.fresh[d.Refusal]++
		}
		l.mu.Unlock()
		time.Sleep(time.Millisecond) // a steady load, not a benchmark
	}
}

// replayer sends keys admitted earlier in the run again: each must be
// refused, whatever the topology is doing.
func (l *failoverLoad) replayer(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		l.mu.Lock()
		n := len(l.admitted)
		var k ReplayKey
		if n > 0 {
			i := rand.IntN(n)
			k = l.admitted[i].key
			l.admitted[i].replayed = true
		}
		l.mu.Unlock()
		if n == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		d, err := l.s.Decide(context.Background(), Request{Keys: []ReplayKey{k}})
		l.mu.Lock()
		switch {
		case err != nil:
			l.replayErrs++
		case d.Refusal == Admitted:
			l.violations = append(l.violations, fmt.Sprintf("replayer at %s: %s (since %s) admitted again", l.since(time.Now()), k.Value, k.Since.Format("15:04:05.000")))
		default:
			l.replays[d.Refusal]++
		}
		l.mu.Unlock()
		if err != nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// resend sends keys once more through s, from 8 goroutines, and counts
// the refusals of those admitted before split and after; the keys it
// admits are returned (violations). A key is retried on error for a few
// seconds (the topology is settled by then).
func resend(t *testing.T, s *Redis, keys []admittedKey, split time.Time) (before, after map[Refusal]int, violations []admittedKey) {
	t.Helper()
	before, after = map[Refusal]int{}, map[Refusal]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	var errs []error
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				a := keys[i]
				var d Decision
				var err error
				for deadline := time.Now().Add(5 * time.Second); ; {
					if d, err = s.Decide(context.Background(), Request{Keys: []ReplayKey{a.key}}); err == nil || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case d.Refusal == Admitted:
					violations = append(violations, a)
				case a.at.Before(split):
					before[d.Refusal]++
				default:
					after[d.Refusal]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Errorf("%d re-sends failed after the switch, e.g. %v", len(errs), errs[0])
	}
	sort.Slice(violations, func(i, j int) bool { return violations[i].at.Before(violations[j].at) })
	return before, after, violations
}

// TestRedisSentinelFailoverUnderLoad: eight goroutines decide requests with
// fresh replay keys, and a ninth replays keys already admitted, while the
// Sentinels fail the master over (on request, then in a second set after
// the master is killed). During the switch Decide returns decisions or
// errors (fail closed), never an admission of a replay; afterwards the
// same client admits new keys again within 10s, and every key admitted in
// the run, sent once more (through the same instance and through one
// started after the switch), is refused: Replayed when the new master has
// it, Recovered when it may have been lost.
func TestRedisSentinelFailoverUnderLoad(t *testing.T) {
	for _, how := range []string{"forced failover", "master killed"} {
		t.Run(how, func(t *testing.T) {
			redisLines := captureRedisLog(t)
			ha := redistest.StartSentinelHA(t)
			var epochs epochLog
			opts := RedisOptions{Addrs: ha.SentinelAddrs(), MasterName: redistest.SentinelHAMaster, Prefix: randomPrefix(), Timeout: 500 * time.Millisecond, OnEpochChange: epochs.add}
			s := newTestRedis(t, opts, fastPolicy)
			must(t, s.Ping(context.Background()))

			l := newFailoverLoad(s)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() { l.worker(w, stop) })
			}
			wg.Go(func() { l.replayer(stop) })
			stopped := false
			halt := func() {
				if !stopped {
					stopped = true
					close(stop)
					wg.Wait()
				}
			}
			defer halt()

			time.Sleep(time.Second)
			trigger := time.Now()
			if how == "forced failover" {
				ha.Failover()
			} else {
				ha.KillMaster()
			}
			switched := time.Now()
			l.mu.Lock()
			l.switched = switched
			l.mu.Unlock()

			// Recovery: a Decide begun after the switch admits, with the
			// same client, within 10s.
			for deadline := switched.Add(10 * time.Second); ; {
				l.mu.Lock()
				recovered := l.recovered
				l.mu.Unlock()
				if !recovered.IsZero() {
					break
				}
				if time.Now().After(deadline) {
					halt()
					t.Fatalf("no key admitted within 10s of the switch; %d errors, first %v%s", l.errs, l.errSamples, epochs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // some load on the new master
			halt()
			if n := l.panics.Load(); n > 0 {
				t.Errorf("%d workers panicked", n)
			}

			l.mu.Lock()
			admitted := append([]admittedKey(nil), l.admitted...)
			l.mu.Unlock()
			var beforeN, replayedN int
			for _, a := range admitted {
				if a.at.Before(trigger) {
					beforeN++
				}
				if a.replayed {
					replayedN++
				}
			}
			t.Logf("%s: switch took %s (from %s to %s of the run); %d keys admitted (%d before the switch); refusals of fresh keys %v",
				how, switched.Sub(trigger).Round(time.Millisecond), l.since(trigger), l.since(switched), len(admitted), beforeN, refusalCounts(l.fresh))
			t.Logf("errors during the run: %d (first at %s, last at %s), e.g. %q", l.errs, l.since(l.firstErr), l.since(l.lastErr), l.errSamples)
			t.Logf("recovered: first admission %s after the switch (%s after the trigger)",
				l.recovered.Sub(switched).Round(time.Millisecond), l.recovered.Sub(trigger).Round(time.Millisecond))
			t.Logf("replayer during the run: %d distinct keys replayed, refusals %v, %d errors", replayedN, refusalCounts(l.replays), l.replayErrs)
			t.Logf("epoch changes seen by the instance:%s", epochs.String())

			// Every key admitted in the run, once more: half through the
			// instance that saw the switch and half through one started
			// after it, then each through the other (where a first re-send
			// that was admitted has written it again).
			late := newTestRedis(t, RedisOptions{Addrs: opts.Addrs, MasterName: opts.MasterName, Prefix: opts.Prefix, Timeout: opts.Timeout}, fastPolicy)
			var halves [2][]admittedKey
			for i, a := range admitted {
				halves[i%2] = append(halves[i%2], a)
			}
			instances := [2]*Redis{s, late}
			names := [2]string{"the instance that saw the switch", "an instance started after it"}
			for round := range 2 {
				for i := range 2 {
					keys := halves[(i+round)%2]
					before, after, violations := resend(t, instances[i], keys, trigger)
					what := fmt.Sprintf("%s re-sent through %s", [2]string{"first", "second"}[round], names[i])
					t.Logf("%s: %d keys; admitted before the failover began: %s; during or after it: %s", what, len(keys), refusalCounts(before), refusalCounts(after))
					if len(violations) == 0 {
						continue
					}
					var first, last time.Time
					for _, v := range violations {
						if first.IsZero() || v.at.Before(first) {
							first = v.at
						}
						if v.at.After(last) {
							last = v.at
						}
					}
					var sample []string
					for _, v := range violations[:min(len(violations), 5)] {
						sample = append(sample, fmt.Sprintf("%s (since %s, admitted %s)", v.key.Value, v.key.Since.Format("15:04:05.000000"), v.at.Format("15:04:05.000000")))
					}
					t.Errorf("%s: %d of %d keys admitted again, first admitted %s, last %s (switch triggered %s, done %s), e.g.\n  %s\nepoch changes:%s",
						what, len(violations), len(keys), first.Format("15:04:05.000000"), last.Format("15:04:05.000000"),
						trigger.Format("15:04:05.000000"), switched.Format("15:04:05.000000"), strings.Join(sample, "\n  "), epochs.String())
				}
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if n := len(l.violations); n > 0 {
				t.Errorf("%d replays admitted during the run, e.g.\n  %s", n, strings.Join(l.violations[:min(n, 5)], "\n  "))
			}
			t.Logf("go-redis logged %s", redisLines)
		})
	}
}

// redisLog keeps what go-redis logs (a line per failed dial during the
// switch) out of the test output: a count and the first lines.
type redisLines struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (r *redisLines) Printf(_ context.Context, format string, v ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if len(r.first) < 3 {
		r.first = append(r.first, strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

func (r *redisLines) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%d lines, first %q", r.n, r.first)
}

// captureRedisLog routes go-redis's process-wide logger to a redisLines
// until the test ends (no test runs in parallel with this one).
func captureRedisLog(t *testing.T) *redisLines {
	l := &redisLines{}
	redis.SetLogger(l)
	t.Cleanup(func() { SetRedisLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))) })
	return l
}

func refusalCounts(m map[Refusal]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for r, n := range m {
		parts = append(parts, fmt.Sprintf("%s: %d", r, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// TestRedisClusterMasters runs both conformance suites against a Cluster of
// three masters, where the keys of one request, the epoch and the rate
// and lockout keys sit on different nodes.
func TestRedisClusterMasters(t *testing.T) {
	c := redistest.StartClusterMasters(t, 3)
	newStore := func(t *testing.T, p LockoutPolicy) Store {
		s := newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: randomPrefix()}, p)
		if _, ok := s.client.(*redis.ClusterClient); !ok {
			t.Fatalf("client is %T, want *redis.ClusterClient", s.client)
		}
		return s
	}
	t.Run("conformance", func(t *testing.T) { runConformance(t, newStore) })
	t.Run("decide conformance", func(t *testing.T) { runDecideConformance(t, newStore) })
	t.Run("a request over every node", func(t *testing.T) { clusterRequestOverNodes(t, c) })
}

// nodeHook counts the pipelines each node is sent.
type nodeHook struct {
	mu    sync.Mutex
	pipes map[string]int
}

func (h *nodeHook) take() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pipes
	h.pipes = map[string]int{}
	return p
}

type nodeHookFor struct {
	h    *nodeHook
	addr string
}

func (n nodeHookFor) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (n nodeHookFor) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (n nodeHookFor) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n.h.mu.Lock()
		n.h.pipes[n.addr]++
		n.h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// spreadRequest finds a fullRequest whose three replay keys sit on three
// different nodes.
func spreadRequest(t *testing.T, c *redistest.Cluster, prefix, tag string) (Request, []*redistest.Server) {
	t.Helper()
	for i := range 200 {
		req := fullRequest(fmt.Sprint(tag, "-", i))
		nodes := make([]*redistest.Server, len(req.Keys))
		seen := map[*redistest.Server]bool{}
		for j, k := range req.Keys {
			nodes[j] = c.NodeFor(replayKeyName(prefix, k.Kind, k.Value))
			seen[nodes[j]] = true
		}
		if len(seen) == len(c.Nodes) {
			return req, nodes
		}
	}
	t.Fatal("no request of 200 spreads its keys over every node")
	return Request{}, nil
}

// clusterRequestOverNodes: a request whose three replay keys live on the
// three nodes is decided as one: admitted once, its keys written each on
// its own node, with at most two pipelines per node; refused as a whole
// when one of them was seen, without leaving the others behind; and of
// eight instances racing with the same request, at most one is admitted.
func clusterRequestOverNodes(t *testing.T, c *redistest.Cluster) {
	ctx := context.Background()
	prefix := randomPrefix()
	a := newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: prefix}, fastPolicy)
	b := newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: prefix}, fastPolicy)
	hook := &nodeHook{pipes: map[string]int{}}
	a.client.(*redis.ClusterClient).OnNewNode(func(cl *redis.Client) { cl.AddHook(nodeHookFor{hook, cl.Options().Addr}) })

	wantDecision(t, a, fullRequest("warm-up"), Admitted) // dials, loads the scripts
	hook.take()

	req, nodes := spreadRequest(t, c, prefix, "spread")
	wantDecision(t, a, req, Admitted)
	pipes := hook.take()
	for addr, n := range pipes {
		if n > 2 {
			t.Errorf("admitted request: %d pipelines to %s, want at most 2 per node (%v)", n, addr, pipes)
		}
	}
	for i, k := range req.Keys {
		name := replayKeyName(prefix, k.Kind, k.Value)
		if n, err := nodes[i].Admin().Exists(ctx, name).Result(); err != nil || n != 1 {
			t.Errorf("key %d (%s) on %s: %d %v", i, k.Kind, nodes[i].Addr, n, err)
		}
	}
	d := wantDecision(t, b, req, Replayed)
	if fmt.Sprint(d.Seen) != "[true true true]" {
		t.Errorf("seen %v", d.Seen)
	}
	for addr, n := range hook.take() {
		if n > 1 {
			t.Errorf("replayed request: %d pipelines to %s, want 1", n, addr)
		}
	}

	// One seen key refuses the request; the others are not left behind.
	fresh, freshNodes := spreadRequest(t, c, prefix, "partial")
	mixed := fresh
	mixed.Keys = []ReplayKey{fresh.Keys[0], req.Keys[1], fresh.Keys[2]}
	mixed.SubjectRate = nil
	d = wantDecision(t, a, mixed, Replayed)
	if fmt.Sprint(d.Seen) != "[false true false]" {
		t.Errorf("seen %v", d.Seen)
	}
	for _, i := range []int{0, 2} {
		k := fresh.Keys[i]
		if n, err := freshNodes[i].Admin().Exists(ctx, replayKeyName(prefix, k.Kind, k.Value)).Result(); err != nil || n != 0 {
			t.Errorf("key %d of the refused request left on %s: %d %v", i, freshNodes[i].Addr, n, err)
		}
	}
	wantDecision(t, b, fresh, Admitted)

	// Eight instances race with the same request, twenty times: never more
	// than one admission (none is allowed: two requests that each won a
	// key both refuse, and take their keys back).
	racers := []*Redis{a, b}
	for len(racers) < 8 {
		racers = append(racers, newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: prefix}, fastPolicy))
	}
	var none, errs int
	for round := range 20 {
		r, _ := spreadRequest(t, c, prefix, fmt.Sprint("race-", round))
		r.SubjectRate = nil
		var admitted atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		for _, s := range racers {
			wg.Go(func() {
				d, err := s.Decide(ctx, r)
				switch {
				case err != nil:
					failed.Add(1)
				case d.Refusal == Admitted:
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		errs += int(failed.Load())
		switch n := admitted.Load(); {
		case n > 1:
			t.Errorf("round %d: the same request admitted %d times", round, n)
		case n == 0:
			none++
			// Everything was taken back: the request can still pass once.
			wantDecision(t, a, r, Admitted)
		}
		wantDecision(t, b, r, Replayed)
	}
	t.Logf("20 races of 8 instances: %d rounds with no admission (all refused, keys taken back), %d errors", none, errs)
	if errs > 0 {
		t.Errorf("%d errors in the races", errs)
	}
}

// TestRedisClusterNodeRestart: a Cluster node restarted without
// persistence comes back with its slots and none of its keys. A key
// admitted on it before is refused after it (Recovered: the new
// connection's uptime dates the loss), by the instance that saw it and by
// one started afterwards, also when the epoch key lives on another node;
// then the node that holds the epoch key is restarted too.
func TestRedisClusterNodeRestart(t *testing.T) {
	started := time.Now()
	c := redistest.StartClusterMasters(t, 3)
	var epochs epochLog
	prefix := randomPrefix()
	s := newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: prefix, OnEpochChange: epochs.add}, fastPolicy)
	ctx := context.Background()
	must(t, s.Ping(ctx)) // writes the epoch
	epochNode := c.NodeFor(s.epochKey())
	// valueOn finds a replay key that lives on node (on, true) or on
	// another node than node (on, false).
	valueOn := func(tag string, node *redistest.Server, on bool) ReplayKey {
		t.Helper()
		for i := range 200 {
			k := nonce(fmt.Sprint(tag, "-", i))
			if (c.NodeFor(replayKeyName(prefix, k.Kind, k.Value)) == node) == on {
				k.Since = time.Now()
				return k
			}
		}
		t.Fatalf("no key of 200 on the wanted node")
		return ReplayKey{}
	}
	// decideSoon decides req, retrying errors for a few seconds: the first
	// round trips after a restart may meet the broken connections.
	decideSoon := func(s *Redis, req Request) Decision {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			d, err := s.Decide(ctx, req)
			if err == nil {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("Decide after the restart: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	notAgain := func(what string, s *Redis, k ReplayKey) Refusal {
		t.Helper()
		d := decideSoon(s, Request{Keys: []ReplayKey{k}})
		if d.Refusal != Recovered && d.Refusal != Replayed {
			t.Errorf("%s: %v, want Recovered or Replayed; epoch changes:%s", what, d.Refusal, epochs.String())
		}
		return d.Refusal
	}
	gone := func(node *redistest.Server, k ReplayKey) {
		t.Helper()
		if n, err := node.Admin().Exists(ctx, replayKeyName(prefix, k.Kind, k.Value)).Result(); err != nil || n != 0 {
			t.Fatalf("the key is still on the restarted node %s: %d %v", node.Addr, n, err)
		}
	}

	// A node that does not hold the epoch key.
	var other *redistest.Server
	for _, n := range c.Nodes {
		if n != epochNode {
			other = n
			break
		}
	}
	lost := valueOn("lost", other, true)
	kept := valueOn("kept", other, false)
	wantDecision(t, s, Request{Keys: []ReplayKey{lost}}, Admitted)
	wantDecision(t, s, Request{Keys: []ReplayKey{kept}}, Admitted)
	// The restart comes in a later second than the keys' freshness, and
	// more than the uptime jitter (2s) after the node's first start.
	time.Sleep(max(time.Until(time.Now().Truncate(time.Second).Add(time.Second)), time.Until(started.Add(3500*time.Millisecond))))
	restart := time.Now()
	c.RestartNode(other)
	t.Logf("node %s restarted in %s", other.Addr, time.Since(restart).Round(time.Millisecond))
	gone(other, lost)
	if n, err := epochNode.Admin().Exists(ctx, s.epochKey()).Result(); err != nil || n != 1 {
		t.Fatalf("the epoch key is gone from %s: %d %v", epochNode.Addr, n, err)
	}
	r1 := notAgain("the lost key, same instance", s, lost)
	r2 := notAgain("a kept key, same instance", s, kept)
	late := newTestRedis(t, RedisOptions{Addrs: c.Addrs(), Prefix: prefix}, fastPolicy)
	r3 := notAgain("the lost key, an instance started after the restart", late, lost)
	t.Logf("after the restart of a node without the epoch: lost key %v, kept key %v, lost key through a new instance %v", r1, r2, r3)
	fresh := nonce("after the first restart")
	fresh.Since = time.Now().Add(time.Second)
	if d := decideSoon(s, Request{Keys: []ReplayKey{fresh}}); d.Refusal != Admitted {
		t.Fatalf("a fresh key after the restart: %v; epoch changes:%s", d.Refusal, epochs.String())
	}

	// The node that holds the epoch key: the epoch is lost with it.
	lost2 := valueOn("lost2", epochNode, true)
	lost2.Since = fresh.Since
	wantDecision(t, s, Request{Keys: []ReplayKey{lost2}}, Admitted)
	time.Sleep(time.Until(lost2.Since.Truncate(time.Second).Add(time.Second)))
	c.RestartNode(epochNode)
	gone(epochNode, lost2)
	r4 := notAgain("a key lost with the epoch, same instance", s, lost2)
	r5 := notAgain("a key admitted before the first restart", s, kept)
	r6 := notAgain("a key lost with the epoch, instance started before", late, lost2)
	t.Logf("after the restart of the epoch's node: lost key %v, older key %v, through the second instance %v", r4, r5, r6)
	t.Logf("epoch changes:%s", epochs.String())
	fresh2 := nonce("after the second restart")
	fresh2.Since = time.Now().Add(time.Second)
	if d := decideSoon(s, Request{Keys: []ReplayKey{fresh2}}); d.Refusal != Admitted {
		t.Fatalf("a fresh key after the second restart: %v", d.Refusal)
	}

	// A crash in the same second as the key's freshness: the key is lost
	// all the same and must not be admitted again. (The steps above wait
	// for the next second; this one does not.)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	lost3 := valueOn("lost3", other, true)
	wantDecision(t, s, Request{Keys: []ReplayKey{lost3}}, Admitted)
	crash := time.Now()
	c.RestartNode(other)
	gone(other, lost3)
	r7 := notAgain("a key admitted in the second of the crash, same instance", s, lost3)
	t.Logf("key since %s, node killed %s: %v; epoch changes:%s", lost3.Since.Format("15:04:05.000"), crash.Format("15:04:05.000"), r7, epochs.String())
}
