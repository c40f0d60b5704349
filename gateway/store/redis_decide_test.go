package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/gateway/throttle"
)

// fullRequest is a request with everything: both rate limits, a user and a
// caller, three replay keys and a presented token.
func fullRequest(tag string) Request {
	return Request{
		CallerRate:  take("caller:"+portal, roomy),
		Attempt:     via(alice, portal),
		Keys:        []ReplayKey{nonce(tag + "-nonce"), {Kind: "sig", Value: []byte(tag + "-sig"), TTL: time.Minute}, {Kind: "assertion", Value: []byte(tag + "-id"), TTL: time.Minute}},
		Tokens:      []TokenRef{{"https://sts", "_" + tag}},
		SubjectRate: take("subject:alice", roomy),
	}
}

// roundTrips is what a hook counted: single commands plus pipelines, each one
// network round trip.
func roundTrips(h *countHook) int64 {
	single, pipes, _ := h.take()
	return single + pipes
}

// wantOneRoundTrip checks that Decide of a full request costs one round trip
// on a standalone or Sentinel store, admitted or refused, and after SCRIPT
// FLUSH works again through EVAL.
func wantOneRoundTrip(t *testing.T, s *Redis, admin *redis.Client) {
	t.Helper()
	hook := &countHook{}
	s.client.AddHook(hook)
	ctx := context.Background()

	// Warm up: the first call dials (the handshake runs through the hooks too)
	// and loads the script (EVALSHA answered NOSCRIPT, then EVAL).
	wantDecision(t, s, fullRequest("warm-up"), Admitted)
	hook.take()

	wantDecision(t, s, fullRequest("r1"), Admitted)
	if n := roundTrips(hook); n != 1 {
		t.Errorf("admitted request: %d round trips, want 1", n)
	}
	wantDecision(t, s, fullRequest("r1"), Replayed)
	if n := roundTrips(hook); n != 1 {
		t.Errorf("replayed request: %d round trips, want 1", n)
	}

	// After SCRIPT FLUSH the script is sent again (EVALSHA, NOSCRIPT, EVAL),
	// and the decision is still made once.
	if err := admin.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, s, fullRequest("r2"), Admitted)
	if n := roundTrips(hook); n != 2 {
		t.Errorf("request after SCRIPT FLUSH: %d round trips, want 2 (EVALSHA, EVAL)", n)
	}
	wantDecision(t, s, fullRequest("r2"), Replayed)
	wantDecision(t, s, fullRequest("r3"), Admitted)
	if n := roundTrips(hook); n != 2 {
		t.Errorf("two requests after the reload: %d round trips, want 2", n)
	}
}

func TestRedisDecideOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t) // private: the test flushes the script cache
	s := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}}, fastPolicy)
	wantOneRoundTrip(t, s, srv.Admin())
}

func TestRedisSentinelDecideOneRoundTrip(t *testing.T) {
	master, sentinel := redistest.StartSentinel(t)
	s := newTestRedis(t, RedisOptions{Addrs: []string{sentinel.Addr}, MasterName: redistest.SentinelMaster}, fastPolicy)
	if _, ok := s.client.(*redis.Client); !ok {
		t.Fatalf("client is %T, want the failover *redis.Client", s.client)
	}
	wantOneRoundTrip(t, s, master.Admin())
	// The state really is on the master.
	if n, err := master.Admin().Exists(context.Background(), replayKeyName(s.prefix, "nonce", []byte("r1-nonce"))).Result(); err != nil || n != 1 {
		t.Errorf("replay key on the master: %d, %v", n, err)
	}
}

