package throttle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// transitions records state changes.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) hook(name, from, to string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, fmt.Sprintf("%s:%s->%s", name, from, to))
}

func (tr *transitions) want(t *testing.T, want ...string) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !slices.Equal(tr.got, want) {
		t.Fatalf("state changes %q, want %q", tr.got, want)
	}
}

var errBackend = errors.New("backend: connection refused")

func call(t *testing.T, b *Breaker, status int, err error) (int, bool, error) {
	t.Helper()
	called := false
	got, gotErr := b.Do(context.Background(), func() (int, error) {
		called = true
		return status, err
	})
	return got, called, gotErr
}

func wantState(t *testing.T, b *Breaker, want string) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("State = %q, want %q", got, want)
	}
}

// awaitHalfOpen waits, bounded, for an open breaker to half-open.
func awaitHalfOpen(t *testing.T, b *Breaker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != "half-open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker still %q 5s later, want half-open", b.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const openFor = 50 * time.Millisecond

func TestBreakerOpensHalfOpensCloses(t *testing.T) {
	var tr transitions
	b, err := NewBreaker("billing", BreakerSettings{ConsecutiveFailures: 3, OpenFor: openFor, HalfOpenRequests: 2, OnStateChange: tr.hook})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, b, "closed")

	// Results pass through.
	if status, called, err := call(t, b, 200, nil); status != 200 || err != nil || !called {
		t.Fatalf("Do = %d, %v, called %v", status, err, called)
	}
	// Two failures, then a success: the count starts again.
	for range 2 {
		if status, _, err := call(t, b, 502, errBackend); status != 502 || !errors.Is(err, errBackend) {
			t.Fatalf("Do = %d, %v; want fn's result", status, err)
		}
	}
	call(t, b, 200, nil)
	call(t, b, 0, errBackend)
	call(t, b, 0, errBackend)
	wantState(t, b, "closed")
	tr.want(t)

	// The third failure in a row opens it.
	call(t, b, 0, errBackend)
	wantState(t, b, "open")
	tr.want(t, "billing:closed->open")

	// Open: ErrOpen at once, fn not called.
	for range 5 {
		if status, called, err := call(t, b, 200, nil); !errors.Is(err, ErrOpen) || called || status != 0 {
			t.Fatalf("open: Do = %d, %v, called %v; want ErrOpen without calling", status, err, called)
		}
	}

	awaitHalfOpen(t, b)
	tr.want(t, "billing:closed->open", "billing:open->half-open")
	// HalfOpenRequests successes close it.
	if _, called, err := call(t, b, 200, nil); err != nil || !called {
		t.Fatalf("half-open trial: %v, called %v", err, called)
	}
	wantState(t, b, "half-open")
	call(t, b, 200, nil)
	wantState(t, b, "closed")
	tr.want(t, "billing:closed->open", "billing:open->half-open", "billing:half-open->closed")
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	var tr transitions
	b, err := NewBreaker("ledger", BreakerSettings{ConsecutiveFailures: 1, OpenFor: openFor, HalfOpenRequests: 3, OnStateChange: tr.hook})
	if err != nil {
		t.Fatal(err)
	}
	call(t, b, 0, errBackend)
	wantState(t, b, "open")
	awaitHalfOpen(t, b)
	call(t, b, 200, nil)
	call(t, b, 0, errBackend) // one failed trial is enough
	wantState(t, b, "open")
	if _, called, err := call(t, b, 200, nil); !errors.Is(err, ErrOpen) || called {
		t.Fatalf("reopened: %v, called %v; want ErrOpen without calling", err, called)
	}
	tr.want(t, "ledger:closed->open", "ledger:open->half-open", "ledger:half-open->open")
}

