// Package throttle protects the gateway and its backends from too much traffic: rate
// limits per caller and per subject (Limiter, in Redis or in memory), a bulkhead per
// backend (Bulkhead: a bound on calls in flight) and a circuit breaker per backend
// (Breaker, on sony/gobreaker). It knows nothing of configuration files: the gateway
// builds these values from its own configuration.
//
// Guarantees:
//
//   - Fail closed. Limiter errors (invalid limit, Redis unreachable, deadline missed) are
//     returned; callers refuse the request. Each Redis Allow is bounded by its timeout and
//     the client recovers by itself when Redis comes back (including an empty script
//     cache after a restart).
//   - One round trip. The Redis limiter sends the redis_rate GCRA script for every key of
//     one request in one pipeline (on Cluster: one round trip per node involved, as each
//     key lives in its own slot). Redis TIME is the clock, so all instances agree.
//   - Hashed keys. Keys (caller ids, subject names) may be attacker-chosen; Redis key
//     names and memory map keys carry only their SHA-256, so none becomes a key name and
//     key length is bounded. Redis keys expire once their budget is full again.
//   - Same answers. The memory limiter implements the same GCRA as redis_rate's script
//     (Rate per Per, Burst at once, RetryAfter until the next request fits) on an
//     injected clock; both pass one test suite.
//   - Bounded memory. The memory limiter holds at most maxKeys keys: keys whose budget is
//     full again are dropped first (they lose nothing), then the key closest to full.
//
// Semantics of a call with several keys: each key is charged on its own. A key that
// admits is charged even when another refuses; a key that refuses is not charged. So a
// caller's budget counts every attempt that passed the caller's own limit, including
// those a subject's limit refused. The reverse case (a caller over its limit still
// charging a subject) means a caller can exhaust a subject's budget at most as fast as
// it sends; since a caller's own limit is normally above any one subject's, an
// all-or-nothing charge would not change that, and it would cost a second round trip
// (Cluster forbids one script over keys in different slots). Lockout after failed
// logins is the store's job, not this package's.
//
// The gateway's request path does not call Allow: store.Redis.Decide charges the
// caller's and the subject's budgets in the same script as the request's lockout
// and replay keys (one round trip), on the same keys (RedisKeyName) with the same
// GCRA as this package's Redis limiter, so the two share every budget. There the
// subject is charged only when the request is otherwise admitted, and the caller
// first, whatever follows.
//
// Limits:
//
//   - The memory limiter is single-instance: with several gateways each enforces the
//     full limit. Under a flood of distinct keys larger than maxKeys it forgets the keys
//     closest to full, which may then burst again early; it never refuses everybody.
//   - Redis keys are "rate:<prefix>limit:{<hex sha256(key)>}" (redis_rate adds "rate:");
//     a Redis ACL for the gateway must allow that pattern as well as "<prefix>*".
//   - A pipeline retried by go-redis after a lost reply may charge a key twice; that
//     errs towards refusing.
//   - The breaker does not read statuses: the caller turns what it counts as a backend
//     failure into an error. It does read the clock: with a slow-call threshold, a call
//     still running after it counts as failed at that moment, so that a hung backend opens
//     the breaker without waiting for the calls' timeouts (which still bound how long the
//     calls already in flight hold their bulkhead slots). Breaker and bulkhead state is
//     per instance.
package throttle