// TestRedisClusterDecideRoundTrips counts round trips per node on Cluster, where the
// keys of one request live in different slots: two pipelines for an admitted
// request, one for a request refused by a read.
func TestRedisClusterDecideRoundTrips(t *testing.T) {
	srv := redistest.StartCluster(t)
	s := newTestRedis(t, RedisOptions{Addrs: srv.ClusterAddrs()}, fastPolicy)
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", s.client)
	}
	hook := &countHook{}
	cc.OnNewNode(func(c *redis.Client) { c.AddHook(hook) })

	req := fullRequest("warm-up")
	slots := map[int64]bool{}
	for _, k := range req.Keys {
		slot, err := cc.ClusterKeySlot(context.Background(), replayKeyName(s.prefix, k.Kind, k.Value)).Result()
		must(t, err)
		slots[slot] = true
	}
	if len(slots) != len(req.Keys) {
		t.Fatalf("the request's replay keys share slots %v; the test needs them apart", slots)
	}
	wantDecision(t, s, req, Admitted)
	hook.take()

	wantDecision(t, s, fullRequest("c1"), Admitted)
	if n := roundTrips(hook); n != 2 {
		t.Errorf("admitted request: %d round trips, want 2", n)
	}
	wantDecision(t, s, fullRequest("c1"), Replayed)
	if n := roundTrips(hook); n != 1 {
		t.Errorf("replayed request: %d round trips, want 1", n)
	}
	if err := srv.Admin().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	wantDecision(t, s, fullRequest("c2"), Admitted)
	wantDecision(t, s, fullRequest("c2"), Replayed)
}

// TestRedisDecideSharesState: two gateways on one Redis see each other's replay
// keys through Decide, and Decide charges the same budgets as throttle's Redis
// limiter (an upgraded instance and an old one share them).
func TestRedisDecideSharesState(t *testing.T) {
	for _, topology := range []string{"standalone", "cluster"} {
		t.Run(topology, func(t *testing.T) {
			var addrs []string
			if topology == "cluster" {
				addrs = redistest.StartCluster(t).ClusterAddrs()
			} else {
				addrs = []string{redistest.SharedAddr(t)}
			}
			prefix := randomPrefix()
			a := newTestRedis(t, RedisOptions{Addrs: addrs, Prefix: prefix}, fastPolicy)
			b := newTestRedis(t, RedisOptions{Addrs: addrs, Prefix: prefix}, fastPolicy)

			wantDecision(t, a, fullRequest("shared"), Admitted)
			wantDecision(t, b, fullRequest("shared"), Replayed)
			wantDecision(t, b, Request{Keys: []ReplayKey{nonce("shared-nonce")}}, Replayed)

			lim := throttle.NewRedisLimiter(a.Client(), prefix, 2*time.Second)
			res, err := lim.Allow(context.Background(), throttle.Take{Key: "caller:x", Limit: onePerMinute})
			if err != nil || !res.Allowed {
				t.Fatalf("limiter: %+v, %v", res, err)
			}
			wantDecision(t, b, Request{CallerRate: take("caller:x", onePerMinute)}, CallerLimited)
			wantDecision(t, b, Request{SubjectRate: take("subject:y", onePerMinute)}, Admitted)
			if res, err := lim.Allow(context.Background(), throttle.Take{Key: "subject:y", Limit: onePerMinute}); err != nil || res.Allowed {
				t.Fatalf("limiter after Decide charged the subject: %+v, %v", res, err)
			}

			for i := 1; i < fastPolicy.Threshold; i++ {
				wantFail(t, a, alice, false, false)
			}
			wantFail(t, a, alice, true, false)
			wantDecision(t, b, Request{Attempt: alice, Keys: []ReplayKey{nonce("locked")}}, LockedOut)
			wantDecision(t, a, Request{Keys: []ReplayKey{nonce("locked")}}, Admitted)
		})
	}
}

