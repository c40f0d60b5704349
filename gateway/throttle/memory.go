package throttle

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultMemoryMaxKeys is the key limit of NewMemoryLimiter when maxKeys is not positive.
const DefaultMemoryMaxKeys = 1 << 17

// memoryLimiter is a GCRA limiter for one gateway instance, with the same algorithm and
// the same answers as the Redis limiter (redis_rate's script), on an injected clock.
//
// A key's whole state is its theoretical arrival time (TAT): the time at which its
// budget is full again. A key whose TAT has passed is indistinguishable from a key never
// seen, so dropping it loses nothing. Keys sit in a min-heap by TAT; every call first
// drops the keys that are full again. When a new key would exceed maxKeys although no key
// is idle, the key closest to idle is forgotten: that key gets its full burst again
// early, which is the least that can be given away, and memory stays bounded without
// refusing everybody once an attacker has filled the table with invented keys.
type memoryLimiter struct {
	clock func() time.Time
	max   int

	mu   sync.Mutex
	keys map[[sha256.Size]byte]*memKey
	heap keyHeap
}

type memKey struct {
	sum   [sha256.Size]byte
	tat   time.Time
	index int // in heap
}

var _ Limiter = (*memoryLimiter)(nil)

// NewMemoryLimiter returns a Limiter whose state lives in this process only, for a
// gateway without Redis: several instances each enforce the full limit. clock nil
// means time.Now; maxKeys not positive means DefaultMemoryMaxKeys.
func NewMemoryLimiter(clock func() time.Time, maxKeys int) Limiter {
	if clock == nil {
		clock = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMemoryMaxKeys
	}
	return &memoryLimiter{clock: clock, max: maxKeys, keys: make(map[[sha256.Size]byte]*memKey)}
}

// Allow implements Limiter.
func (m *memoryLimiter) Allow(ctx context.Context, reqs ...Take) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := validateTakes(reqs); err != nil {
		return Result{}, err
	}
	sums := make([][sha256.Size]byte, len(reqs))
	for i, t := range reqs {
		sums[i] = sha256.Sum256([]byte(t.Key))
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	for len(m.heap) > 0 && !m.heap[0].tat.After(now) {
		delete(m.keys, heap.Pop(&m.heap).(*memKey).sum)
	}

	var v verdict
	for i, t := range reqs {
		k := m.keys[sums[i]]
		tat := now
		if k != nil && k.tat.After(now) {
			tat = k.tat
		}
		ei := t.Limit.interval()
		newTAT := tat.Add(ei)
		// The request fits if, after it, the key is at most Burst intervals ahead of now.
		if allowAt := newTAT.Add(-ei * time.Duration(t.Limit.Burst)); allowAt.After(now) {
			v.refuse(t.Key, allowAt.Sub(now))
			continue
		}
		if k == nil {
			if len(m.keys) >= m.max {
				delete(m.keys, heap.Pop(&m.heap).(*memKey).sum) // the key closest to idle
			}
			k = &memKey{sum: sums[i], tat: newTAT}
			m.keys[k.sum] = k
			heap.Push(&m.heap, k)
			continue
		}
		k.tat = newTAT
		heap.Fix(&m.heap, k.index)
	}
	return v.result(), nil
}

// len reports how many keys the limiter holds (for tests).
func (m *memoryLimiter) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// keyHeap orders keys by TAT, earliest (closest to idle) first.
type keyHeap []*memKey

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].tat.Before(h[j].tat) }
func (h keyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *keyHeap) Push(x any) {
	k := x.(*memKey)
	k.index = len(*h)
	*h = append(*h, k)
}
func (h *keyHeap) Pop() any {
	old := *h
	k := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	k.index = -1
	return k
}
