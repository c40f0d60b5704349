package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/fakeclock"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// testClock lets the suite wait for expiry: stores under test that embed a fake clock
// implement it and move time forward instantly; others (Redis) really sleep.
type testClock interface {
	Now() time.Time
	Sleep(d time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

func clockFor(s Store) testClock {
	if c, ok := s.(testClock); ok {
		return c
	}
	return realClock{}
}

// slack is how far a store's "until" may lag the exact value: Redis reports the
// remaining TTL measured on the server, a network hop before the gateway reads it.
const slack = 150 * time.Millisecond

// Policies of the suite. Durations are short enough for a real Redis and long enough
// to be unambiguous under -race on a busy machine.
var (
	fastPolicy = LockoutPolicy{Threshold: 3, Window: time.Minute, BaseBackoff: 300 * time.Millisecond, MaxBackoff: 1200 * time.Millisecond}
	calmPolicy = LockoutPolicy{Threshold: 2, Window: time.Minute, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
)

// runConformance is the suite every Store implementation must pass.
func runConformance(t *testing.T, newStore func(t *testing.T, p LockoutPolicy) Store) {
	ctx := context.Background()

	t.Run("first sighting is new, second is a replay", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		k := []ReplayKey{{Kind: "nonce", Value: []byte("n-1"), TTL: time.Minute}}
		wantSeen(t, s, k, false)
		wantSeen(t, s, k, true)
		wantSeen(t, s, k, true)
	})

	t.Run("batch reports each key", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		wantSeen(t, s, []ReplayKey{
			{Kind: "nonce", Value: []byte("a"), TTL: time.Minute},
			{Kind: "sig", Value: []byte("b"), TTL: time.Minute},
		}, false, false)
		wantSeen(t, s, []ReplayKey{
			{Kind: "msgid", Value: []byte("c"), TTL: time.Minute}, // new
			{Kind: "nonce", Value: []byte("a"), TTL: time.Minute}, // seen
			{Kind: "assertion", Value: []byte("d"), TTL: time.Minute},
			{Kind: "sig", Value: []byte("b"), TTL: time.Minute},
			{Kind: "msgid", Value: []byte("c"), TTL: time.Minute}, // same request, second time
		}, false, true, false, true, true)
	})

	t.Run("kind separates values", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		v := []byte("same bytes")
		wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: v, TTL: time.Minute}}, false)
		wantSeen(t, s, []ReplayKey{{Kind: "sig", Value: v, TTL: time.Minute}}, false)
		wantSeen(t, s, []ReplayKey{{Kind: "nonce", Value: v, TTL: time.Minute}, {Kind: "sig", Value: v, TTL: time.Minute}}, true, true)
	})

	t.Run("binary and empty values", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		k := []ReplayKey{
			{Kind: "nonce", Value: []byte{0, '{', '}', '\r', '\n', 0xff}, TTL: time.Minute},
			{Kind: "nonce", Value: nil, TTL: time.Minute},
		}
		wantSeen(t, s, k, false, false)
		wantSeen(t, s, k, true, true)
	})

	t.Run("replay key expires after its TTL", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		short := []ReplayKey{{Kind: "nonce", Value: []byte("short"), TTL: 300 * time.Millisecond}}
		long := []ReplayKey{{Kind: "nonce", Value: []byte("long"), TTL: time.Minute}}
		wantSeen(t, s, short, false)
		wantSeen(t, s, long, false)
		clk.Sleep(100 * time.Millisecond)
		wantSeen(t, s, short, true) // a replay does not extend the TTL
		clk.Sleep(600 * time.Millisecond)
		wantSeen(t, s, short, false)
		wantSeen(t, s, long, true)
		wantSeen(t, s, short, true) // remembered again
	})

	t.Run("TTL not positive is an error and records nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		good := ReplayKey{Kind: "nonce", Value: []byte("good"), TTL: time.Minute}
		for _, ttl := range []time.Duration{0, -time.Second} {
			seen, err := s.Remember(ctx, []ReplayKey{good, {Kind: "nonce", Value: []byte("bad"), TTL: ttl}})
			if err == nil {
				t.Fatalf("TTL %s: got seen=%v and no error", ttl, seen)
			}
		}
		wantSeen(t, s, []ReplayKey{good}, false)
	})

	t.Run("kind must be named", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		for _, kind := range []string{"", "no:colons", "no{tags}", "sp ace"} {
			if _, err := s.Remember(ctx, []ReplayKey{{Kind: kind, Value: []byte("v"), TTL: time.Minute}}); err == nil {
				t.Errorf("kind %q: no error", kind)
			}
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		seen, err := s.Remember(ctx, nil)
		if err != nil || len(seen) != 0 {
			t.Fatalf("Remember(nil) = %v, %v; want [], nil", seen, err)
		}
		if locked, _, err := s.Locked(ctx); locked || err != nil {
			t.Fatalf("Locked() = %v, %v; want false, nil", locked, err)
		}
		if locked, _, err := s.Fail(ctx); locked || err != nil {
			t.Fatalf("Fail() = %v, %v; want false, nil", locked, err)
		}
	})

	t.Run("token record round trip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		now := clockFor(s).Now().Truncate(time.Millisecond)
		tok := Token{Issuer: "https://sts", ID: "_a1", Owner: "user:alice", Workload: "spiffe://w", Subject: "alice@example.com",
			Expires: now.Add(time.Minute), KeepUntil: now.Add(2 * time.Minute)}
		if _, ok, err := s.LookupToken(ctx, tok.Issuer, tok.ID); ok || err != nil {
			t.Fatalf("LookupToken before RecordToken = %v, %v", ok, err)
		}
		if ok, err := s.CancelToken(ctx, tok.Issuer, tok.ID); ok || err != nil {
			t.Fatalf("CancelToken of an unknown token = %v, %v; want false", ok, err)
		}
		if _, ok, _ := s.LookupToken(ctx, tok.Issuer, tok.ID); ok {
			t.Fatal("CancelToken of an unknown token created a record")
		}
		must(t, s.RecordToken(ctx, tok))
		got, ok, err := s.LookupToken(ctx, tok.Issuer, tok.ID)
		if err != nil || !ok || got.Owner != tok.Owner || got.Workload != tok.Workload || got.Subject != tok.Subject ||
			!got.Expires.Equal(tok.Expires) || !got.KeepUntil.Equal(tok.KeepUntil) || got.Cancelled {
			t.Fatalf("LookupToken = %+v, %v, %v; want %+v", got, ok, err, tok)
		}
		// The issuer is part of the name: the same ID of another issuer is another token.
		if _, ok, _ := s.LookupToken(ctx, "https://other", tok.ID); ok {
			t.Fatal("a token is found under another issuer")
		}
		if _, ok, _ := s.LookupToken(ctx, tok.Issuer+"\x00"+tok.ID, ""); ok {
			t.Fatal("a token is found by a shifted separator")
		}
	})

	t.Run("cancelled token is refused by Admit in the replay batch", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		now := clockFor(s).Now()
		a := Token{Issuer: "https://sts", ID: "_a", Expires: now.Add(time.Minute), KeepUntil: now.Add(time.Minute)}
		b := Token{Issuer: "https://sts", ID: "_b", Expires: now.Add(time.Minute), KeepUntil: now.Add(time.Minute)}
		must(t, s.RecordToken(ctx, a))
		must(t, s.RecordToken(ctx, b))
		refs := []TokenRef{{a.Issuer, a.ID}, {b.Issuer, b.ID}, {"https://sts", "_never-recorded"}}
		keys := []ReplayKey{{Kind: "nonce", Value: []byte("admit-1"), TTL: time.Minute}}
		wantAdmit(t, s, keys, refs, []bool{false}, []bool{false, false, false})
		if ok, err := s.CancelToken(ctx, a.Issuer, a.ID); !ok || err != nil {
			t.Fatalf("CancelToken = %v, %v", ok, err)
		}
		if got, _, _ := s.LookupToken(ctx, a.Issuer, a.ID); !got.Cancelled {
			t.Fatal("LookupToken does not report the cancellation")
		}
		wantAdmit(t, s, keys, refs, []bool{true}, []bool{true, false, false})
		wantAdmit(t, s, nil, refs[:1], []bool{}, []bool{true})
		wantAdmit(t, s, nil, nil, []bool{}, []bool{})
		if _, _, err := s.Admit(ctx, nil, []TokenRef{{"", "x"}}); err == nil {
			t.Error("Admit of a token without issuer: no error")
		}
	})

	t.Run("token record expires at KeepUntil", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		now := clk.Now()
		tok := Token{Issuer: "https://sts", ID: "_short", Expires: now.Add(200 * time.Millisecond), KeepUntil: now.Add(400 * time.Millisecond)}
		must(t, s.RecordToken(ctx, tok))
		if ok, err := s.CancelToken(ctx, tok.Issuer, tok.ID); !ok || err != nil {
			t.Fatalf("CancelToken = %v, %v", ok, err)
		}
		clk.Sleep(300 * time.Millisecond) // past Expires, not past KeepUntil: still cancelled
		wantAdmit(t, s, nil, []TokenRef{{tok.Issuer, tok.ID}}, []bool{}, []bool{true})
		clk.Sleep(400 * time.Millisecond)
		if _, ok, _ := s.LookupToken(ctx, tok.Issuer, tok.ID); ok {
			t.Fatal("token record outlives KeepUntil")
		}
		if err := s.RecordToken(ctx, Token{Issuer: "i", ID: "x", Expires: now.Add(time.Minute), KeepUntil: now}); err == nil {
			t.Error("RecordToken with KeepUntil before Expires: no error")
		}
	})

	t.Run("locks at threshold, not before", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, false, "user:alice")
			wantUnlocked(t, s, "user:alice")
		}
		before := clk.Now()
		until := wantFail(t, s, true, "user:alice")
		wantUntil(t, until, before, clk.Now(), fastPolicy.BaseBackoff)
		got := wantLocked(t, s, "user:alice")
		if got.Sub(until).Abs() > slack {
			t.Errorf("Locked until %v, Fail said %v", got, until)
		}
		wantUnlocked(t, s, "user:bob")
	})

	t.Run("threshold of one locks at once", func(t *testing.T) {
		t.Parallel()
		p := fastPolicy
		p.Threshold = 1
		s := newStore(t, p)
		wantFail(t, s, true, "user:alice")
	})

	t.Run("Locked checks every subject", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		failTimes(t, s, fastPolicy.Threshold, "user:alice")
		wantLocked(t, s, "caller:spiffe://example.org/app", "user:alice")
		wantLocked(t, s, "user:alice", "caller:spiffe://example.org/app")
		wantUnlocked(t, s, "caller:spiffe://example.org/app", "user:bob")
	})

	t.Run("Fail counts each subject", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		caller := "caller:spiffe://example.org/app"
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, false, "user:alice", caller)
		}
		wantFail(t, s, false, "user:bob") // bob's first failure
		wantFail(t, s, true, "user:bob", caller)
		wantLocked(t, s, caller)
		wantUnlocked(t, s, "user:alice", "user:bob") // two failures each
		wantFail(t, s, true, "user:alice")
		wantLocked(t, s, "user:alice")
	})

	t.Run("a subject named twice counts once", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		wantFail(t, s, false, "user:alice", "user:alice", "user:alice")
		wantUnlocked(t, s, "user:alice")
	})

	t.Run("empty subject is an error", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		if _, _, err := s.Fail(ctx, "user:alice", ""); err == nil {
			t.Error("Fail with an empty subject: no error")
		}
		if _, _, err := s.Locked(ctx, ""); err == nil {
			t.Error("Locked with an empty subject: no error")
		}
	})

	t.Run("releases after backoff and counts afresh", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		failTimes(t, s, fastPolicy.Threshold, "user:alice")
		wantLocked(t, s, "user:alice")
		clk.Sleep(fastPolicy.BaseBackoff + slack)
		wantUnlocked(t, s, "user:alice")
		// The lockout restarted the counter: Threshold-1 new failures do not lock.
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, false, "user:alice")
		}
		wantUnlocked(t, s, "user:alice")
	})

	t.Run("failures while locked neither count nor extend", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		until := failTimes(t, s, fastPolicy.Threshold, "user:alice")
		for range 2 * fastPolicy.Threshold {
			again := wantFail(t, s, true, "user:alice")
			if again.Sub(until).Abs() > slack {
				t.Fatalf("a failure while locked moved the end from %v to %v", until, again)
			}
		}
		clk.Sleep(fastPolicy.BaseBackoff + slack)
		wantUnlocked(t, s, "user:alice")
		wantFail(t, s, false, "user:alice")
	})

	t.Run("backoff doubles per lockout up to the maximum", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		for _, want := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond, 1200 * time.Millisecond} {
			for i := 1; i < fastPolicy.Threshold; i++ {
				wantFail(t, s, false, "user:alice")
			}
			before := clk.Now()
			until := wantFail(t, s, true, "user:alice")
			wantUntil(t, until, before, clk.Now(), want)
			clk.Sleep(want + slack)
			wantUnlocked(t, s, "user:alice")
		}
	})

	t.Run("failure counter expires with the window", func(t *testing.T) {
		t.Parallel()
		p := fastPolicy
		p.Window = 400 * time.Millisecond
		s := newStore(t, p)
		clk := clockFor(s)
		for i := 1; i < p.Threshold; i++ {
			wantFail(t, s, false, "user:alice")
		}
		clk.Sleep(p.Window + slack)
		for i := 1; i < p.Threshold; i++ {
			wantFail(t, s, false, "user:alice")
		}
		wantFail(t, s, true, "user:alice")
	})

	t.Run("lockout level is forgotten after calm", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, calmPolicy)
		clk := clockFor(s)
		lock := func(want time.Duration) {
			t.Helper()
			wantFail(t, s, false, "user:alice")
			before := clk.Now()
			until := wantFail(t, s, true, "user:alice")
			wantUntil(t, until, before, clk.Now(), want)
			clk.Sleep(want)
		}
		lock(100 * time.Millisecond)
		clk.Sleep(slack)
		lock(200 * time.Millisecond) // within calm: doubled
		clk.Sleep(calmFactor*calmPolicy.MaxBackoff + slack)
		lock(100 * time.Millisecond) // after calm: base again
	})

	t.Run("Locked and others' activity do not reset a counter", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, false, "user:alice")
		}
		// What a successful login looks like to the store: only Locked checks,
		// by alice's subject and by a third party's. There is no reset API.
		for range 5 {
			wantUnlocked(t, s, "user:alice")
			wantUnlocked(t, s, "user:bob", "caller:spiffe://example.org/app")
		}
		wantFail(t, s, false, "user:bob")
		wantFail(t, s, true, "user:alice")
	})

	t.Run("concurrent Remember of one key: exactly one is new", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		const n = 50
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				seen, err := s.Remember(ctx, []ReplayKey{{Kind: "nonce", Value: []byte("race"), TTL: time.Minute}})
				if err == nil {
					results[i] = seen[0]
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if !results[i] {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d of %d goroutines saw the key as new, want exactly 1", fresh, n)
		}
	})

	t.Run("concurrent failures are all counted", func(t *testing.T) {
		t.Parallel()
		p := fastPolicy
		p.Threshold = 40
		s := newStore(t, p)
		var wg sync.WaitGroup
		errs := make(chan error, p.Threshold)
		for range p.Threshold - 1 {
			wg.Go(func() {
				if _, _, err := s.Fail(ctx, "user:alice"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantUnlocked(t, s, "user:alice")
		wantFail(t, s, true, "user:alice")
	})

	t.Run("done context is an error", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		dead, cancel := context.WithCancel(ctx)
		cancel()
		k := []ReplayKey{{Kind: "nonce", Value: []byte("ctx"), TTL: time.Minute}}
		if seen, err := s.Remember(dead, k); err == nil {
			t.Errorf("Remember: seen=%v and no error", seen)
		}
		if _, _, err := s.Locked(dead, "user:alice"); err == nil {
			t.Error("Locked: no error")
		}
		if _, _, err := s.Fail(dead, "user:alice"); err == nil {
			t.Error("Fail: no error")
		}
		if err := s.Ping(dead); err == nil {
			t.Error("Ping: no error")
		}
		wantSeen(t, s, k, false) // the refused call recorded nothing
	})

	t.Run("closed store is an error", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := s.Remember(ctx, []ReplayKey{{Kind: "nonce", Value: []byte("x"), TTL: time.Minute}}); err == nil {
			t.Error("Remember after Close: no error")
		}
		if _, _, err := s.Locked(ctx, "user:alice"); err == nil {
			t.Error("Locked after Close: no error")
		}
		if _, _, err := s.Fail(ctx, "user:alice"); err == nil {
			t.Error("Fail after Close: no error")
		}
		if err := s.Ping(ctx); err == nil {
			t.Error("Ping after Close: no error")
		}
	})
}

func wantAdmit(t *testing.T, s Store, keys []ReplayKey, tokens []TokenRef, wantSeen, wantCancelled []bool) {
	t.Helper()
	seen, cancelled, err := s.Admit(context.Background(), keys, tokens)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(wantSeen) || fmt.Sprint(cancelled) != fmt.Sprint(wantCancelled) {
		t.Fatalf("Admit = seen %v cancelled %v; want %v %v", seen, cancelled, wantSeen, wantCancelled)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantSeen(t *testing.T, s Store, keys []ReplayKey, want ...bool) {
	t.Helper()
	got, err := s.Remember(context.Background(), keys)
	if err != nil {
		t.Fatalf("Remember: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Remember seen = %v, want %v", got, want)
	}
}

// wantFail calls Fail and checks whether it reports a lock; it returns the until.
func wantFail(t *testing.T, s Store, locked bool, subjects ...string) time.Time {
	t.Helper()
	got, until, err := s.Fail(context.Background(), subjects...)
	if err != nil {
		t.Fatalf("Fail(%q): %v", subjects, err)
	}
	if got != locked {
		t.Fatalf("Fail(%q) locked = %v, want %v", subjects, got, locked)
	}
	if locked == until.IsZero() {
		t.Fatalf("Fail(%q) = %v with until %v", subjects, got, until)
	}
	return until
}

// failTimes fails n times; the last call must lock.
func failTimes(t *testing.T, s Store, n int, subjects ...string) time.Time {
	t.Helper()
	for i := 1; i < n; i++ {
		wantFail(t, s, false, subjects...)
	}
	return wantFail(t, s, true, subjects...)
}

func wantLocked(t *testing.T, s Store, subjects ...string) time.Time {
	t.Helper()
	locked, until, err := s.Locked(context.Background(), subjects...)
	if err != nil {
		t.Fatalf("Locked(%q): %v", subjects, err)
	}
	if !locked || until.IsZero() {
		t.Fatalf("Locked(%q) = %v, %v; want locked", subjects, locked, until)
	}
	return until
}

func wantUnlocked(t *testing.T, s Store, subjects ...string) {
	t.Helper()
	locked, until, err := s.Locked(context.Background(), subjects...)
	if err != nil {
		t.Fatalf("Locked(%q): %v", subjects, err)
	}
	if locked || !until.IsZero() {
		t.Fatalf("Locked(%q) = %v, %v; want unlocked", subjects, locked, until)
	}
}

// wantUntil checks that a lock taken between before and after lasts backoff.
func wantUntil(t *testing.T, until, before, after time.Time, backoff time.Duration) {
	t.Helper()
	lo, hi := before.Add(backoff-slack), after.Add(backoff)
	if until.Before(lo) || until.After(hi) {
		t.Fatalf("locked until %v, want a backoff of %s (between %v and %v)", until, backoff, lo, hi)
	}
}

// fakeTimedMemory is a Memory whose time the suite controls.
type fakeTimedMemory struct {
	*Memory
	*fakeclock.Clock
}

func TestMemoryConformance(t *testing.T) {
	runConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		clk := fakeclock.New()
		m := NewMemory(p, clk.Now)
		t.Cleanup(func() { m.Close() })
		return fakeTimedMemory{m, clk}
	})
}

func TestRedisConformance(t *testing.T) {
	addr := os.Getenv("GATEHOUSE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = redistest.Start(t).Addr
	}
	runConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		return newTestRedis(t, RedisOptions{Addrs: []string{addr}, Prefix: randomPrefix()}, p)
	})
}

// TestRedisClusterConformance runs the suite through the Cluster client against a
// one-node Redis Cluster: the server enforces that each script's keys share a slot.
func TestRedisClusterConformance(t *testing.T) {
	srv := redistest.StartCluster(t)
	// The server really enforces slots: a script over two slots is refused.
	err := srv.Admin().Eval(context.Background(), "return 1", []string{"a", "b"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("script over two slots: %v, want CROSSSLOT", err)
	}
	r := newTestRedis(t, RedisOptions{Addrs: srv.ClusterAddrs()}, fastPolicy)
	if _, ok := r.client.(*redis.ClusterClient); !ok {
		t.Fatalf("client is %T, want *redis.ClusterClient", r.client)
	}
	runConformance(t, func(t *testing.T, p LockoutPolicy) Store {
		return newTestRedis(t, RedisOptions{Addrs: srv.ClusterAddrs(), Prefix: randomPrefix()}, p)
	})
}