// TestRedisDecideRetryAfterMatchesLimiter: the wait Decide reports is the one
// throttle's limiter reports for the same budget.
func TestRedisDecideRetryAfterMatchesLimiter(t *testing.T) {
	prefix := randomPrefix()
	s := newTestRedis(t, RedisOptions{Addrs: []string{redistest.SharedAddr(t)}, Prefix: prefix}, fastPolicy)
	lim := throttle.NewRedisLimiter(s.Client(), prefix, 2*time.Second)
	l := throttle.Limit{Rate: 2, Per: 10 * time.Second, Burst: 2}
	wantDecision(t, s, Request{CallerRate: take("k", l)}, Admitted)
	wantDecision(t, s, Request{CallerRate: take("k", l)}, Admitted)
	d := wantDecision(t, s, Request{CallerRate: take("k", l)}, CallerLimited)
	res, err := lim.Allow(context.Background(), throttle.Take{Key: "k", Limit: l})
	if err != nil || res.Allowed {
		t.Fatalf("limiter: %+v, %v", res, err)
	}
	if diff := d.RetryAfter - res.RetryAfter; diff < -500*time.Millisecond || diff > 500*time.Millisecond {
		t.Errorf("Decide waits %s, the limiter %s", d.RetryAfter, res.RetryAfter)
	}
	if d.RetryAfter < 4*time.Second || d.RetryAfter > 5*time.Second {
		t.Errorf("retry after %s, want about 5s", d.RetryAfter)
	}
}

// BenchmarkRedisRequest compares, against one real redis-server, what one
// request's shared state costs: the calls a request made before Decide (caller
// Allow, Check, Admit, subject Allow: four round trips) and one Decide of the same
// request (one round trip). Every op does both, each for a fresh request (new
// replay keys, admitted), timed apart: seq-ns/op and decide-ns/op, and
// x-sequence = decide / sequence, the ratio within the same run.
func BenchmarkRedisRequest(b *testing.B) {
	srv := redistest.Start(b)
	s := newTestRedis(b, RedisOptions{Addrs: []string{srv.Addr}, Prefix: randomPrefix()}, fastPolicy)
	lim := throttle.NewRedisLimiter(s.Client(), s.prefix, 2*time.Second)
	ctx := context.Background()
	generous := throttle.Limit{Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}
	var n int
	request := func() Request {
		n++ // every request has keys of its own
		r := fullRequest(fmt.Sprint("bench-", n))
		r.CallerRate.Limit, r.SubjectRate.Limit = generous, generous
		return r
	}
	sequence := func(req Request) {
		if res, err := lim.Allow(ctx, *req.CallerRate); err != nil || !res.Allowed {
			b.Fatal(res, err)
		}
		if st, err := s.Check(ctx, req.Attempt); err != nil || st.Locked() {
			b.Fatal(st, err)
		}
		if _, _, err := s.Admit(ctx, req.Keys, req.Tokens); err != nil {
			b.Fatal(err)
		}
		if res, err := lim.Allow(ctx, *req.SubjectRate); err != nil || !res.Allowed {
			b.Fatal(res, err)
		}
	}
	sequence(request()) // load the scripts
	if _, err := s.Decide(ctx, request()); err != nil {
		b.Fatal(err)
	}
	var seq, dec time.Duration
	for b.Loop() {
		req := request()
		start := time.Now()
		sequence(req)
		seq += time.Since(start)

		req = request()
		start = time.Now()
		d, err := s.Decide(ctx, req)
		dec += time.Since(start)
		if err != nil || d.Refusal != Admitted {
			b.Fatal(d, err)
		}
	}
	b.ReportMetric(float64(seq.Nanoseconds())/float64(b.N), "seq-ns/op")
	b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N), "decide-ns/op")
	b.ReportMetric(float64(dec)/float64(seq), "x-sequence")
}

