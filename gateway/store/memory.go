package store

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/gateway/throttle"
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
	// began is when the store's data began, its construction: a gateway
	// restarted with the memory store forgot every replay key (see epoch.go).
	began time.Time
	// limiter keeps the rate budgets Decide charges; it bounds itself (see
	// throttle.NewMemoryLimiter).
	limiter throttle.Limiter

	mu       sync.Mutex
	closed   bool
	entries  map[memKey]*memEntry
	byExpiry expiryHeap
	replays  int // live replay entries
	subjects int // live lockout entries
	tokens   int // live token records
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

	// token is set for an issued-token record (kind tokenKind).
	token *Token
}

// tokenKind is the kind of token records: a kind validateKind refuses, so
// that no replay key can collide with it.
const tokenKind = "\x00token"

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
		began:     clock(),
		max:       max(maxEntries, 1),
		limiter:   throttle.NewMemoryLimiter(clock, 0),
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
	*m.counter(e.key) -= 1
}

func (m *Memory) add(e *memEntry) {
	m.entries[e.key] = e
	heap.Push(&m.byExpiry, e)
	*m.counter(e.key) += 1
}

// counter is the count of live entries of k's sort.
func (m *Memory) counter(k memKey) *int {
	switch k.kind {
	case "":
		return &m.subjects
	case tokenKind:
		return &m.tokens
	}
	return &m.replays
}

// Remember implements Store.
func (m *Memory) Remember(ctx context.Context, keys []ReplayKey) ([]bool, error) {
	seen, _, err := m.Admit(ctx, keys, nil)
	return seen, err
}

// Admit implements Store.
func (m *Memory) Admit(ctx context.Context, keys []ReplayKey, tokens []TokenRef) ([]bool, []bool, error) {
	if err := validateReplayKeys(keys); err != nil {
		return nil, nil, err
	}
	for _, t := range tokens {
		if t.Issuer == "" || t.ID == "" {
			return nil, nil, ErrTokenInvalid
		}
	}
	mk := make([]memKey, len(keys))
	for i, k := range keys {
		mk[i] = memKey{kind: k.Kind, sum: sha256.Sum256(k.Value)}
	}
	now, err := m.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer m.mu.Unlock()
	seen, err := m.remember(now, keys, mk)
	if err != nil {
		return nil, nil, err
	}
	cancelled := make([]bool, len(tokens))
	for i, t := range tokens {
		if e := m.entries[memKey{kind: tokenKind, sum: tokenSum(t.Issuer, t.ID)}]; e != nil {
			cancelled[i] = e.token.Cancelled
		}
	}
	return seen, cancelled, nil
}

// Decide implements Store: the steps of Request, in order, under the store's lock.
func (m *Memory) Decide(ctx context.Context, req Request) (Decision, error) {
	if err := validateRequest(req); err != nil {
		return Decision{}, err
	}
	subjects := m.policy.subjects(req.Attempt)
	mk := make([]memKey, len(req.Keys))
	for i, k := range req.Keys {
		mk[i] = memKey{kind: k.Kind, sum: sha256.Sum256(k.Value)}
	}
	now, err := m.begin(ctx)
	if err != nil {
		return Decision{}, err
	}
	defer m.mu.Unlock()

	if req.CallerRate != nil {
		res, err := m.limiter.Allow(ctx, *req.CallerRate)
		if err != nil {
			return Decision{}, err
		}
		if !res.Allowed {
			return Decision{Refusal: CallerLimited, RetryAfter: res.RetryAfter}, nil
		}
	}
	var st Standing
	for _, s := range subjects {
		if e := m.entries[memKey{sum: s.sum}]; e != nil && now.Before(e.lockedUntil) {
			st.set(s, e.lockedUntil)
		}
	}
	if st.Locked() || st.Throttled() {
		return Decision{Refusal: LockedOut, Standing: st}, nil
	}
	if stale, any := staleKeys(req.Keys, m.began); any {
		return Decision{Refusal: Recovered, Stale: stale, Began: m.began}, nil
	}
	seen, replayed := repeatsEarlier(mk)
	added := 0
	for i, k := range mk {
		switch {
		case m.entries[k] != nil:
			seen[i], replayed = true, true
		case !seen[i]:
			added++
		}
	}
	if replayed {
		return Decision{Refusal: Replayed, Seen: seen}, nil
	}
	cancelled, anyCancelled := make([]bool, len(req.Tokens)), false
	for i, t := range req.Tokens {
		if e := m.entries[memKey{kind: tokenKind, sum: tokenSum(t.Issuer, t.ID)}]; e != nil && e.token.Cancelled {
			cancelled[i], anyCancelled = true, true
		}
	}
	if anyCancelled {
		return Decision{Refusal: TokenCancelled, Cancelled: cancelled}, nil
	}
	if m.replays+added > m.max {
		return Decision{}, ErrFull
	}
	if req.SubjectRate != nil {
		res, err := m.limiter.Allow(ctx, *req.SubjectRate)
		if err != nil {
			return Decision{}, err
		}
		if !res.Allowed {
			return Decision{Refusal: SubjectLimited, RetryAfter: res.RetryAfter}, nil
		}
	}
	for i, k := range mk {
		m.add(&memEntry{key: k, expires: now.Add(req.Keys[i].TTL)})
	}
	return Decision{Refusal: Admitted}, nil
}

// remember records keys (mk their entry keys) at now; m.mu is held.
func (m *Memory) remember(now time.Time, keys []ReplayKey, mk []memKey) ([]bool, error) {
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

// RecordToken implements Store. Recording a token again replaces its
// record (and forgets a cancellation): the STS records each ID once.
func (m *Memory) RecordToken(ctx context.Context, t Token) error {
	if err := t.check(); err != nil {
		return err
	}
	now, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	k := memKey{kind: tokenKind, sum: tokenSum(t.Issuer, t.ID)}
	if e := m.entries[k]; e != nil {
		heap.Remove(&m.byExpiry, e.index)
		m.drop(e)
	}
	if !now.Before(t.KeepUntil) {
		return nil // already past keeping, as Redis's PEXPIREAT in the past
	}
	if m.tokens+1 > m.max {
		return ErrFull
	}
	t.Cancelled = false
	m.add(&memEntry{key: k, expires: t.KeepUntil, token: &t})
	return nil
}

// LookupToken implements Store.
func (m *Memory) LookupToken(ctx context.Context, issuer, id string) (Token, bool, error) {
	if issuer == "" || id == "" {
		return Token{}, false, ErrTokenInvalid
	}
	if _, err := m.begin(ctx); err != nil {
		return Token{}, false, err
	}
	defer m.mu.Unlock()
	e := m.entries[memKey{kind: tokenKind, sum: tokenSum(issuer, id)}]
	if e == nil {
		return Token{}, false, nil
	}
	return *e.token, true, nil
}

// CancelToken implements Store.
func (m *Memory) CancelToken(ctx context.Context, issuer, id string) (bool, error) {
	if issuer == "" || id == "" {
		return false, ErrTokenInvalid
	}
	if _, err := m.begin(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	e := m.entries[memKey{kind: tokenKind, sum: tokenSum(issuer, id)}]
	if e == nil {
		return false, nil
	}
	e.token.Cancelled = true
	return true, nil
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
	m.replays, m.subjects, m.tokens = 0, 0, 0
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
