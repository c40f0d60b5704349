package throttle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock lets the suite wait for refill: limiters under test with a fake clock move
// time forward instantly; Redis (whose clock is the server's TIME) really sleeps.
type testClock interface {
	Sleep(d time.Duration)
}

type realClock struct{}

func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// slack is how much a real clock may move between two calls of one test step.
const slack = 5 * time.Second

var (
	perMinute3 = Limit{Rate: 1, Per: time.Minute, Burst: 3}
	perMinute1 = Limit{Rate: 1, Per: time.Minute, Burst: 1}
	perHour1   = Limit{Rate: 1, Per: time.Hour, Burst: 1}
	// quick refills every 500ms: long enough that two calls in a row on a busy machine
	// fall in one interval, short enough for a real Redis.
	quick = Limit{Rate: 2, Per: time.Second, Burst: 2}
)

// runConformance is the suite every Limiter must pass.
func runConformance(t *testing.T, newLimiter func(t *testing.T) (Limiter, testClock)) {
	t.Run("burst then refused with retry-after", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		k := Take{Key: "caller:spiffe://example.org/app", Limit: perMinute3}
		for range 3 {
			wantAllowed(t, l, k)
		}
		r := wantRefused(t, l, k.Key, k)
		if r.RetryAfter > time.Minute || r.RetryAfter < time.Minute-slack {
			t.Fatalf("RetryAfter = %s, want about one interval (1m)", r.RetryAfter)
		}
		// A refused request is not charged: the wait does not grow.
		for range 5 {
			again := wantRefused(t, l, k.Key, k)
			if again.RetryAfter > r.RetryAfter {
				t.Fatalf("RetryAfter grew from %s to %s on refused requests", r.RetryAfter, again.RetryAfter)
			}
		}
	})

	t.Run("burst of one", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		k := Take{Key: "subject:alice", Limit: perMinute1}
		wantAllowed(t, l, k)
		wantRefused(t, l, k.Key, k)
	})

	t.Run("refills after retry-after", func(t *testing.T) {
		t.Parallel()
		l, clk := newLimiter(t)
		k := Take{Key: "caller:refill", Limit: quick}
		wantAllowed(t, l, k)
		wantAllowed(t, l, k)
		r := wantRefused(t, l, k.Key, k)
		if r.RetryAfter <= 0 || r.RetryAfter > quick.interval() {
			t.Fatalf("RetryAfter = %s, want in (0, %s]", r.RetryAfter, quick.interval())
		}
		clk.Sleep(r.RetryAfter + 20*time.Millisecond)
		wantAllowed(t, l, k)
		// After a full refill the whole burst is back, and no more.
		clk.Sleep(2*quick.interval() + 20*time.Millisecond)
		wantAllowed(t, l, k)
		wantAllowed(t, l, k)
		wantRefused(t, l, k.Key, k)
	})

	t.Run("keys are independent", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		a := Take{Key: "subject:alice", Limit: perMinute1}
		b := Take{Key: "subject:bob", Limit: perMinute1}
		wantAllowed(t, l, a)
		wantRefused(t, l, a.Key, a)
		wantAllowed(t, l, b)
		// Same bytes under another name are another key.
		wantAllowed(t, l, Take{Key: "caller:alice", Limit: perMinute1})
	})

	t.Run("the exhausted key refuses and is named", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		caller := Take{Key: "caller:spiffe://example.org/app", Limit: perMinute3}
		subject := Take{Key: "subject:alice", Limit: perMinute1}
		wantAllowed(t, l, caller, subject)
		r := wantRefused(t, l, subject.Key, caller, subject)
		if r.RetryAfter <= 0 {
			t.Fatalf("RetryAfter = %s, want > 0", r.RetryAfter)
		}
		wantRefused(t, l, subject.Key, subject, caller) // order does not matter
		// The caller admitted all three attempts and was charged for each.
		wantRefused(t, l, caller.Key, caller)
	})

	t.Run("the longest wait is named", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		minute := Take{Key: "caller:minute", Limit: perMinute1}
		hour := Take{Key: "subject:hour", Limit: perHour1}
		wantAllowed(t, l, minute, hour)
		r := wantRefused(t, l, hour.Key, minute, hour)
		if r.RetryAfter < time.Hour-slack {
			t.Fatalf("RetryAfter = %s, want about an hour", r.RetryAfter)
		}
		wantRefused(t, l, hour.Key, hour, minute)
	})

	t.Run("a key named twice takes two", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		k := Take{Key: "caller:twice", Limit: Limit{Rate: 1, Per: time.Minute, Burst: 2}}
		wantAllowed(t, l, k, k)
		wantRefused(t, l, k.Key, k)
	})

	t.Run("binary and odd keys", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		for _, key := range []string{"subject:\x00{x}\r\n\xff", "subject:" + strings.Repeat("long", 4096), "*"} {
			k := Take{Key: key, Limit: perMinute1}
			wantAllowed(t, l, k)
			wantRefused(t, l, key, k)
		}
	})

	t.Run("invalid takes are errors and charge nothing", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		good := Take{Key: "caller:good", Limit: perMinute1}
		for _, bad := range []Take{
			{Key: "", Limit: perMinute1},
			{Key: "caller:bad", Limit: Limit{}},
			{Key: "caller:bad", Limit: Limit{Rate: 1, Per: time.Minute, Burst: 0}},
		} {
			if r, err := l.Allow(context.Background(), good, bad); err == nil {
				t.Fatalf("Allow(%+v) = %+v, no error", bad, r)
			}
		}
		wantAllowed(t, l, good)
	})

	t.Run("no takes", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		wantAllowed(t, l)
	})

	t.Run("concurrent requests get exactly the burst", func(t *testing.T) {
		t.Parallel()
		l, _ := newLimiter(t)
		k := Take{Key: "caller:crowd", Limit: Limit{Rate: 1, Per: time.Hour, Burst: 10}}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for range 40 {
			wg.Go(func() {
				r, err := l.Allow(context.Background(), k)
				if err != nil {
					errs <- err
					return
				}
				if r.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := allowed.Load(); n != 10 {
			t.Fatalf("%d of 40 concurrent requests allowed, want the burst of 10", n)
		}
	})
}

func wantAllowed(t *testing.T, l Limiter, reqs ...Take) {
	t.Helper()
	r, err := l.Allow(context.Background(), reqs...)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if !r.Allowed || r.RetryAfter != 0 || r.Key != "" {
		t.Fatalf("Allow = %+v, want allowed", r)
	}
}

func wantRefused(t *testing.T, l Limiter, key string, reqs ...Take) Result {
	t.Helper()
	r, err := l.Allow(context.Background(), reqs...)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	if r.Allowed || r.RetryAfter <= 0 || r.Key != key {
		t.Fatalf("Allow = %+v, want refused by %q with a RetryAfter", r, key)
	}
	return r
}

func TestLimitValidate(t *testing.T) {
	for _, tc := range []struct {
		l       Limit
		wantErr string
	}{
		{Limit{Rate: 100, Per: time.Second, Burst: 20}, ""},
		{Limit{Rate: 1, Per: 366 * 24 * time.Hour, Burst: 1}, ""},
		{Limit{Rate: 1_000_000, Per: time.Second, Burst: 1}, ""},
		{Limit{Rate: 0, Per: time.Second, Burst: 1}, "rate 0 must be at least 1"},
		{Limit{Rate: -1, Per: time.Second, Burst: 1}, "rate -1 must be at least 1"},
		{Limit{Rate: 1, Per: 0, Burst: 1}, "period 0s must be positive"},
		{Limit{Rate: 1, Per: -time.Second, Burst: 1}, "period -1s must be positive"},
		{Limit{Rate: 1, Per: 367 * 24 * time.Hour, Burst: 1}, "must be positive and at most"},
		{Limit{Rate: 1, Per: time.Second, Burst: 0}, "burst 0 must be at least 1"},
		{Limit{Rate: 1_000_001, Per: time.Second, Burst: 1}, "more than one per microsecond"},
		{Limit{Rate: 1, Per: time.Hour, Burst: 10_000}, "exceeds"},
	} {
		err := tc.l.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.l, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want %q", tc.l, err, tc.wantErr)
		}
	}
}

func TestEmptyKeyError(t *testing.T) {
	_, err := NewMemoryLimiter(nil, 0).Allow(context.Background(), Take{Limit: perMinute1})
	if !errors.Is(err, ErrEmptyKey) {
		t.Fatalf("err = %v, want ErrEmptyKey", err)
	}
}