// TestRedisEpochRefusesAfterDataLoss: a Redis that loses its data (FLUSHALL
// here, a restart without persistence in the binary's test) forgets the
// replay keys; the next round trip finds the epoch gone, writes a new one,
// and every value whose freshness began before it is refused — by the
// instance that saw the change and by one that starts afterwards — while
// what is fresher is admitted.
func TestRedisEpochRefusesAfterDataLoss(t *testing.T) {
	srv := redistest.Start(t) // private: the test flushes it
	var changes []EpochChange
	a := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, OnEpochChange: func(c EpochChange) { changes = append(changes, c) }}, fastPolicy)
	signed := time.Now()
	key := ReplayKey{Kind: "sig", Value: []byte("accepted before the loss"), TTL: time.Minute, Since: signed}
	wantDecision(t, a, Request{Keys: []ReplayKey{key}}, Admitted)
	wantDecision(t, a, Request{Keys: []ReplayKey{key}}, Replayed)
	if len(changes) != 0 {
		t.Fatalf("epoch changes before the loss: %+v", changes)
	}

	time.Sleep(time.Until(signed.Truncate(time.Second).Add(time.Second))) // the loss comes a second later
	must(t, srv.Admin().FlushAll(context.Background()).Err())
	d := wantDecision(t, a, Request{Keys: []ReplayKey{key}}, Recovered)
	if len(changes) != 1 || changes[0].Began.Unix() <= signed.Unix() || d.Began != changes[0].Began {
		t.Fatalf("changes %+v, decision %+v", changes, d)
	}
	b := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}}, fastPolicy)
	wantDecision(t, b, Request{Keys: []ReplayKey{key}}, Recovered)

	fresh := ReplayKey{Kind: "sig", Value: []byte("after"), TTL: time.Minute, Since: changes[0].Began.Add(time.Second)}
	wantDecision(t, b, Request{Keys: []ReplayKey{fresh}}, Admitted)
	wantDecision(t, a, Request{Keys: []ReplayKey{fresh}}, Replayed)
	if len(changes) != 1 {
		t.Errorf("epoch changes: %+v", changes)
	}
}

// TestRedisClusterEpoch: the same on Cluster, where the epoch is read in the
// first pipeline.
func TestRedisClusterEpoch(t *testing.T) {
	srv := redistest.StartCluster(t)
	s := newTestRedis(t, RedisOptions{Addrs: srv.ClusterAddrs()}, fastPolicy)
	signed := time.Now()
	key := ReplayKey{Kind: "sig", Value: []byte("cluster"), TTL: time.Minute, Since: signed}
	wantDecision(t, s, Request{Keys: []ReplayKey{key}}, Admitted)
	time.Sleep(time.Until(signed.Truncate(time.Second).Add(time.Second)))
	must(t, srv.Admin().FlushAll(context.Background()).Err())
	wantDecision(t, s, Request{Keys: []ReplayKey{key}}, Recovered)
}

// TestRedisRestartFromSnapshotRefusesLostKeys: a Redis that persists by
// snapshots restarts from its last one, which holds the epoch but not the
// replay key written after it. The epoch key alone would not show the
// loss; the new connection's INFO does (the server's uptime, and here
// also its new replication ID: TestEpochServer takes them one by one).
func TestRedisRestartFromSnapshotRefusesLostKeys(t *testing.T) {
	srv := redistest.Start(t) // private: the test restarts it
	var changes []EpochChange
	s := newTestRedis(t, RedisOptions{Addrs: []string{srv.Addr}, OnEpochChange: func(c EpochChange) { changes = append(changes, c) }}, fastPolicy)
	signed := time.Now()
	saved := ReplayKey{Kind: "sig", Value: []byte("in the snapshot"), TTL: time.Minute, Since: signed}
	lost := ReplayKey{Kind: "sig", Value: []byte("after the snapshot"), TTL: time.Minute, Since: signed}
	wantDecision(t, s, Request{Keys: []ReplayKey{saved}}, Admitted)
	must(t, srv.Admin().Save(context.Background()).Err())
	wantDecision(t, s, Request{Keys: []ReplayKey{lost}}, Admitted)

	time.Sleep(time.Until(signed.Truncate(time.Second).Add(time.Second)))
	srv.Stop()
	srv.Restart()
	admin := srv.Admin()
	if n, err := admin.Exists(context.Background(), s.epochKey(), replayKeyName(s.prefix, saved.Kind, saved.Value)).Result(); err != nil || n != 2 {
		t.Fatalf("the snapshot did not keep the epoch and the saved key: %d %v", n, err)
	}
	d := wantDecision(t, s, Request{Keys: []ReplayKey{lost}}, Recovered)
	if len(changes) == 0 || !strings.Contains(changes[0].Why, "Redis") || d.Began.Unix() <= signed.Unix() {
		t.Errorf("changes %+v, decision %+v", changes, d)
	}
	fresh := ReplayKey{Kind: "sig", Value: []byte("after the restart"), TTL: time.Minute, Since: time.Now().Add(time.Second)}
	wantDecision(t, s, Request{Keys: []ReplayKey{fresh}}, Admitted)
}

