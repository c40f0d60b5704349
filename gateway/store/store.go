package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/soap/wssec"
)

// Store is the state shared by all gateway instances.
type Store interface {
	// Remember records each key as seen for its TTL (SET key 1 NX PX ttl semantics) and
	// reports, per key, whether it had been seen before (a replay). All keys of one request
	// go in one round trip. Any error, including a context deadline, is returned: callers
	// fail closed.
	Remember(ctx context.Context, keys []ReplayKey) (seen []bool, err error)
	// Admit is Remember plus, in the same round trip, whether each of the
	// tokens was cancelled (CancelToken). A request carries both: its
	// replay keys and the assertion it presents.
	Admit(ctx context.Context, keys []ReplayKey, tokens []TokenRef) (seen, cancelled []bool, err error)
	// Decide runs every check of one authenticated request against the shared
	// state, in the order and with the all-or-nothing rule of Request, in one
	// round trip where the topology allows (see the package documentation).
	// A refusal is a Decision, not an error; any error, a context deadline
	// included, is returned: callers fail closed.
	Decide(ctx context.Context, req Request) (Decision, error)
	// RecordToken records an assertion the STS issued until its KeepUntil.
	RecordToken(ctx context.Context, t Token) error
	// LookupToken finds an issued assertion's record; ok is false when
	// there is none (never recorded, or no longer kept).
	LookupToken(ctx context.Context, issuer, id string) (t Token, ok bool, err error)
	// CancelToken marks a recorded assertion cancelled for as long as its
	// record is kept; ok is false when there is no record (nothing is
	// written then).
	CancelToken(ctx context.Context, issuer, id string) (ok bool, err error)
	// Check reports whether the attempt's user is locked out and whether its caller is
	// throttled, in one round trip. It only reads.
	Check(ctx context.Context, a Attempt) (Standing, error)
	// Fail records one failed authentication for the attempt's user and caller. A user
	// that reaches Threshold failures within Window is locked for a backoff that
	// doubles with each successive lockout (BaseBackoff..MaxBackoff); a caller that
	// reaches CallerThreshold failures within Window is throttled for CallerBackoff.
	// Either's failure counter then restarts. It reports the standing after counting.
	Fail(ctx context.Context, a Attempt) (Standing, error)
	// Ping reports whether the store can answer.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// ReplayKey is one value that must be accepted at most once during TTL. There
// is one such type: the verifiers that make the keys (wssec, samlsts) and the
// store that records them share wssec's. Kind is chosen by the gateway, never
// by the message ([A-Za-z0-9._-], 1..32 bytes); Value is attacker-chosen and
// only ever stored as its SHA-256; TTL must be positive (Redis stores it
// rounded up to the next millisecond).
type ReplayKey = wssec.ReplayKey

// Attempt names whom one authentication attempt counts against. Users and callers are
// kept apart: the same name as user and as caller are two subjects.
type Attempt struct {
	// User is the user name the message claims (a UsernameToken's), "" when none.
	// Users are locked out.
	User string
	// Caller is the calling workload (its mTLS identity), "" when unknown. A caller
	// is never locked out, because the users behind one portal would all be locked
	// out with it: past CallerThreshold failures it is throttled for CallerBackoff.
	Caller string
}

// Standing is what the store knows of an attempt's user and caller.
type Standing struct {
	// LockedUntil is the end of the user's lockout; zero when the user is not locked.
	LockedUntil time.Time
	// ThrottledUntil is the end of the caller's throttle; zero when not throttled.
	ThrottledUntil time.Time
}

// Locked reports whether the user is locked out.
func (s Standing) Locked() bool { return !s.LockedUntil.IsZero() }

// Throttled reports whether the caller is throttled.
func (s Standing) Throttled() bool { return !s.ThrottledUntil.IsZero() }

// LockoutPolicy configures failed-authentication lockout (users) and throttling
// (callers).
type LockoutPolicy struct {
	// Threshold is the number of failures within Window that locks a user.
	Threshold int
	// Window is how long a failure counter lives, counted from its first failure.
	Window time.Duration
	// BaseBackoff is the length of a user's first lockout; each further lockout
	// doubles it, up to MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// CallerThreshold is the number of failures within Window, over all its users,
	// that throttles a caller; at least Threshold.
	CallerThreshold int
	// CallerBackoff is how long a throttled caller is refused; it does not double.
	CallerBackoff time.Duration
}

// callerPolicy is the policy of callers, in the terms of a user lockout: a fixed
// backoff.
func (p LockoutPolicy) callerPolicy() LockoutPolicy {
	return LockoutPolicy{Threshold: p.CallerThreshold, Window: p.Window, BaseBackoff: p.CallerBackoff, MaxBackoff: p.CallerBackoff}
}

// calmFactor sets how long a subject's lockout level (how many lockouts so far) is
// remembered: calmFactor×MaxBackoff after the end of its last lockout. After that much
// calm the next lockout starts again at BaseBackoff.
const calmFactor = 4

// maxPolicyDuration bounds the policy durations so that doubling and calm arithmetic
// can never overflow.
const maxPolicyDuration = 365 * 24 * time.Hour

// Validate reports the first problem with the policy.
func (p LockoutPolicy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("store: lockout threshold %d must be at least 1", p.Threshold)
	case p.Window < time.Millisecond || p.Window > maxPolicyDuration:
		return fmt.Errorf("store: lockout window %s must be between 1ms and %s", p.Window, maxPolicyDuration)
	case p.BaseBackoff < time.Millisecond || p.BaseBackoff > maxPolicyDuration:
		return fmt.Errorf("store: lockout base backoff %s must be between 1ms and %s", p.BaseBackoff, maxPolicyDuration)
	case p.MaxBackoff < p.BaseBackoff || p.MaxBackoff > maxPolicyDuration:
		return fmt.Errorf("store: lockout max backoff %s must be between the base backoff %s and %s", p.MaxBackoff, p.BaseBackoff, maxPolicyDuration)
	case p.CallerThreshold < p.Threshold:
		return fmt.Errorf("store: lockout caller threshold %d must be at least the user threshold %d", p.CallerThreshold, p.Threshold)
	case p.CallerBackoff < time.Millisecond || p.CallerBackoff > maxPolicyDuration:
		return fmt.Errorf("store: lockout caller backoff %s must be between 1ms and %s", p.CallerBackoff, maxPolicyDuration)
	}
	return nil
}

