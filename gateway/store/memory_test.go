package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/fakeclock"
)

func TestMemoryLimitRefusesThenEvictsExpired(t *testing.T) {
	clk := fakeclock.New()
	m := NewMemoryLimit(fastPolicy, clk.Now, 3)
	ctx := context.Background()
	key := func(v string, ttl time.Duration) ReplayKey {
		return ReplayKey{Kind: "nonce", Value: []byte(v), TTL: ttl}
	}

	wantSeen(t, m, []ReplayKey{key("a", time.Second), key("b", time.Minute)}, false, false)
	// A batch that does not fit is refused whole: fail closed, nothing recorded.
	if seen, err := m.Remember(ctx, []ReplayKey{key("c", time.Minute), key("d", time.Minute)}); !errors.Is(err, ErrFull) {
		t.Fatalf("Remember over the limit = %v, %v; want ErrFull", seen, err)
	}
	// Replays of known keys and one new key still fit.
	wantSeen(t, m, []ReplayKey{key("a", time.Minute), key("c", time.Minute), key("c", time.Minute)}, true, false, true)
	if _, err := m.Remember(ctx, []ReplayKey{key("d", time.Minute)}); !errors.Is(err, ErrFull) {
		t.Fatalf("Remember when full: %v, want ErrFull", err)
	}
	// Lockout subjects have their own limit: a full replay table does not stop them,
	if _, err := m.Fail(ctx, alice); err != nil {
		t.Fatalf("Fail with a full replay table: %v", err)
	}
	// and a flood of invented user names does not stop replay checks.
	for i := range 2 {
		if _, err := m.Fail(ctx, Attempt{User: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Fail(ctx, Attempt{User: "one-too-many"}); !errors.Is(err, ErrFull) {
		t.Fatalf("Fail over the subject limit: %v, want ErrFull", err)
	}
	wantFail(t, m, alice, false, false) // known subjects still count

	// Expired entries are dropped first: "a" expires after a second.
	clk.Sleep(time.Second)
	wantSeen(t, m, []ReplayKey{key("d", time.Minute)}, false)
	wantSeen(t, m, []ReplayKey{key("b", time.Minute), key("c", time.Minute), key("d", time.Minute)}, true, true, true)
	if m.replays != 3 || len(m.entries) != 6 {
		t.Errorf("replays=%d entries=%d, want 3 and 6", m.replays, len(m.entries))
	}
}

func TestMemoryDropsExpiredEntries(t *testing.T) {
	clk := fakeclock.New()
	m := NewMemory(calmPolicy, clk.Now)
	ctx := context.Background()
	for i := range 1000 {
		wantSeen(t, m, []ReplayKey{{Kind: "nonce", Value: []byte(strconv.Itoa(i)), TTL: time.Duration(1+i%10) * time.Second}}, false)
		if _, err := m.Fail(ctx, Attempt{User: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	wantFail(t, m, Attempt{User: "0"}, true, false) // threshold 2: locked, level kept for backoff + calm
	if len(m.entries) != 2000 {
		t.Fatalf("entries = %d, want 2000", len(m.entries))
	}
	clk.Sleep(5 * time.Second)
	if err := m.Ping(ctx); err != nil { // any operation drops what has expired
		t.Fatal(err)
	}
	if m.replays != 500 {
		t.Errorf("replays = %d after half the TTLs passed, want 500", m.replays)
	}
	clk.Sleep(calmPolicy.Window)
	if err := m.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if len(m.entries) != 0 || len(m.byExpiry) != 0 || m.replays != 0 || m.subjects != 0 {
		t.Errorf("after every TTL: entries=%d heap=%d replays=%d subjects=%d, want all 0",
			len(m.entries), len(m.byExpiry), m.replays, m.subjects)
	}
}

func TestMemoryInvalidPolicyFailsEveryOperation(t *testing.T) {
	m := NewMemory(LockoutPolicy{}, nil)
	ctx := context.Background()
	if _, err := m.Remember(ctx, []ReplayKey{{Kind: "nonce", Value: []byte("x"), TTL: time.Minute}}); err == nil {
		t.Error("Remember: no error")
	}
	if _, err := m.Fail(ctx, alice); err == nil {
		t.Error("Fail: no error")
	}
	if _, err := m.Check(ctx, alice); err == nil {
		t.Error("Check: no error")
	}
	if err := m.Ping(ctx); err == nil {
		t.Error("Ping: no error")
	}
}

func TestMemoryUsesTheClock(t *testing.T) {
	clk := fakeclock.New()
	m := NewMemory(fastPolicy, clk.Now)
	before := clk.Now()
	until := failTimes(t, m, fastPolicy.Threshold, alice).LockedUntil
	if want := before.Add(fastPolicy.BaseBackoff); !until.Equal(want) {
		t.Errorf("until = %v, want exactly %v", until, want)
	}
}

// BenchmarkMemoryRemember measures one request's replay check, three keys, with keys
// expiring as fast as they arrive (steady state).
func BenchmarkMemoryRemember(b *testing.B) {
	clk := fakeclock.New()
	m := NewMemory(fastPolicy, clk.Now)
	ctx := context.Background()
	keys := []ReplayKey{
		{Kind: "nonce", TTL: 100 * time.Millisecond},
		{Kind: "sig", TTL: 100 * time.Millisecond},
		{Kind: "assertion", TTL: 100 * time.Millisecond},
	}
	var bufs [3][]byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range keys {
			bufs[j] = strconv.AppendInt(append(bufs[j][:0], byte('a'+j)), int64(i), 10)
			keys[j].Value = bufs[j]
		}
		clk.Sleep(time.Millisecond)
		if _, err := m.Remember(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}
