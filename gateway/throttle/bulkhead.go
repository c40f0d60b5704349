package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrBulkheadFull is returned by Bulkhead.Acquire when all slots are taken (and, for a
// bulkhead with a wait, none came free in time).
var ErrBulkheadFull = errors.New("throttle: bulkhead full")

// Bulkhead bounds the number of calls in flight to one backend, so that a slow backend
// ties up at most that many requests (goroutines, connections) of the gateway.
type Bulkhead struct {
	slots chan struct{}
	wait  time.Duration
}

// NewBulkhead returns a bulkhead that admits size concurrent calls and refuses the next
// one at once. size must be at least 1 (configuration checks it); NewBulkhead panics
// otherwise, as make does for a negative size.
func NewBulkhead(size int) *Bulkhead {
	return NewBulkheadWait(size, 0)
}

// NewBulkheadWait is NewBulkhead with a bounded wait: a call that finds all slots taken
// waits up to wait for one to come free (never past its context) before it is refused.
// Waiting callers are not queued in order.
func NewBulkheadWait(size int, wait time.Duration) *Bulkhead {
	if size < 1 {
		panic(fmt.Sprintf("throttle: bulkhead size %d must be at least 1", size))
	}
	return &Bulkhead{slots: make(chan struct{}, size), wait: max(wait, 0)}
}

// Acquire takes a slot. The caller must call release exactly once when the call is
// over; further calls of release do nothing. A context already done is reported as its
// error without taking a slot.
func (b *Bulkhead) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case b.slots <- struct{}{}:
		return b.releaser(), nil
	default:
	}
	if b.wait == 0 {
		return nil, ErrBulkheadFull
	}
	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	select {
	case b.slots <- struct{}{}:
		return b.releaser(), nil
	case <-timer.C:
		return nil, ErrBulkheadFull
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *Bulkhead) releaser() func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			<-b.slots
		}
	}
}

// InFlight reports how many slots are taken.
func (b *Bulkhead) InFlight() int { return len(b.slots) }

// Max reports the number of slots.
func (b *Bulkhead) Max() int { return cap(b.slots) }
