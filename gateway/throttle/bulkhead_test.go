package throttle

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBulkheadRefusesBeyondMax(t *testing.T) {
	const size = 3
	b := NewBulkhead(size)
	ctx := context.Background()

	// size calls hold their slots until told to finish.
	finish := make(chan struct{})
	holding := make(chan struct{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range size {
		wg.Go(func() {
			release, err := b.Acquire(ctx)
			if err != nil {
				t.Error(err)
				holding <- struct{}{}
				return
			}
			defer release()
			holding <- struct{}{}
			<-finish
		})
	}
	for range size {
		<-holding
	}
	if n := b.InFlight(); n != size {
		t.Fatalf("InFlight = %d, want %d", n, size)
	}

	start := time.Now()
	if release, err := b.Acquire(ctx); !errors.Is(err, ErrBulkheadFull) || release != nil {
		t.Fatalf("call %d: %v, want ErrBulkheadFull and no release", size+1, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("refusal took %s, want at once", took)
	}

	go func() { wg.Wait(); close(done) }()
	close(finish)
	<-done
	if n := b.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d after all released, want 0", n)
	}
	release, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release()
}

func TestBulkheadAdmitsAfterRelease(t *testing.T) {
	b := NewBulkhead(1)
	ctx := context.Background()
	release, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx); !errors.Is(err, ErrBulkheadFull) {
		t.Fatalf("second call: %v, want ErrBulkheadFull", err)
	}
	release()
	again, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	// A second release of the first slot must not free the one now held.
	release()
	if n := b.InFlight(); n != 1 {
		t.Fatalf("InFlight = %d after a double release, want 1", n)
	}
	if _, err := b.Acquire(ctx); !errors.Is(err, ErrBulkheadFull) {
		t.Fatalf("after a double release: %v, want ErrBulkheadFull", err)
	}
	again()
	if n := b.InFlight(); n != 0 || b.Max() != 1 {
		t.Fatalf("InFlight = %d, Max = %d; want 0, 1", n, b.Max())
	}
}

func TestBulkheadNeverExceedsMax(t *testing.T) {
	const size = 4
	b := NewBulkhead(size)
	var inside, most atomic.Int64
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 200 {
				release, err := b.Acquire(context.Background())
				if err != nil {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				inside.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > size {
		t.Fatalf("%d calls inside at once, want at most %d", m, size)
	}
	if admitted.Load() == 0 || b.InFlight() != 0 {
		t.Fatalf("admitted %d, InFlight %d", admitted.Load(), b.InFlight())
	}
	t.Logf("admitted %d, refused %d, most inside %d", admitted.Load(), refused.Load(), most.Load())
}

func TestBulkheadWait(t *testing.T) {
	ctx := context.Background()

	t.Run("admitted when a slot comes free", func(t *testing.T) {
		b := NewBulkheadWait(1, time.Minute)
		release, err := b.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			r, err := b.Acquire(ctx)
			if err == nil {
				r()
			}
			got <- err
		}()
		release()
		if err := <-got; err != nil {
			t.Fatalf("waiting call: %v, want admitted", err)
		}
	})

	t.Run("refused when the wait ends", func(t *testing.T) {
		const wait = 50 * time.Millisecond
		b := NewBulkheadWait(1, wait)
		release, err := b.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		start := time.Now()
		_, err = b.Acquire(ctx)
		if took := time.Since(start); !errors.Is(err, ErrBulkheadFull) || took < wait {
			t.Fatalf("%v after %s, want ErrBulkheadFull after at least %s", err, took, wait)
		}
	})

	t.Run("the context ends the wait", func(t *testing.T) {
		b := NewBulkheadWait(1, time.Hour)
		release, err := b.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		cctx, cancel := context.WithCancel(ctx)
		got := make(chan error, 1)
		go func() {
			_, err := b.Acquire(cctx)
			got <- err
		}()
		cancel()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("%v, want context.Canceled", err)
		}
	})
}

func TestBulkheadContextDone(t *testing.T) {
	b := NewBulkhead(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want context.Canceled", err)
	}
	if n := b.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d, want 0", n)
	}
}

func TestNewBulkheadPanicsOnZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewBulkhead(0) did not panic")
		}
	}()
	NewBulkhead(0)
}
