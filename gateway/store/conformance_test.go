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
	fastPolicy = LockoutPolicy{Threshold: 3, Window: time.Minute, BaseBackoff: 300 * time.Millisecond, MaxBackoff: 1200 * time.Millisecond,
		CallerThreshold: 6, CallerBackoff: 400 * time.Millisecond}
	calmPolicy = LockoutPolicy{Threshold: 2, Window: time.Minute, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		CallerThreshold: 4, CallerBackoff: 100 * time.Millisecond}
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
		if st, err := s.Check(ctx, Attempt{}); st != (Standing{}) || err != nil {
			t.Fatalf("Check(nobody) = %+v, %v; want the zero standing, nil", st, err)
		}
		if st, err := s.Fail(ctx, Attempt{}); st != (Standing{}) || err != nil {
			t.Fatalf("Fail(nobody) = %+v, %v; want the zero standing, nil", st, err)
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
			wantFail(t, s, alice, false, false)
			wantCheck(t, s, alice, false, false)
		}
		before := clk.Now()
		st := wantFail(t, s, alice, true, false)
		wantUntil(t, st.LockedUntil, before, clk.Now(), fastPolicy.BaseBackoff)
		got := wantCheck(t, s, alice, true, false)
		if got.LockedUntil.Sub(st.LockedUntil).Abs() > slack {
			t.Errorf("Check says locked until %v, Fail said %v", got.LockedUntil, st.LockedUntil)
		}
		wantCheck(t, s, bob, false, false)
	})

	t.Run("threshold of one locks at once", func(t *testing.T) {
		t.Parallel()
		p := fastPolicy
		p.Threshold = 1
		s := newStore(t, p)
		wantFail(t, s, alice, true, false)
	})

	// The portal: many users behind one workload. One user's lockout must not
	// lock the others out, nor the portal.
	t.Run("a user's lockout does not lock its caller", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		failTimes(t, s, fastPolicy.Threshold, via(alice, portal))
		wantCheck(t, s, via(alice, portal), true, false)
		wantCheck(t, s, via(bob, portal), false, false)
		wantCheck(t, s, Attempt{Caller: portal}, false, false)
		wantFail(t, s, via(bob, portal), false, false)
	})

	t.Run("a caller is throttled at its threshold, not before", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		user := func(i int) Attempt { return Attempt{User: fmt.Sprintf("user-%d", i), Caller: portal} }
		for i := 1; i < fastPolicy.CallerThreshold; i++ {
			wantFail(t, s, user(i), false, false) // one failure per user: nobody locked
		}
		wantCheck(t, s, Attempt{Caller: portal}, false, false)
		before := clk.Now()
		st := wantFail(t, s, user(0), false, true)
		wantUntil(t, st.ThrottledUntil, before, clk.Now(), fastPolicy.CallerBackoff)
		// Throttled whoever the user; the users themselves are not locked.
		got := wantCheck(t, s, via(alice, portal), false, true)
		if got.ThrottledUntil.Sub(st.ThrottledUntil).Abs() > slack {
			t.Errorf("Check says throttled until %v, Fail said %v", got.ThrottledUntil, st.ThrottledUntil)
		}
		wantCheck(t, s, user(1), false, true)
		wantCheck(t, s, Attempt{User: "user-1"}, false, false)
		wantCheck(t, s, Attempt{Caller: "spiffe://example.org/other"}, false, false)
	})

	t.Run("a throttle ends after the caller backoff and does not double", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		caller := Attempt{Caller: portal}
		for range 3 {
			for i := 1; i < fastPolicy.CallerThreshold; i++ {
				wantFail(t, s, caller, false, false)
			}
			before := clk.Now()
			st := wantFail(t, s, caller, false, true)
			wantUntil(t, st.ThrottledUntil, before, clk.Now(), fastPolicy.CallerBackoff)
			// Failures while throttled are not counted and do not extend it.
			again := wantFail(t, s, caller, false, true)
			if again.ThrottledUntil.Sub(st.ThrottledUntil).Abs() > slack {
				t.Fatalf("a failure while throttled moved the end from %v to %v", st.ThrottledUntil, again.ThrottledUntil)
			}
			clk.Sleep(fastPolicy.CallerBackoff + slack)
			wantCheck(t, s, caller, false, false)
		}
	})

	t.Run("a user and a caller of one name are two subjects", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		failTimes(t, s, fastPolicy.Threshold, Attempt{User: "x"})
		wantCheck(t, s, Attempt{Caller: "x"}, false, false)
		wantCheck(t, s, Attempt{User: "x", Caller: "x"}, true, false)
	})

	t.Run("releases after backoff and counts afresh", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		failTimes(t, s, fastPolicy.Threshold, alice)
		wantCheck(t, s, alice, true, false)
		clk.Sleep(fastPolicy.BaseBackoff + slack)
		wantCheck(t, s, alice, false, false)
		// The lockout restarted the counter: Threshold-1 new failures do not lock.
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, alice, false, false)
		}
		wantCheck(t, s, alice, false, false)
	})

	t.Run("failures while locked neither count nor extend", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		until := failTimes(t, s, fastPolicy.Threshold, alice).LockedUntil
		for range 2 * fastPolicy.Threshold {
			again := wantFail(t, s, alice, true, false)
			if again.LockedUntil.Sub(until).Abs() > slack {
				t.Fatalf("a failure while locked moved the end from %v to %v", until, again.LockedUntil)
			}
		}
		clk.Sleep(fastPolicy.BaseBackoff + slack)
		wantCheck(t, s, alice, false, false)
		wantFail(t, s, alice, false, false)
	})

	t.Run("backoff doubles per lockout up to the maximum", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		clk := clockFor(s)
		for _, want := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond, 1200 * time.Millisecond} {
			for i := 1; i < fastPolicy.Threshold; i++ {
				wantFail(t, s, alice, false, false)
			}
			before := clk.Now()
			st := wantFail(t, s, alice, true, false)
			wantUntil(t, st.LockedUntil, before, clk.Now(), want)
			clk.Sleep(want + slack)
			wantCheck(t, s, alice, false, false)
		}
	})

	t.Run("failure counter expires with the window", func(t *testing.T) {
		t.Parallel()
		p := fastPolicy
		p.Window = 400 * time.Millisecond
		s := newStore(t, p)
		clk := clockFor(s)
		for i := 1; i < p.Threshold; i++ {
			wantFail(t, s, alice, false, false)
		}
		clk.Sleep(p.Window + slack)
		for i := 1; i < p.Threshold; i++ {
			wantFail(t, s, alice, false, false)
		}
		wantFail(t, s, alice, true, false)
	})

	t.Run("lockout level is forgotten after calm", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, calmPolicy)
		clk := clockFor(s)
		lock := func(want time.Duration) {
			t.Helper()
			wantFail(t, s, alice, false, false)
			before := clk.Now()
			st := wantFail(t, s, alice, true, false)
			wantUntil(t, st.LockedUntil, before, clk.Now(), want)
			clk.Sleep(want)
		}
		lock(100 * time.Millisecond)
		clk.Sleep(slack)
		lock(200 * time.Millisecond) // within calm: doubled
		clk.Sleep(calmFactor*calmPolicy.MaxBackoff + slack)
		lock(100 * time.Millisecond) // after calm: base again
	})

	t.Run("Check and others' activity do not reset a counter", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, fastPolicy)
		for i := 1; i < fastPolicy.Threshold; i++ {
			wantFail(t, s, via(alice, portal), false, false)
		}
		// What a successful login looks like to the store: only Check, by alice's
		// user and caller and by a third party's. There is no reset API.
		for range 5 {
			wantCheck(t, s, via(alice, portal), false, false)
			wantCheck(t, s, via(bob, portal), false, false)
		}
		wantFail(t, s, bob, false, false)
		wantFail(t, s, alice, true, false)
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
		p.Threshold, p.CallerThreshold = 40, 40
		s := newStore(t, p)
		var wg sync.WaitGroup
		errs := make(chan error, p.Threshold)
		for range p.Threshold - 1 {
			wg.Go(func() {
				if _, err := s.Fail(ctx, via(alice, portal)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		wantCheck(t, s, via(alice, portal), false, false)
		wantFail(t, s, via(alice, portal), true, true)
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
		if _, err := s.Check(dead, via(alice, portal)); err == nil {
			t.Error("Check: no error")
		}
		if _, err := s.Fail(dead, via(alice, portal)); err == nil {
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
		if _, err := s.Check(ctx, via(alice, portal)); err == nil {
			t.Error("Check after Close: no error")
		}
		if _, err := s.Fail(ctx, via(alice, portal)); err == nil {
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

// Attempts of the suite.
var (
	alice  = Attempt{User: "alice"}
	bob    = Attempt{User: "bob"}
	portal = "spiffe://example.org/portal"
)

// via returns the attempt of a's user through caller.
func via(a Attempt, caller string) Attempt {
	a.Caller = caller
	return a
}

// wantStanding checks that st says locked and throttled as wanted, with times
// set exactly for what it says.
func wantStanding(t *testing.T, what string, st Standing, locked, throttled bool) {
	t.Helper()
	if st.Locked() != locked || st.Throttled() != throttled {
		t.Fatalf("%s: locked %v (until %v), throttled %v (until %v); want locked %v, throttled %v",
			what, st.Locked(), st.LockedUntil, st.Throttled(), st.ThrottledUntil, locked, throttled)
	}
}

// wantFail calls Fail and checks the standing it reports.
func wantFail(t *testing.T, s Store, a Attempt, locked, throttled bool) Standing {
	t.Helper()
	st, err := s.Fail(context.Background(), a)
	if err != nil {
		t.Fatalf("Fail(%+v): %v", a, err)
	}
	wantStanding(t, fmt.Sprintf("Fail(%+v)", a), st, locked, throttled)
	return st
}

// wantCheck calls Check and checks the standing it reports.
func wantCheck(t *testing.T, s Store, a Attempt, locked, throttled bool) Standing {
	t.Helper()
	st, err := s.Check(context.Background(), a)
	if err != nil {
		t.Fatalf("Check(%+v): %v", a, err)
	}
	wantStanding(t, fmt.Sprintf("Check(%+v)", a), st, locked, throttled)
	return st
}

// failTimes fails n times (n below the caller threshold); the last call must lock
// the user.
func failTimes(t *testing.T, s Store, n int, a Attempt) Standing {
	t.Helper()
	for i := 1; i < n; i++ {
		wantFail(t, s, a, false, false)
	}
	return wantFail(t, s, a, true, false)
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