// backoff is the length of the level-th lockout (level ≥ 1).
func (p LockoutPolicy) backoff(level int) time.Duration {
	d := p.BaseBackoff
	for i := 1; i < level && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// calm is how long the lockout level outlives the end of a lockout.
func (p LockoutPolicy) calm() time.Duration {
	return calmFactor * p.MaxBackoff
}

var (
	// ErrClosed is returned by operations on a closed store.
	ErrClosed = errors.New("store: closed")
	// ErrFull is returned by the memory store when remembering more would exceed its
	// entry limit and nothing has expired yet. Callers refuse the request (fail closed).
	ErrFull = errors.New("store: memory store full")
)

// validateReplayKeys rejects programming errors: unnamed or odd kinds and TTL ≤ 0.
func validateReplayKeys(keys []ReplayKey) error {
	for i, k := range keys {
		if err := validateKind(k.Kind); err != nil {
			return fmt.Errorf("store: replay key %d: %w", i, err)
		}
		if k.TTL <= 0 {
			return fmt.Errorf("store: replay key %d (%s): ttl %s must be positive", i, k.Kind, k.TTL)
		}
	}
	return nil
}

func validateKind(kind string) error {
	if kind == "" || len(kind) > 32 {
		return fmt.Errorf("kind %q must be 1..32 bytes", kind)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("kind %q may only contain [A-Za-z0-9._-]", kind)
		}
	}
	return nil
}

// subject is one lockout subject of an attempt: its hash and its policy.
type subject struct {
	sum    [sha256.Size]byte
	policy LockoutPolicy
	caller bool
}

// subjects returns the attempt's user and caller subjects, those that are named. A
// subject's hash covers its class ("user:" or "caller:"), so that a user and a
// caller of the same name are two subjects.
func (p LockoutPolicy) subjects(a Attempt) []subject {
	out := make([]subject, 0, 2)
	if a.User != "" {
		out = append(out, subject{sum: sha256.Sum256([]byte("user:" + a.User)), policy: p})
	}
	if a.Caller != "" {
		out = append(out, subject{sum: sha256.Sum256([]byte("caller:" + a.Caller)), policy: p.callerPolicy(), caller: true})
	}
	return out
}

// set notes that subject s is locked (user) or throttled (caller) until then.
func (st *Standing) set(s subject, until time.Time) {
	if s.caller {
		st.ThrottledUntil = until
	} else {
		st.LockedUntil = until
	}
}

// Key names (Redis). Every name is built from a hash, never from the attacker's bytes:
//
//	<prefix>replay:<kind>:{<hex sha256(value)>}
//	<prefix>fail:{<hex sha256(subject)>}    failure counter, TTL = Window
//	<prefix>lock:{<hex sha256(subject)>}    present while locked (throttled), TTL = backoff
//	<prefix>level:{<hex sha256(subject)>}   lockouts so far, TTL = backoff + 4×MaxBackoff
//	<prefix>token:{<hex sha256(issuer NUL id)>}  issued assertion (hash: owner, workload,
//	                                         subject, exp, keep, c=1 when cancelled),
//	                                         expires at KeepUntil
//
// where subject is "user:<name>" or "caller:<workload>".
//
// The braces are Redis Cluster hash tags. A replay key is tagged with its own value
// hash, so the same value maps to the same key and slot in every request and on every
// instance; the keys of one request therefore spread over slots, and a Cluster
// pipeline costs one round trip per node involved. (A per-request tag would be wrong:
// the same nonce in a later request would land on a different key and never be seen.)
// A subject's three lockout keys share the subject's tag, so the Lua script that
// updates them touches one slot. Decide also touches the rate limiter's keys,
// "rate:<prefix>limit:{<hex sha256(key)>}" (throttle.RedisKeyName): in one script on
// standalone and Sentinel, in per-slot pipelines on Cluster (see the package
// documentation).

func replayKeyName(prefix, kind string, value []byte) string {
	sum := sha256.Sum256(value)
	var b strings.Builder
	b.Grow(len(prefix) + len("replay:") + len(kind) + 3 + 2*sha256.Size)
	b.WriteString(prefix)
	b.WriteString("replay:")
	b.WriteString(kind)
	b.WriteString(":{")
	writeHex(&b, sum[:])
	b.WriteByte('}')
	return b.String()
}

func subjectKeyName(prefix, what string, sum [sha256.Size]byte) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(what) + 3 + 2*sha256.Size)
	b.WriteString(prefix)
	b.WriteString(what)
	b.WriteString(":{")
	writeHex(&b, sum[:])
	b.WriteByte('}')
	return b.String()
}

func writeHex(b *strings.Builder, p []byte) {
	var buf [2 * sha256.Size]byte
	n := hex.Encode(buf[:], p)
	b.Write(buf[:n])
}