// TestBreakerHalfOpenLimitsTrials checks that only HalfOpenRequests calls reach a
// recovering backend at once.
func TestBreakerHalfOpenLimitsTrials(t *testing.T) {
	b, err := NewBreaker("slow", BreakerSettings{ConsecutiveFailures: 1, OpenFor: openFor, HalfOpenRequests: 1})
	if err != nil {
		t.Fatal(err)
	}
	call(t, b, 0, errBackend)
	awaitHalfOpen(t, b)

	inTrial := make(chan struct{})
	finish := make(chan struct{})
	trial := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), func() (int, error) {
			close(inTrial)
			<-finish
			return 200, nil
		})
		trial <- err
	}()
	<-inTrial
	if _, called, err := call(t, b, 200, nil); !errors.Is(err, ErrOpen) || called {
		t.Fatalf("second call during the trial: %v, called %v; want ErrOpen without calling", err, called)
	}
	close(finish)
	if err := <-trial; err != nil {
		t.Fatal(err)
	}
	wantState(t, b, "closed")
}

func TestBreakerIgnoresCancellation(t *testing.T) {
	b, err := NewBreaker("cancel", BreakerSettings{ConsecutiveFailures: 2, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Clients going away say nothing about the backend.
	for range 5 {
		call(t, b, 0, fmt.Errorf("proxy: %w", context.Canceled))
	}
	wantState(t, b, "closed")
	// A deadline is the backend being slow: it counts.
	call(t, b, 0, fmt.Errorf("proxy: %w", context.DeadlineExceeded))
	call(t, b, 0, context.DeadlineExceeded)
	wantState(t, b, "open")

	// A context already done is not a call.
	b2, _ := NewBreaker("done", BreakerSettings{ConsecutiveFailures: 1, OpenFor: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var called atomic.Bool
	if _, err := b2.Do(ctx, func() (int, error) { called.Store(true); return 0, errBackend }); !errors.Is(err, context.Canceled) || called.Load() {
		t.Fatalf("done context: %v, called %v", err, called.Load())
	}
	wantState(t, b2, "closed")
}

func TestBreakerPanicCountsAsFailure(t *testing.T) {
	b, err := NewBreaker("panicky", BreakerSettings{ConsecutiveFailures: 1, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		b.Do(context.Background(), func() (int, error) { panic("boom") })
	}()
	wantState(t, b, "open")
}

func TestBreakerSettings(t *testing.T) {
	if _, err := NewBreaker("neg", BreakerSettings{OpenFor: -time.Second}); err == nil {
		t.Fatal("negative OpenFor: no error")
	}
	// Zero settings take the defaults: DefaultConsecutiveFailures failures open it.
	b, err := NewBreaker("defaults", BreakerSettings{})
	if err != nil {
		t.Fatal(err)
	}
	for range DefaultConsecutiveFailures - 1 {
		call(t, b, 0, errBackend)
	}
	wantState(t, b, "closed")
	call(t, b, 0, errBackend)
	wantState(t, b, "open")
	if b.Name() != "defaults" {
		t.Fatalf("Name = %q", b.Name())
	}
}

// TestBreakerSlowCallsOpen is issue 18 item 6: calls to a hung backend count
// as failed once they are SlowCall old, while they still run, so the breaker
// opens after ConsecutiveFailures slow calls and later calls are refused at
// once, long before the hung ones would time out.
func TestBreakerSlowCallsOpen(t *testing.T) {
	var tr transitions
	var slow atomic.Int32
	b, err := NewBreaker("hung", BreakerSettings{ConsecutiveFailures: 3, OpenFor: time.Hour, SlowCall: 50 * time.Millisecond,
		Window: time.Minute, OnStateChange: tr.hook, OnSlowCall: func() { slow.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	hung := make(chan struct{})
	defer close(hung)
	results := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := b.Do(context.Background(), func() (int, error) { <-hung; return 200, nil })
			results <- err
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for b.State() != "open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker %s 2s after 3 calls hung (slow-call threshold 50ms), want open", b.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.want(t, "hung:closed->open")
	if got := slow.Load(); got != 3 {
		t.Errorf("OnSlowCall called %d times, want 3", got)
	}
	start := time.Now()
	if _, called, err := call(t, b, 200, nil); !errors.Is(err, ErrOpen) || called {
		t.Fatalf("after the slow calls: %v, called %v; want ErrOpen without calling", err, called)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusal took %s", d)
	}
	// The hung calls, once they end, change nothing: their outcome was counted.
	hung <- struct{}{}
	if err := <-results; err != nil {
		t.Errorf("a slow call that succeeds returns its result: %v", err)
	}
	tr.want(t, "hung:closed->open")
}

// TestBreakerSlowCallEnded: a call that returns after SlowCall, before the
// timer noticed, is a failure for the breaker and a success for its caller.
func TestBreakerSlowCallEnded(t *testing.T) {
	b, err := NewBreaker("slow", BreakerSettings{ConsecutiveFailures: 2, OpenFor: time.Hour, SlowCall: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		status, err := b.Do(context.Background(), func() (int, error) { time.Sleep(40 * time.Millisecond); return 200, nil })
		if status != 200 || err != nil {
			t.Fatalf("slow call = %d, %v; want its own result", status, err)
		}
	}
	wantState(t, b, "open")

	// Without SlowCall, time does not count.
	b2, _ := NewBreaker("untimed", BreakerSettings{ConsecutiveFailures: 1, OpenFor: time.Hour})
	b2.Do(context.Background(), func() (int, error) { time.Sleep(30 * time.Millisecond); return 200, nil })
	wantState(t, b2, "closed")
}

// TestBreakerFailureRatio: failures that never come ConsecutiveFailures in a
// row open the breaker by their share of the window's calls, once MinCalls
// calls ended.
func TestBreakerFailureRatio(t *testing.T) {
	b, err := NewBreaker("flaky", BreakerSettings{ConsecutiveFailures: 3, OpenFor: time.Hour, FailureRatio: 0.5, MinCalls: 10, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Fail, succeed, fail, succeed …: 2 in a row at most.
	for i := range 9 {
		if i%2 == 0 {
			call(t, b, 0, errBackend)
		} else {
			call(t, b, 200, nil)
		}
	}
	wantState(t, b, "closed") // 9 calls, under MinCalls
	call(t, b, 0, errBackend) // 10 calls, 6 failed
	wantState(t, b, "open")

	// Under the ratio it stays closed.
	b2, _ := NewBreaker("mostly-ok", BreakerSettings{ConsecutiveFailures: 3, OpenFor: time.Hour, FailureRatio: 0.5, MinCalls: 10, Window: time.Minute})
	for i := range 40 {
		if i%3 == 0 {
			call(t, b2, 0, errBackend)
		} else {
			call(t, b2, 200, nil)
		}
	}
	wantState(t, b2, "closed")

	// Failures older than the window are forgotten.
	b3, _ := NewBreaker("old", BreakerSettings{ConsecutiveFailures: 100, OpenFor: time.Hour, FailureRatio: 0.5, MinCalls: 4, Window: 100 * time.Millisecond})
	for range 3 {
		call(t, b3, 0, errBackend)
	}
	time.Sleep(150 * time.Millisecond)
	call(t, b3, 0, errBackend)
	for range 3 {
		call(t, b3, 200, nil)
	}
	wantState(t, b3, "closed") // 4 calls in the window, 1 failed; 4 of 7 overall
	call(t, b3, 0, errBackend)
	wantState(t, b3, "closed") // 5 in the window, 2 failed
	call(t, b3, 0, errBackend) // 6 in the window, 3 failed
	wantState(t, b3, "open")
}

func TestBreakerSettingsRatio(t *testing.T) {
	for _, s := range []BreakerSettings{
		{FailureRatio: 1.5, Window: time.Minute},
		{FailureRatio: -0.1, Window: time.Minute},
		{FailureRatio: 0.5}, // no window
		{SlowCall: -time.Second},
		{Window: -time.Second},
	} {
		if _, err := NewBreaker("bad", s); err == nil {
			t.Errorf("NewBreaker(%+v): no error", s)
		}
	}
}
