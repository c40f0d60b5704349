package throttle

import (
	"context"
	"errors"
	"fmt"
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

// BreakerSettings configures a Breaker. Zero fields take the defaults above.
type BreakerSettings struct {
	// ConsecutiveFailures is the number of failed calls in a row that opens the breaker.
	ConsecutiveFailures uint32
	// OpenFor is how long the breaker stays open before it lets trial calls through.
	OpenFor time.Duration
	// HalfOpenRequests is the number of trial calls let through while half-open; that
	// many successes in a row close the breaker, one failure opens it again.
	HalfOpenRequests uint32
	// OnStateChange, if set, is called on every change of state ("closed", "open",
	// "half-open"), e.g. to update a metric. It runs with the breaker's lock held: it must
	// be quick and must not call the Breaker.
	OnStateChange func(name, from, to string)
}

// Breaker is a circuit breaker for one backend, on sony/gobreaker.
//
// A call counts as failed when fn returns an error: the gateway returns one for connect
// errors, timeouts and invalid backend responses, and decides itself whether a status
// (a 5xx that is not a SOAP fault) is such an error; the breaker does not look at the
// status. An error that is context.Canceled (the client went away) counts neither way,
// since it says nothing about the backend; a deadline is a failure. A panic in fn counts
// as a failure and is re-raised.
type Breaker struct {
	cb *gobreaker.CircuitBreaker[int]
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
	if s.OpenFor < 0 {
		return nil, fmt.Errorf("throttle: breaker %s: open-for %s must be positive", name, s.OpenFor)
	}
	threshold := s.ConsecutiveFailures
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: s.HalfOpenRequests,
		Timeout:     s.OpenFor,
		// Interval 0: counts are cleared only by a change of state; consecutive
		// failures are reset by any success anyway.
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
	}
	if hook := s.OnStateChange; hook != nil {
		st.OnStateChange = func(name string, from, to gobreaker.State) {
			hook(name, from.String(), to.String())
		}
	}
	return &Breaker{cb: gobreaker.NewCircuitBreaker[int](st)}, nil
}

// Do calls fn unless the breaker is open, and returns what fn returns. An open breaker
// (or a half-open one whose trial calls are taken) returns ErrOpen at once. A context
// already done is reported as its error without calling fn or counting anything.
func (b *Breaker) Do(ctx context.Context, fn func() (int, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	status, err := b.cb.Execute(fn)
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return 0, ErrOpen
	}
	return status, err
}

// State reports "closed", "open" or "half-open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Name reports the breaker's name.
func (b *Breaker) Name() string { return b.cb.Name() }
