// Package store holds the state that Gatehouse instances share: replay keys (nonces,
// signature values, message IDs, one-time assertion IDs), failed-authentication lockout
// of users and throttling of callers, and the records of the assertions the STS issued
// (RecordToken, LookupToken, CancelToken), so that every instance can validate, renew or
// cancel them. Redis is the implementation for production (standalone, Sentinel or
// Cluster); Memory serves a single instance. Both pass one conformance suite.
//
// Guarantees:
//
//   - Fail closed. Every error is returned, a missed deadline included; callers refuse
//     the request when the store cannot answer. Each Redis operation is bounded by
//     RedisOptions.Timeout, and the client recovers by itself when Redis comes back.
//   - Hashed keys. Replay values and lockout subjects are attacker-chosen bytes; key
//     names carry only their SHA-256 (see the key layout in store.go), so no raw value
//     ever becomes a key name and key length is bounded.
//   - One round trip per request. Decide takes everything one authenticated request
//     asks of the shared state: its caller's rate limit, the lockout of its user and
//     caller, all its replay keys, the cancellation of the assertion it presents and
//     its subject's rate limit (see Request for the order). It is all or nothing: a
//     request refused at any step records none of its replay keys and charges no
//     subject budget (only the caller's charge stays, as every attempt counts
//     against the caller). On standalone Redis and Sentinel Decide is one Lua
//     script (EVALSHA; EVAL when the server answers NOSCRIPT, after a restart or
//     SCRIPT FLUSH): one round trip, atomic. The rate budgets are the ones
//     throttle's Redis limiter keeps (same keys, same GCRA state), so Decide and the
//     limiter, and old and new instances in a rolling upgrade, share them.
//   - Cluster: key names are unchanged, so the keys of one request sit in several
//     slots and no one script may touch them all. Decide then sends two pipelines
//     (reads and the caller's charge; then the subject's charge and SET NX of the
//     keys, each marked with a value of the request's own), each one round trip per
//     node, the nodes in parallel; a request refused after the SETs takes its keys
//     back (compare-and-delete), a third round trip for refused requests only.
//     Why not one hash tag for a request's keys: a replay key must be found by any
//     instance for any later request carrying the same value, so its slot may
//     depend only on the value (as today) or on a fixed tag. A fixed tag for all
//     replay keys, and with them every rate and lockout key a script would touch,
//     would put all of Gatehouse's state and every request's writes on one Cluster
//     node: Cluster would then be a standalone server with extra steps. Deployments
//     that want one round trip run standalone or Sentinel.
//   - The other calls. Remember sends all keys of one request in one pipeline of
//     SET key 1 NX PX ttl, reporting each key on its own (not all or nothing);
//     Admit adds HGET of each presented token's record to that same pipeline.
//     Check and Fail send one pipeline for the attempt's user and caller. A
//     subject's lockout keys share one hash tag, so its Lua script runs in one slot.
//   - Lockout and throttling. Threshold failures within Window lock a user for
//     BaseBackoff, doubling with each further lockout up to MaxBackoff; each lockout
//     restarts the failure counter. A caller (the workload in front of many users, such
//     as a portal) is never locked out: CallerThreshold failures within Window, over all
//     its users, throttle it for CallerBackoff, which does not double. Failures while
//     locked (throttled) are not counted. Nothing resets a counter on
//     success (a successful login by someone else must not clear an attacker's count):
//     counters expire with Window, and the lockout level expires after 4×MaxBackoff of
//     calm following the end of the last lockout.
//
// Limits:
//
//   - Memory is single-instance only: several gateways each with their own Memory do
//     not see each other's replay keys or failures. The gateway says so at start-up.
//     Memory refuses writes beyond its entry limit (ErrFull) instead of forgetting live
//     replay keys.
//   - Redis must not evict replay keys: run it with maxmemory-policy noeviction, so that a
//     full Redis refuses writes (and the gateway refuses requests) instead of silently
//     dropping remembered values, which would reopen the replay window. Replay keys also
//     rely on Redis persistence/replication: a failover to a replica that missed the
//     latest writes can forget the most recent keys.
//   - A token record lives until its KeepUntil (PEXPIREAT, server clock). A
//     cancellation is a field of the record: it cannot outlive it, and CancelToken
//     never creates a record (a Lua script marks only an existing one).
//   - Redis expiry runs on the server clock; "until" times are computed on the gateway
//     clock from the remaining TTL.
package store
