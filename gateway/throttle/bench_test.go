package throttle

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// generous never refuses during a benchmark, so every op does the full work.
var generous = Limit{Rate: 1_000_000, Per: time.Second, Burst: 1_000_000}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "caller:spiffe://example.org/workload-" + strconv.Itoa(i)
	}
	return keys
}

// allowSerial takes one key per op, cycling through keys.
func allowSerial(b *testing.B, l Limiter, keys []string) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, Take{Key: keys[i%len(keys)], Limit: generous}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// allowParallel is allowSerial from GOMAXPROCS goroutines.
func allowParallel(b *testing.B, l Limiter, keys []string) {
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := l.Allow(ctx, Take{Key: keys[i%len(keys)], Limit: generous}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkMemoryLimiter(b *testing.B) {
	l := NewMemoryLimiter(nil, 0)
	keys := benchKeys(1024)
	b.Run("serial", func(b *testing.B) {
		allowSerial(b, l, keys)
	})
	b.Run("parallel", func(b *testing.B) {
		allowParallel(b, l, keys)
	})
}

func BenchmarkRedisLimiter(b *testing.B) {
	client := newTestClient(b, []string{redistest.SharedAddr(b)}, testTimeout)
	l := NewRedisLimiter(client, randomPrefix(), testTimeout)
	keys := benchKeys(1024)
	ctx := context.Background()
	// Load the script before timing.
	if _, err := l.Allow(ctx, Take{Key: keys[0], Limit: generous}); err != nil {
		b.Fatal(err)
	}
	b.Run("one-key", func(b *testing.B) {
		allowSerial(b, l, keys)
	})
	b.Run("two-keys", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := l.Allow(ctx,
				Take{Key: keys[i%len(keys)], Limit: generous},
				Take{Key: "subject:" + keys[(i+1)%len(keys)], Limit: generous}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("one-key-parallel", func(b *testing.B) {
		allowParallel(b, l, keys)
	})
}

func BenchmarkBulkhead(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		bh := NewBulkhead(64)
		for b.Loop() {
			release, err := bh.Acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bh := NewBulkhead(1 << 20) // never full: measures the admission cost
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				release, err := bh.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				release()
			}
		})
	})
}

func BenchmarkBreaker(b *testing.B) {
	br, err := NewBreaker("bench", BreakerSettings{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ok := func() (int, error) { return 200, nil }
	for b.Loop() {
		if _, err := br.Do(ctx, ok); err != nil {
			b.Fatal(err)
		}
	}
}
