package store

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultMemoryMaxEntries is the entry limit of NewMemory, for replay keys and for
// lockout subjects each.
const DefaultMemoryMaxEntries = 1 << 20

// Memory is a Store for a single gateway instance: its state is not shared, so replay
// protection, lockout and throttling hold only per instance. It keeps the same semantics as Redis.
//
// Expiry follows the injected clock. Entries sit in a min-heap by expiry, and every
// operation first drops what has expired, so cleanup costs O(log n) per entry and
// needs no background goroutine. Replay keys and lockout subjects are each limited to
// maxEntries live entries; when a write would exceed the limit the store refuses it
// with ErrFull (fail closed) rather than forgetting live entries. Separate limits keep
// a flood of failed logins under invented user names from blocking replay checks.
type Memory struct {
	policy    LockoutPolicy
	policyErr error
	clock     func() time.Time
	max       int

	mu       sync.Mutex
	closed   bool
	entries  map[memKey]*memEntry
	byExpiry expiryHeap
	replays  int // live replay entries
	subjects int // live lockout entries
}

var _ Store = (*Memory)(nil)

// memKey names an entry by hash, like the Redis key names. Kind is "" for a lockout
// subject (replay kinds are never empty).
type memKey struct {
	kind string
	sum  [sha256.Size]byte
}

type memEntry struct {
	key     memKey
	expires time.Time // the entry is dropped at this instant
	index   int       // position in byExpiry

	// Lockout state; zero for replay entries. Each field means something only before
	// its deadline, as if it were a Redis key with that TTL.
	fails       int
	failsUntil  time.Time
	lockedUntil time.Time
	level       int
	levelUntil  time.Time
}

// NewMemory returns an in-memory store with DefaultMemoryMaxEntries. A nil clock means
// time.Now. An invalid policy makes every operation return the validation error.
func NewMemory(policy LockoutPolicy, clock func() time.Time) *Memory {
	return NewMemoryLimit(policy, clock, DefaultMemoryMaxEntries)
}

// NewMemoryLimit is NewMemory with an explicit entry limit (at least 1).
func NewMemoryLimit(policy LockoutPolicy, clock func() time.Time, maxEntries int) *Memory {
	if clock == nil {
		clock = time.Now
	}
	return &Memory{
		policy:    policy,
		policyErr: policy.Validate(),
		clock:     clock,
		max:       max(maxEntries, 1),
		entries:   make(map[memKey]*memEntry),
	}
}

// begin locks the store, checks it is usable and drops expired entries. On success
// the caller must unlock m.mu.
func (m *Memory) begin(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if m.policyErr != nil {
		return time.Time{}, m.policyErr
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return time.Time{}, ErrClosed
	}
	now := m.clock()
	for len(m.byExpiry) > 0 && !now.Before(m.byExpiry[0].expires) {
		m.drop(heap.Pop(&m.byExpiry).(*memEntry))
	}
	return now, nil
}

func (m *Memory) drop(e *memEntry) {
	delete(m.entries, e.key)
	if e.key.kind == "" {
		m.subjects--
	} else {
		m.replays--
	}
}

func (m *Memory) add(e *memEntry) {
	m.entries[e.key] = e
	heap.Push(&m.byExpiry, e)
	if e.key.kind == "" {
		m.subjects++
	} else {
		m.replays++
	}
}

// Remember implements Store.
func (m *Memory) Remember(ctx context.Context, keys []ReplayKey) ([]bool, error) {
	if err := validateReplayKeys(keys); err != nil {
		return nil, err
	}
	mk := make([]memKey, len(keys))
	for i, k := range keys {
		mk[i] = memKey{kind: k.Kind, sum: sha256.Sum256(k.Value)}
	}
	now, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()

	// All or nothing: check the limit for the whole batch before writing.
	added := 0
	for i, k := range mk {
		if m.entries[k] == nil && !repeats(mk[:i], k) {
			added++
		}
	}
	if m.replays+added > m.max {
		return nil, ErrFull
	}
	seen := make([]bool, len(keys))
	for i, k := range mk {
		if m.entries[k] != nil {
			seen[i] = true
			continue
		}
		m.add(&memEntry{key: k, expires: now.Add(keys[i].TTL)})
	}
	return seen, nil
}

func repeats(keys []memKey, k memKey) bool {
	for _, other := range keys {
		if other == k {
			return true
		}
	}
	return false
}

// Check implements Store. It only reads.
func (m *Memory) Check(ctx context.Context, a Attempt) (Standing, error) {
	subjects := m.policy.subjects(a)
	now, err := m.begin(ctx)
	if err != nil {
		return Standing{}, err
	}
	defer m.mu.Unlock()

	var st Standing
	for _, s := range subjects {
		if e := m.entries[memKey{sum: s.sum}]; e != nil && now.Before(e.lockedUntil) {
			st.set(s, e.lockedUntil)
		}
	}
	return st, nil
}

// Fail implements Store with the same steps as the Redis script.
func (m *Memory) Fail(ctx context.Context, a Attempt) (Standing, error) {
	subjects := m.policy.subjects(a)
	now, err := m.begin(ctx)
	if err != nil {
		return Standing{}, err
	}
	defer m.mu.Unlock()

	added := 0
	for _, s := range subjects {
		if m.entries[memKey{sum: s.sum}] == nil {
			added++
		}
	}
	if m.subjects+added > m.max {
		return Standing{}, ErrFull
	}

	var st Standing
	for _, s := range subjects {
		p := s.policy
		e := m.entries[memKey{sum: s.sum}]
		if e == nil {
			e = &memEntry{key: memKey{sum: s.sum}}
			m.add(e)
		}
		if now.Before(e.lockedUntil) { // locked: not counted further
			st.set(s, e.lockedUntil)
			continue
		}
		if !now.Before(e.failsUntil) {
			e.fails = 0
		}
		e.fails++
		if e.fails == 1 {
			e.failsUntil = now.Add(p.Window)
		}
		if e.fails >= p.Threshold {
			e.fails, e.failsUntil = 0, time.Time{}
			if !now.Before(e.levelUntil) {
				e.level = 0
			}
			e.level++
			e.lockedUntil = now.Add(p.backoff(e.level))
			e.levelUntil = e.lockedUntil.Add(p.calm())
			st.set(s, e.lockedUntil)
		}
		e.expires = latest(e.failsUntil, latest(e.lockedUntil, e.levelUntil))
		heap.Fix(&m.byExpiry, e.index)
	}
	return st, nil
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Ping implements Store.
func (m *Memory) Ping(ctx context.Context) error {
	if _, err := m.begin(ctx); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Close implements Store: it forgets everything, and later operations fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.entries, m.byExpiry = nil, nil
	m.replays, m.subjects = 0, 0
	return nil
}

// expiryHeap orders entries by expiry, earliest first.
type expiryHeap []*memEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
