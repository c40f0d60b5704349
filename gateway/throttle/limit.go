package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Limiter admits requests against rate limits.
type Limiter interface {
	// Allow takes one request from each Take's key against its limit and reports
	// whether all of them admitted it; if not, Result names the key that refused and
	// how long to wait. Each key is charged on its own: a key that admits is charged
	// even when another key of the same call refuses, and a key that refuses is not
	// charged (see the package documentation for why). Naming a key twice takes two.
	// Allow with no Take admits. Errors (an invalid limit, an unreachable Redis, a
	// missed deadline) are returned with a zero Result: callers refuse the request.
	Allow(ctx context.Context, reqs ...Take) (Result, error)
}

// Limit is a rate limit: Rate requests per Per on average, and at most Burst at once.
// With Limit{Rate: 100, Per: time.Second, Burst: 20} an idle key admits 20 requests at
// once, then one every 10ms.
type Limit struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// maxWindow bounds how far ahead a key's state may reach (Burst emission intervals),
// so that the arithmetic cannot overflow.
const maxWindow = 366 * 24 * time.Hour

// Validate reports the first problem with the limit.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1:
		return fmt.Errorf("throttle: limit rate %d must be at least 1", l.Rate)
	case l.Per <= 0 || l.Per > maxWindow:
		return fmt.Errorf("throttle: limit period %s must be positive and at most %s", l.Per, maxWindow)
	case l.Burst < 1:
		return fmt.Errorf("throttle: limit burst %d must be at least 1", l.Burst)
	}
	// Redis measures time in microseconds (TIME); a finer interval cannot be enforced.
	if ei := l.interval(); ei < time.Microsecond {
		return fmt.Errorf("throttle: limit %d per %s is more than one per microsecond", l.Rate, l.Per)
	} else if int64(l.Burst) > int64(maxWindow/ei) {
		return fmt.Errorf("throttle: limit burst %d times the interval %s exceeds %s", l.Burst, ei, maxWindow)
	}
	return nil
}

func (l Limit) String() string {
	return fmt.Sprintf("%d per %s, burst %d", l.Rate, l.Per, l.Burst)
}

// interval is the emission interval of the GCRA: the time one request costs.
func (l Limit) interval() time.Duration {
	return l.Per / time.Duration(l.Rate)
}

// Take is one request against one key's limit.
type Take struct {
	// Key names the budget, e.g. "caller:<workload id>" or "subject:<name>". It may be
	// attacker-chosen: it is only ever stored as its SHA-256.
	Key   string
	Limit Limit
}

// Result is the verdict of Allow.
type Result struct {
	Allowed bool
	// RetryAfter is how long until the refusing key would admit one request (positive
	// when refused, zero when allowed). When several keys refuse it is the longest wait.
	RetryAfter time.Duration
	// Key is the key that refused (the one with the longest wait), empty when allowed.
	Key string
}

// ErrEmptyKey is returned by Allow for a Take without a key.
var ErrEmptyKey = errors.New("throttle: empty limit key")

func validateTakes(reqs []Take) error {
	for i, t := range reqs {
		if t.Key == "" {
			return fmt.Errorf("take %d: %w", i, ErrEmptyKey)
		}
		if err := t.Limit.Validate(); err != nil {
			return fmt.Errorf("take %d: %w", i, err)
		}
	}
	return nil
}

// verdict collects the refusals of one Allow call.
type verdict struct{ Result }

func (v *verdict) refuse(key string, wait time.Duration) {
	wait = max(wait, time.Nanosecond) // refused means there is something to wait for
	if v.Key == "" || wait > v.RetryAfter {
		v.Key, v.RetryAfter = key, wait
	}
}

func (v *verdict) result() Result {
	v.Allowed = v.Key == ""
	return v.Result
}

// limitKeyName is the name under which a key's state is kept:
//
//	<prefix>limit:{<hex sha256(key)>}
//
// The braces are a Redis Cluster hash tag: each key lives in the slot of its own hash,
// the same on every instance. redis_rate puts its own "rate:" in front of the name.
func limitKeyName(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return prefix + "limit:{" + string(buf[:]) + "}"
}

// RedisKeyName is the Redis key under which the Redis limiter keeps key's GCRA state
// for prefix ("" means DefaultPrefix): "rate:<prefix>limit:{<hex sha256(key)>}". The
// store's one-round-trip request check (store.Redis.Decide) charges the same budgets
// in its own script, so both must name them alike.
func RedisKeyName(prefix, key string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return "rate:" + limitKeyName(prefix, key)
}
