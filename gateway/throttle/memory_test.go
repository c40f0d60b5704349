package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/fakeclock"
)

func TestMemoryLimiterConformance(t *testing.T) {
	runConformance(t, func(t *testing.T) (Limiter, testClock) {
		clk := fakeclock.New()
		return NewMemoryLimiter(clk.Now, 0), clk
	})
}

// TestMemoryLimiterGCRA checks the exact schedule on a fixed clock.
func TestMemoryLimiterGCRA(t *testing.T) {
	clk := fakeclock.New()
	l := NewMemoryLimiter(clk.Now, 0)
	k := Take{Key: "caller:steady", Limit: Limit{Rate: 10, Per: time.Second, Burst: 1}}

	// One request every interval is always allowed.
	for range 50 {
		wantAllowed(t, l, k)
		clk.Sleep(100 * time.Millisecond)
	}
	// Twice as fast: every other one is refused, and told to wait the other half.
	for i := range 20 {
		if i%2 == 0 {
			wantAllowed(t, l, k)
		} else if r := wantRefused(t, l, k.Key, k); r.RetryAfter != 50*time.Millisecond {
			t.Fatalf("RetryAfter = %s, want 50ms", r.RetryAfter)
		}
		clk.Sleep(50 * time.Millisecond)
	}

	// A burst of 20 at 100/s: 20 at once, then one per 10ms.
	b := Take{Key: "caller:burst", Limit: Limit{Rate: 100, Per: time.Second, Burst: 20}}
	for range 20 {
		wantAllowed(t, l, b)
	}
	if r := wantRefused(t, l, b.Key, b); r.RetryAfter != 10*time.Millisecond {
		t.Fatalf("RetryAfter = %s, want 10ms", r.RetryAfter)
	}
	clk.Sleep(10 * time.Millisecond)
	wantAllowed(t, l, b)
	wantRefused(t, l, b.Key, b)
	// Idle for long: the burst is back, never more.
	clk.Sleep(time.Hour)
	for range 20 {
		wantAllowed(t, l, b)
	}
	wantRefused(t, l, b.Key, b)
}

func TestMemoryLimiterDropsIdleKeys(t *testing.T) {
	clk := fakeclock.New()
	l := NewMemoryLimiter(clk.Now, 100).(*memoryLimiter)
	for i := range 5 {
		wantAllowed(t, l, Take{Key: fmt.Sprint("subject:", i), Limit: perMinute1})
	}
	if n := l.len(); n != 5 {
		t.Fatalf("%d keys, want 5", n)
	}
	clk.Sleep(time.Minute) // each key's budget is full again
	wantAllowed(t, l, Take{Key: "subject:new", Limit: perMinute1})
	if n := l.len(); n != 1 {
		t.Fatalf("%d keys after refill, want only the new one", n)
	}
}

func TestMemoryLimiterKeyBound(t *testing.T) {
	clk := fakeclock.New()
	l := NewMemoryLimiter(clk.Now, 2).(*memoryLimiter)
	a := Take{Key: "subject:a", Limit: perMinute1} // full again at +60s
	b := Take{Key: "subject:b", Limit: perMinute1}
	c := Take{Key: "subject:c", Limit: perMinute1}
	wantAllowed(t, l, a)
	clk.Sleep(30 * time.Second)
	wantAllowed(t, l, b) // full again at +90s
	clk.Sleep(time.Second)
	// No key is idle; the one closest to idle (a) is forgotten.
	wantAllowed(t, l, c)
	if n := l.len(); n != 2 {
		t.Fatalf("%d keys, want the bound 2", n)
	}
	wantRefused(t, l, b.Key, b)
	wantRefused(t, l, c.Key, c)
	wantAllowed(t, l, a) // forgotten, so it bursts again; this evicts b
	wantRefused(t, l, c.Key, c)

	// A flood of invented keys never grows the table past the bound.
	for i := range 10_000 {
		wantAllowed(t, l, Take{Key: fmt.Sprint("subject:flood-", i), Limit: perHour1})
		if n := l.len(); n > 2 {
			t.Fatalf("%d keys after %d, want at most 2", n, i)
		}
	}
}

func TestMemoryLimiterDefaults(t *testing.T) {
	l := NewMemoryLimiter(nil, -1).(*memoryLimiter)
	if l.max != DefaultMemoryMaxKeys || l.clock == nil {
		t.Fatalf("max = %d, clock nil = %v", l.max, l.clock == nil)
	}
	k := Take{Key: "caller:real-clock", Limit: perMinute1}
	wantAllowed(t, l, k)
	wantRefused(t, l, k.Key, k)
}

func TestMemoryLimiterContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewMemoryLimiter(nil, 0).Allow(ctx, Take{Key: "k", Limit: perMinute1}); err == nil {
		t.Fatal("Allow with a cancelled context: no error")
	}
}
