package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/gateway/throttle"
	"github.com/gatehouse/gatehouse/soap"
)

// rateLimits are the compiled <rateLimits>: the two limits. The budgets live
// in the store (shared in Redis, or the memory store's), which charges them in
// the request's one round trip (admit).
type rateLimits struct {
	caller, subject *throttle.Limit
}

// redisClient is the shared store's client, or nil for the memory store.
func (g *Gateway) redisClient() redis.UniversalClient {
	if r, ok := g.store.(*store.Redis); ok {
		return r.Client()
	}
	return nil
}

func (g *Gateway) newRateLimits(cfg *conf.Config) *rateLimits {
	rl := cfg.RateLimits
	if rl == nil {
		return nil
	}
	out := &rateLimits{}
	if rl.Caller != nil {
		out.caller = &throttle.Limit{Rate: rl.Caller.Rate, Per: rl.Caller.Per, Burst: rl.Caller.Burst}
	}
	if rl.Subject != nil {
		out.subject = &throttle.Limit{Rate: rl.Subject.Rate, Per: rl.Subject.Per, Burst: rl.Subject.Burst}
	}
	return out
}

// guard is the per-backend protection: a bulkhead on concurrent calls and
// a circuit breaker that answers at once while the backend is failing.
type guard struct {
	bulkhead *throttle.Bulkhead
	breaker  *throttle.Breaker
	inFlight prometheus.Gauge
}

// newGuard builds a backend's bulkhead and breaker. The breaker counts a call
// still running after breaker/@slowCall as failed (and counts it in
// gatehouse_backend_slow_calls_total), so that a hung backend opens it after
// a few slow calls rather than after as many timeouts.
func (g *Gateway) newGuard(name string, b *conf.Backend) (*guard, error) {
	bc := &b.Breaker
	slow := g.metrics.slowCalls.WithLabelValues(name)
	br, err := throttle.NewBreaker(name, throttle.BreakerSettings{
		ConsecutiveFailures: bc.Failures, OpenFor: bc.OpenFor, HalfOpenRequests: bc.HalfOpenRequests,
		SlowCall: bc.SlowCall, FailureRatio: float64(bc.FailureRatio) / 100, MinCalls: bc.MinCalls, Window: bc.Window,
		OnStateChange: func(name, from, to string) {
			g.metrics.breakerState.WithLabelValues(name).Set(breakerValue(to))
			if to == "open" {
				g.log.Warn("circuit breaker open: calls to the backend are refused", "service", name, "from", from, "openFor", bc.OpenFor.String())
			} else {
				g.log.Info("circuit breaker "+to, "service", name, "from", from)
			}
		},
		OnSlowCall: slow.Inc,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: service %s: breaker: %w", name, err)
	}
	g.metrics.breakerState.WithLabelValues(name).Set(0)
	return &guard{bulkhead: throttle.NewBulkhead(b.MaxConcurrent), breaker: br, inFlight: g.metrics.backendBusy.WithLabelValues(name)}, nil
}

func breakerValue(state string) float64 {
	switch state {
	case "open":
		return 2
	case "half-open":
		return 1
	}
	return 0
}

// call runs fn inside the bulkhead and the breaker. A full bulkhead or an
// open breaker is a Receiver fault with 503, at once, without calling. An
// open breaker is asked first: while the bulkhead is full of calls to a hung
// backend, the answer says that the backend is unavailable, not busy.
func (gd *guard) call(ctx context.Context, fn func() (int, error)) error {
	if gd.breaker.State() == "open" {
		return breakerFault(throttle.ErrOpen)
	}
	release, err := gd.bulkhead.Acquire(ctx)
	if err != nil {
		return soap.ReceiverFault("backend busy", fmt.Errorf("bulkhead: %w", err)).WithStatus(http.StatusServiceUnavailable)
	}
	gd.inFlight.Inc()
	defer func() {
		gd.inFlight.Dec()
		release()
	}()
	_, err = gd.breaker.Do(ctx, fn)
	if errors.Is(err, throttle.ErrOpen) {
		return breakerFault(err)
	}
	return err
}

func breakerFault(err error) error {
	return soap.ReceiverFault("backend unavailable", fmt.Errorf("circuit open: %w", err)).WithStatus(http.StatusServiceUnavailable)
}
