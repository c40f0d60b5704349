package store

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/fakeclock"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/gateway/throttle"
)

// Limits of the Decide suite: one request per minute, so a second one is refused
// with a long wait; roomy never refuses.
var (
	onePerMinute = throttle.Limit{Rate: 1, Per: time.Minute, Burst: 1}
	roomy        = throttle.Limit{Rate: 1000, Per: time.Second, Burst: 1000}
)

func take(key string, l throttle.Limit) *throttle.Take { return &throttle.Take{Key: key, Limit: l} }

func nonce(v string) ReplayKey { return ReplayKey{Kind: "nonce", Value: []byte(v), TTL: time.Minute} }

func decide(t *testing.T, s Store, req Request) Decision {
	t.Helper()
	d, err := s.Decide(context.Background(), req)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

func wantDecision(t *testing.T, s Store, req Request, want Refusal) Decision {
	t.Helper()
	d := decide(t, s, req)
	if d.Refusal != want {
		t.Fatalf("Decide = %v (%+v), want %v", d.Refusal, d, want)
	}
	return d
}

// runDecideConformance is the Decide part of the suite every Store must pass.
func runDecideConformance(t *testing.T, newStore func(t *testing.T, p LockoutPolicy) Store) {
	t.Run("a freshness that began before the store's data is refused", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		now := clockFor(s).Now()
		old := nonce("before")
		old.Since = now.Add(-time.Hour)
		bare := ReplayKey{Kind: "msgid", Value: []byte("no freshness of its own"), TTL: time.Minute}
		d := wantDecision(t, s, Request{Keys: []ReplayKey{old, bare}}, Recovered)
		if fmt.Sprint(d.Stale) != "[true true]" || d.Began.IsZero() || !d.Began.After(old.Since) {
			t.Errorf("stale %v, began %v", d.Stale, d.Began)
		}
		// Nothing was recorded: the same values with a later freshness pass.
		old.Since, bare.Since = now.Add(2*time.Second), time.Time{}
		wantDecision(t, s, Request{Keys: []ReplayKey{old, bare}}, Admitted)
		// A request that states no freshness at all is not refused for it.
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("none")}}, Admitted)
		// The caller's charge and the lockout come first, as before a replay.
		stale := nonce("stale")
		stale.Since = now.Add(-time.Hour)
		wantDecision(t, s, Request{CallerRate: take("caller:recovered", onePerMinute), Keys: []ReplayKey{stale}}, Recovered)
		wantDecision(t, s, Request{CallerRate: take("caller:recovered", onePerMinute)}, CallerLimited)
	})
	t.Run("admits once, then a replay", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		req := Request{Attempt: via(alice, portal), Keys: []ReplayKey{nonce("a"), {Kind: "sig", Value: []byte("b"), TTL: time.Minute}},
			Tokens: []TokenRef{{"https://sts", "_t"}}, CallerRate: take("caller:p", roomy), SubjectRate: take("subject:alice", roomy)}
		wantDecision(t, s, req, Admitted)
		d := wantDecision(t, s, req, Replayed)
		if fmt.Sprint(d.Seen) != "[true true]" {
			t.Errorf("seen %v", d.Seen)
		}
		// Decide records as Remember does: the same keys are seen there too.
		wantSeen(t, s, req.Keys, true, true)
		// A request without keys or limits is admitted and records nothing.
		wantDecision(t, s, Request{}, Admitted)
	})

	t.Run("partial replay admits nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("old")}}, Admitted)
		d := wantDecision(t, s, Request{Keys: []ReplayKey{nonce("new"), nonce("old"), nonce("newer")}}, Replayed)
		if fmt.Sprint(d.Seen) != "[false true false]" {
			t.Errorf("seen %v", d.Seen)
		}
		// The refused request's new keys were not recorded.
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("new"), nonce("newer")}}, Admitted)
	})

	t.Run("a key twice in one request is a replay and admits nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		d := wantDecision(t, s, Request{Keys: []ReplayKey{nonce("x"), nonce("twice"), nonce("twice")}}, Replayed)
		if fmt.Sprint(d.Seen) != "[false false true]" {
			t.Errorf("seen %v", d.Seen)
		}
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("x"), nonce("twice")}}, Admitted)
	})

	t.Run("caller over its limit: nothing else is charged or recorded", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		wantDecision(t, s, Request{CallerRate: take("caller:p", onePerMinute)}, Admitted)
		d := wantDecision(t, s, Request{CallerRate: take("caller:p", onePerMinute), Keys: []ReplayKey{nonce("k")},
			SubjectRate: take("subject:s", onePerMinute)}, CallerLimited)
		if d.RetryAfter < 50*time.Second || d.RetryAfter > time.Minute {
			t.Errorf("retry after %s, want about a minute", d.RetryAfter)
		}
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("k")}, SubjectRate: take("subject:s", onePerMinute)}, Admitted)
	})

	t.Run("subject over its limit: no key recorded, caller charged", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		wantDecision(t, s, Request{SubjectRate: take("subject:s", onePerMinute)}, Admitted)
		d := wantDecision(t, s, Request{CallerRate: take("caller:p", onePerMinute), Keys: []ReplayKey{nonce("k")},
			SubjectRate: take("subject:s", onePerMinute)}, SubjectLimited)
		if d.RetryAfter <= 0 || d.RetryAfter > time.Minute {
			t.Errorf("retry after %s", d.RetryAfter)
		}
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("k")}}, Admitted)
		wantDecision(t, s, Request{CallerRate: take("caller:p", onePerMinute)}, CallerLimited)
	})

	t.Run("locked out: no key recorded, no subject charged", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		failTimes(t, s, fastPolicy.Threshold, alice)
		before := clockFor(s).Now()
		d := wantDecision(t, s, Request{Attempt: via(alice, portal), Keys: []ReplayKey{nonce("k")}, SubjectRate: take("subject:alice", onePerMinute)}, LockedOut)
		wantStanding(t, "Decide", d.Standing, true, false)
		if d.Standing.LockedUntil.After(before.Add(fastPolicy.BaseBackoff + slack)) {
			t.Errorf("locked until %v, more than the backoff", d.Standing.LockedUntil)
		}
		wantDecision(t, s, Request{Attempt: via(bob, portal), Keys: []ReplayKey{nonce("k")}, SubjectRate: take("subject:alice", onePerMinute)}, Admitted)
	})

	t.Run("throttled caller is locked out", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		for i := range fastPolicy.CallerThreshold {
			if _, err := s.Fail(context.Background(), via(Attempt{User: fmt.Sprint("u", i)}, portal)); err != nil {
				t.Fatal(err)
			}
		}
		d := wantDecision(t, s, Request{Attempt: via(alice, portal)}, LockedOut)
		wantStanding(t, "Decide", d.Standing, false, true)
	})

	t.Run("cancelled token: no key recorded", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		now := clockFor(s).Now()
		must(t, s.RecordToken(context.Background(), Token{Issuer: "https://sts", ID: "_c", Expires: now.Add(time.Minute), KeepUntil: now.Add(time.Minute)}))
		ok, err := s.CancelToken(context.Background(), "https://sts", "_c")
		if err != nil || !ok {
			t.Fatalf("CancelToken = %v, %v", ok, err)
		}
		d := wantDecision(t, s, Request{Keys: []ReplayKey{nonce("k")}, Tokens: []TokenRef{{"https://sts", "_live"}, {"https://sts", "_c"}},
			SubjectRate: take("subject:s", onePerMinute)}, TokenCancelled)
		if fmt.Sprint(d.Cancelled) != "[false true]" {
			t.Errorf("cancelled %v", d.Cancelled)
		}
		wantDecision(t, s, Request{Keys: []ReplayKey{nonce("k")}, SubjectRate: take("subject:s", onePerMinute)}, Admitted)
	})

	t.Run("replay keys expire after their TTL", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		k := []ReplayKey{{Kind: "nonce", Value: []byte("short"), TTL: 300 * time.Millisecond}}
		wantDecision(t, s, Request{Keys: k}, Admitted)
		wantDecision(t, s, Request{Keys: k}, Replayed)
		clockFor(s).Sleep(600 * time.Millisecond)
		wantDecision(t, s, Request{Keys: k}, Admitted)
	})

	t.Run("invalid requests are errors and record nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		good := nonce("good")
		for name, req := range map[string]Request{
			"ttl":        {Keys: []ReplayKey{good, {Kind: "nonce", Value: []byte("v"), TTL: 0}}},
			"kind":       {Keys: []ReplayKey{good, {Kind: "a:b", Value: []byte("v"), TTL: time.Minute}}},
			"token":      {Keys: []ReplayKey{good}, Tokens: []TokenRef{{"", "x"}}},
			"empty take": {Keys: []ReplayKey{good}, SubjectRate: take("", roomy)},
			"bad limit":  {Keys: []ReplayKey{good}, CallerRate: take("c", throttle.Limit{})},
		} {
			if d, err := s.Decide(context.Background(), req); err == nil {
				t.Errorf("%s: %+v and no error", name, d)
			}
		}
		wantDecision(t, s, Request{Keys: []ReplayKey{good}}, Admitted)
	})
}

func TestMemoryDecideConformance(t *testing.T) {
	runDecideConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		clk := fakeclock.New()
		m := NewMemory(p, clk.Now)
		t.Cleanup(func() { m.Close() })
		return fakeTimedMemory{m, clk}
	})
}

func TestRedisDecideConformance(t *testing.T) {
	addr := os.Getenv("GATEHOUSE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = redistest.Start(t).Addr
	}
	runDecideConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		return newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: randomPrefix()}, p)
	})
}

// TestRedisClusterDecideConformance: on Cluster the keys of one request are in
// different slots (each replay key in its value's); the one-node Cluster refuses a
// script over several slots, so Decide must not send one.
func TestRedisClusterDecideConformance(t *testing.T) {
	srv := redistest.StartCluster(t)
	runDecideConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		return newTestRedis(t, RedisOptions{Addrs: srv.ClusterAddrs(), Prefix: randomPrefix()}, p)
	})
}
