package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/throttle"
	"github.com/gatehouse/gatehouse/soap"
)

// TestGuardOpenBreakerFirst: once calls to a hung backend opened the
// breaker, a request is told the backend is unavailable (the breaker's
// fault) at once, even while the hung calls fill the bulkhead; the slow
// calls are counted.
func TestGuardOpenBreakerFirst(t *testing.T) {
	g := &Gateway{metrics: newMetrics(), log: slog.New(slog.DiscardHandler)}
	b := conf.Backend{MaxConcurrent: 1, Timeout: 10 * time.Second, Breaker: conf.DefaultBreaker()}
	b.Breaker.Failures, b.Breaker.SlowCall, b.Breaker.Window = 1, 50*time.Millisecond, time.Minute
	gd, err := g.newGuard("accounts", &b)
	if err != nil {
		t.Fatal(err)
	}
	hung := make(chan struct{})
	defer close(hung)
	go gd.call(context.Background(), func() (int, error) { <-hung; return 200, nil })
	eventually(t, "breaker open", func() bool { return gd.breaker.State() == "open" })
	if gd.bulkhead.InFlight() != 1 {
		t.Fatalf("bulkhead in flight %d, want the hung call", gd.bulkhead.InFlight())
	}
	called := false
	err = gd.call(context.Background(), func() (int, error) { called = true; return 200, nil })
	var f *soap.Fault
	if !errors.As(err, &f) || f.Public != "backend unavailable" || f.Status != http.StatusServiceUnavailable || !errors.Is(err, throttle.ErrOpen) || called {
		t.Fatalf("call with the breaker open and the bulkhead full: %v (called %v); want the breaker's 503 fault", err, called)
	}
	if v := value(g.metrics.slowCalls.WithLabelValues("accounts")); v != 1 {
		t.Errorf("slow calls = %v, want 1", v)
	}
	if v := value(g.metrics.breakerState.WithLabelValues("accounts")); v != 2 {
		t.Errorf("breaker state = %v, want 2 (open)", v)
	}
}
