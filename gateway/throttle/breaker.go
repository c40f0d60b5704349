package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrOpen is returned by Breaker.Do without calling the backend: the breaker is open, or
// it is half-open and its trial calls are all in flight.
var ErrOpen = errors.New("throttle: circuit breaker open")

// Defaults for zero BreakerSettings fields.
const (
	DefaultConsecutiveFailures = 5
	DefaultOpenFor             = 30 * time.Second
	DefaultHalfOpenRequests    = 1
)

// BreakerSettings configures a Breaker. Zero fields take the defaults above; a zero
// SlowCall, FailureRatio or Window turns its rule off.
type BreakerSettings struct {
	// ConsecutiveFailures is the number of failed calls in a row that opens the breaker.
	ConsecutiveFailures uint32
	// OpenFor is how long the breaker stays open before it lets trial calls through.
	OpenFor time.Duration
	// HalfOpenRequests is the number of trial calls let through while half-open; that
	// many successes in a row close the breaker, one failure opens it again.
	HalfOpenRequests uint32
	// SlowCall, when set, makes a call still running after it a failure, counted at
	// that moment (its outcome is then not counted again): a hung backend opens the
	// breaker after ConsecutiveFailures slow calls instead of after as many timeouts,
	// and a call that ends later than SlowCall counts as failed too.
	SlowCall time.Duration
	// FailureRatio (0 to 1), when set, opens the breaker too when at least MinCalls
	// calls ended (or became slow) within the last Window and that share of them
	// failed, slow calls included: a backend that fails every other call, never
	// ConsecutiveFailures in a row, is caught by it.
	FailureRatio float64
	MinCalls     uint32
	// Window is the rolling window (ten buckets) the counts are kept over. A call
	// counts only if it ends or becomes slow within the window it began in, so the
	// window must be longer than the backend's timeout. 0: counts are cleared only by
	// a change of state (no ratio).
	Window time.Duration
	// OnStateChange, if set, is called on every change of state ("closed", "open",
	// "half-open"), e.g. to update a metric. It runs with the breaker's lock held: it must
	// be quick and must not call the Breaker.
	OnStateChange func(name, from, to string)
	// OnSlowCall, if set, is called (without the lock) when a call becomes slow.
	OnSlowCall func()
}

// ErrSlowCall is what a call that became slow counts as.
var ErrSlowCall = errors.New("throttle: call slower than the breaker's slow-call threshold")

// Breaker is a circuit breaker for one backend, on sony/gobreaker's two-step breaker.
//
// A call counts as failed when fn returns an error: the gateway returns one for connect
// errors, timeouts and invalid backend responses, and decides itself whether a status
// (a 5xx that is not a SOAP fault) is such an error; the breaker does not look at the
// status. A call also counts as failed when it is still running SlowCall after it
// began. An error that is context.Canceled (the client went away) counts neither way,
// since it says nothing about the backend; a deadline is a failure. A panic in fn counts
// as a failure and is re-raised.
type Breaker struct {
	cb         *gobreaker.TwoStepCircuitBreaker[int]
	slowCall   time.Duration
	onSlowCall func()
}

// NewBreaker returns a closed breaker. name identifies it to OnStateChange.
func NewBreaker(name string, s BreakerSettings) (*Breaker, error) {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if s.OpenFor == 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = DefaultHalfOpenRequests
	}
	switch {
	case s.OpenFor < 0:
		return nil, fmt.Errorf("throttle: breaker %s: open-for %s must be positive", name, s.OpenFor)
	case s.SlowCall < 0 || s.Window < 0:
		return nil, fmt.Errorf("throttle: breaker %s: slow-call %s and window %s must not be negative", name, s.SlowCall, s.Window)
	case s.FailureRatio < 0 || s.FailureRatio > 1:
		return nil, fmt.Errorf("throttle: breaker %s: failure ratio %g must be between 0 and 1", name, s.FailureRatio)
	case s.FailureRatio > 0 && s.Window == 0:
		return nil, fmt.Errorf("throttle: breaker %s: a failure ratio needs a window", name)
	}
	threshold, ratio, minCalls := s.ConsecutiveFailures, s.FailureRatio, max(s.MinCalls, 1)
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: s.HalfOpenRequests,
		Timeout:     s.OpenFor,
		// ReadyToTrip sees the counts of the window (all of them since the last
		// change of state without one); consecutive failures are reset by any
		// success anyway.
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= threshold {
				return true
			}
			ended := c.TotalSuccesses + c.TotalFailures
			return ratio > 0 && ended >= minCalls && float64(c.TotalFailures) >= ratio*float64(ended)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	}
	if s.Window > 0 {
		st.Interval, st.BucketPeriod = s.Window, max(s.Window/10, time.Millisecond)
	}
	if hook := s.OnStateChange; hook != nil {
		st.OnStateChange = func(name string, from, to gobreaker.State) {
			hook(name, from.String(), to.String())
		}
	}
	return &Breaker{cb: gobreaker.NewTwoStepCircuitBreaker[int](st), slowCall: s.SlowCall, onSlowCall: s.OnSlowCall}, nil
}

// Do calls fn unless the breaker is open, and returns what fn returns. An open breaker
// (or a half-open one whose trial calls are taken) returns ErrOpen at once. A context
// already done is reported as its error without calling fn or counting anything.
func (b *Breaker) Do(ctx context.Context, fn func() (int, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	done, err := b.cb.Allow()
	if err != nil {
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return 0, ErrOpen
		}
		return 0, err
	}
	// The outcome is reported once: by the slow-call timer, or when fn returns.
	var reported atomic.Bool
	var start time.Time
	if b.slowCall > 0 {
		start = time.Now()
		timer := time.AfterFunc(b.slowCall, func() {
			if reported.CompareAndSwap(false, true) {
				done(ErrSlowCall)
				if b.onSlowCall != nil {
					b.onSlowCall()
				}
			}
		})
		defer timer.Stop()
	}
	defer func() {
		if v := recover(); v != nil {
			if reported.CompareAndSwap(false, true) {
				done(fmt.Errorf("panic: %v", v))
			}
			panic(v)
		}
	}()
	status, err := fn()
	outcome := err
	if err == nil && b.slowCall > 0 && time.Since(start) >= b.slowCall {
		// Slower than the threshold, though the timer has not fired yet: a
		// failure for the breaker, the answer for the caller.
		outcome = ErrSlowCall
	}
	if reported.CompareAndSwap(false, true) {
		done(outcome)
		if outcome == ErrSlowCall && b.onSlowCall != nil {
			b.onSlowCall()
		}
	}
	return status, err
}

// State reports "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Name reports the breaker's name.
func (b *Breaker) Name() string { return b.cb.Name() }