func TestInfoFields(t *testing.T) {
	up, run, id, role := infoFields("# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\nuptime_in_seconds:42\r\n\r\n# Replication\r\nrole:master\r\nmaster_replid:0123abcd\r\n")
	if up != 42*time.Second || run != "abc" || id != "0123abcd" || role != "master" {
		t.Errorf("infoFields = %v %q %q %q", up, run, id, role)
	}
	if up, _, _, _ := infoFields("# Server\r\n"); up != -1 {
		t.Errorf("uptime without the field = %v, want -1", up)
	}
}

// TestEpochServer: what a new connection's INFO tells the epoch.
func TestEpochServer(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var changes []EpochChange
	e := &epoch{started: t0, onChange: func(c EpochChange) { changes = append(changes, c) }}
	if e.observe("g1 1799990000"); len(changes) != 0 {
		t.Fatalf("first epoch reported: %+v", changes)
	}
	// A server up for a day: the data began with the epoch, written
	// after that start.
	if e.server(t0.Add(time.Minute), 24*time.Hour, "run1", "r1") || len(changes) != 0 {
		t.Fatalf("first connection: %+v", changes)
	}
	if _, began := e.load(); !began.Equal(time.Unix(1_799_990_000, 0)) {
		t.Errorf("began %v", began)
	}
	// Another connection a little later: the whole-second uptime moves
	// its start by less than the jitter.
	if e.server(t0.Add(time.Minute+1500*time.Millisecond), 24*time.Hour, "run1", "r1") || len(changes) != 0 {
		t.Fatalf("same server: %+v", changes)
	}
	// The server restarted (from its snapshot: the same replication ID).
	restart := t0.Add(2*time.Minute + 300*time.Millisecond)
	if e.server(restart.Add(3*time.Second), 3*time.Second, "run2", "r1") || len(changes) != 1 || !strings.Contains(changes[0].Why, "restarted") {
		t.Fatalf("restart: %+v", changes)
	}
	// Dated to the end of its second: what was lost in that second too.
	if _, began := e.load(); !began.Equal(t0.Add(2*time.Minute + time.Second)) {
		t.Errorf("began %v after the restart at %v", began, restart)
	}
	// It restarted again within the uptime's jitter (a crash loop): its
	// run ID tells.
	again := t0.Add(2*time.Minute + 1500*time.Millisecond)
	if e.server(again.Add(time.Second), time.Second, "run3", "r1"); len(changes) != 2 || !strings.Contains(changes[1].Why, "restarted") {
		t.Fatalf("crash loop: %+v", changes)
	}
	changes = changes[:1]
	// A failover to a replica up for days: a new replication ID, dated
	// when it is seen; the caller writes a new epoch.
	seen := t0.Add(5*time.Minute + 200*time.Millisecond)
	if !e.server(seen, 72*time.Hour, "run4", "r2") || len(changes) != 2 || !strings.Contains(changes[1].Why, "replication ID") {
		t.Fatalf("failover: %+v", changes)
	}
	if _, began := e.load(); !began.Equal(t0.Add(5*time.Minute + time.Second)) {
		t.Errorf("began %v after the failover seen at %v", began, seen)
	}
	// Cluster watches no run or replication ID.
	if e.server(seen.Add(time.Second), 72*time.Hour, "", "") || len(changes) != 2 {
		t.Errorf("no replication ID: %+v", changes)
	}
}
