package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/gateway/throttle"
	"github.com/gatehouse/gatehouse/soap"
)

// Admission: one shared-store round trip per request.
//
// An authenticated request is decided by one store.Decide call: the caller's rate
// limit, the lockout of its user and caller, its replay keys, the cancellation of
// the assertion it presents and the subject's rate limit, in that order, all or
// nothing (see store.Request). The caller's rate limit and the lockout used to be
// asked of the store before the body was read and before the signature was
// verified; they are now answered there from a local memo of earlier refusals
// (refusalMemo), so a refused caller or user still costs no work, and the store
// answers for them in the one Decide after authentication.
//
// A request that fails before Decide (a bad body, a bad signature) would then never
// be charged against its caller's limit, and an attacker sending only broken
// messages would never be limited. So the failure path charges the caller
// (settleCaller), and a failed authentication also reads the lockout in the same
// call (authFailed): each such request is answered exactly as before, with the
// rate limit first, then the lockout, then its own fault. Those refusals cost one
// round trip (two when a failed login is counted), not the requests that succeed.

// refusalMemo remembers, per key, until when the shared store refused it: a rate
// limit's key until the wait it reported, a locked user or a throttled caller until
// the end of the lock. Both only ever get longer while they last (a refused GCRA
// request charges nothing; a lock is not shortened), so the memo answers as the
// store would, at most a round trip's time longer. It is bounded: when full, expired
// entries are dropped, and if none has expired a new refusal is not remembered (the
// store still answers for it).
type refusalMemo struct {
	mu    sync.Mutex
	until map[string]time.Time
	max   int
}

const refusalMemoMax = 1 << 14

func newRefusalMemo() *refusalMemo {
	return &refusalMemo{until: make(map[string]time.Time), max: refusalMemoMax}
}

// refusedUntil reports until when key is refused, if it still is at now.
func (m *refusalMemo) refusedUntil(key string, now time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.until[key]
	if !ok {
		return time.Time{}, false
	}
	if !now.Before(u) {
		delete(m.until, key)
		return time.Time{}, false
	}
	return u, true
}

func (m *refusalMemo) refuse(key string, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.until[key]; !ok && len(m.until) >= m.max {
		for k, u := range m.until {
			if !now.Before(u) {
				delete(m.until, k)
			}
		}
		if len(m.until) >= m.max {
			return
		}
	}
	if until.After(m.until[key]) {
		m.until[key] = until
	}
}

func rateMemoKey(take string) string       { return "rate\x00" + take }
func lockMemoKey(kind, name string) string { return "lock\x00" + kind + "\x00" + name }

// shedCaller refuses a caller the memo knows to be over its rate limit, and
// otherwise notes that the request is to be charged against it.
func (g *Gateway) shedCaller(tx *transaction, w http.ResponseWriter, svc *service, who string) error {
	if g.rates == nil || g.rates.caller == nil || who == "" {
		return nil
	}
	take := throttle.Take{Key: "caller:" + who, Limit: *g.rates.caller}
	now := g.now()
	if until, ok := g.refusals.refusedUntil(rateMemoKey(take.Key), now); ok {
		return g.rateLimited(w, svc, "caller", who, until.Sub(now))
	}
	tx.callerTake = &take
	return nil
}

// rateLimited is the answer over a rate limit: 429 with Retry-After.
func (g *Gateway) rateLimited(w http.ResponseWriter, svc *service, kind, key string, wait time.Duration) error {
	g.metrics.throttled.WithLabelValues(svc.name, kind).Inc()
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return soap.SenderFault("too many requests", fmt.Errorf("rate limit for %s %q: retry after %v", kind, key, wait)).
		WithStatus(http.StatusTooManyRequests)
}

// shedLockout refuses, before any expensive check, a caller the memo knows to be
// throttled and a user it knows to be locked out.
func (g *Gateway) shedLockout(svc *service, a store.Attempt) error {
	now := g.now()
	var st store.Standing
	if a.Caller != "" {
		st.ThrottledUntil, _ = g.refusals.refusedUntil(lockMemoKey("caller", a.Caller), now)
	}
	if a.User != "" {
		st.LockedUntil, _ = g.refusals.refusedUntil(lockMemoKey("user", a.User), now)
	}
	return g.lockedOut(svc, a, st)
}

// lockedOut is the answer to a throttled caller (429) or a locked user; nil when
// st says neither.
func (g *Gateway) lockedOut(svc *service, a store.Attempt, st store.Standing) error {
	if st.Throttled() {
		g.metrics.throttled.WithLabelValues(svc.name, "authFailures").Inc()
		return soap.SenderFault("too many requests",
			fmt.Errorf("caller %q throttled until %s after repeated authentication failures", a.Caller, st.ThrottledUntil.UTC().Format(time.RFC3339))).
			WithStatus(http.StatusTooManyRequests)
	}
	if st.Locked() {
		return soap.SecurityFault(soap.FaultFailedAuthentication, "authentication failed",
			fmt.Errorf("user %q locked out until %s after repeated authentication failures", a.User, st.LockedUntil.UTC().Format(time.RFC3339)))
	}
	return nil
}

// noteStanding remembers the locks st reports.
func (g *Gateway) noteStanding(a store.Attempt, st store.Standing) {
	now := g.now()
	if st.Throttled() {
		g.refusals.refuse(lockMemoKey("caller", a.Caller), st.ThrottledUntil, now)
	}
	if st.Locked() {
		g.refusals.refuse(lockMemoKey("user", a.User), st.LockedUntil, now)
	}
}

// decide sends req with the caller's pending charge, if any, and answers the
// refusals of its first steps: the caller's rate limit, then the lockout.
func (g *Gateway) decide(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, req store.Request) (store.Decision, error) {
	req.CallerRate = tx.callerTake
	tx.callerTake = nil // charged now, whatever the answer
	d, err := g.store.Decide(ctx, req)
	if err != nil {
		return d, storeUnavailable(err)
	}
	switch d.Refusal {
	case store.CallerLimited:
		g.refusals.refuse(rateMemoKey(req.CallerRate.Key), g.now().Add(d.RetryAfter), g.now())
		return d, g.rateLimited(w, svc, "caller", req.CallerRate.Key[len("caller:"):], d.RetryAfter)
	case store.LockedOut:
		g.noteStanding(req.Attempt, d.Standing)
		return d, g.lockedOut(svc, req.Attempt, d.Standing)
	}
	return d, nil
}

// settleCaller charges a request that failed before its Decide against its caller's
// limit, as every request past the caller's limit was charged before. Over the
// limit, or with the store unreachable, the answer is what it was when the caller
// was limited first: 429, or 503.
func (g *Gateway) settleCaller(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, err error) error {
	if tx.callerTake == nil {
		return err
	}
	if _, refused := g.decide(ctx, tx, w, svc, store.Request{}); refused != nil {
		return refused
	}
	return err
}

// authFailed answers a request whose authentication failed after the lockout
// point: the caller's charge and the lockout are read in one call and answered
// first, as they were before the signature was verified; then, if count, a failed
// login is counted (countFailure).
func (g *Gateway) authFailed(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, a store.Attempt, err error, count bool) error {
	if _, refused := g.decide(ctx, tx, w, svc, store.Request{Attempt: a}); refused != nil {
		return refused
	}
	if count {
		g.countFailure(ctx, svc, a, err)
	}
	return err
}

// admit decides an authenticated request: its caller's charge, its lockout, every
// replay key of its Identity, the cancellation of the assertion it presents and
// its subject's rate limit (nil: none), in one store round trip. A key seen before,
// a cancelled assertion or a limit reached refuses the request, and then none of
// its keys is recorded.
func (g *Gateway) admit(ctx context.Context, tx *transaction, w http.ResponseWriter, svc *service, id *Identity, subject *throttle.Take) error {
	req := store.Request{Keys: id.ReplayKeys, SubjectRate: subject}
	if tx.attempt != nil {
		req.Attempt = *tx.attempt
	}
	if id.TokenID != "" && id.Issuer != "" {
		req.Tokens = []store.TokenRef{{Issuer: id.Issuer, ID: id.TokenID}}
	}
	if tx.callerTake == nil && len(req.Keys) == 0 && len(req.Tokens) == 0 && subject == nil && req.Attempt == (store.Attempt{}) {
		return nil
	}
	d, err := g.decide(ctx, tx, w, svc, req)
	if err != nil {
		return err
	}
	switch d.Refusal {
	case store.Replayed:
		for i, replay := range d.Seen {
			if replay {
				g.metrics.replays.WithLabelValues(req.Keys[i].Kind).Inc()
				return soap.SecurityFault(soap.FaultInvalidSecurity, "security error in the message",
					fmt.Errorf("replay: %s already seen", req.Keys[i].Kind))
			}
		}
	case store.Recovered:
		for i, stale := range d.Stale {
			if stale {
				g.metrics.recoveryRefusals.WithLabelValues(req.Keys[i].Kind).Inc()
				return soap.SecurityFault(soap.FaultMessageExpired, "message expired",
					fmt.Errorf("%s: the message's freshness began before the shared store's data (%s): it may have been accepted before the store lost it",
						req.Keys[i].Kind, d.Began.UTC().Format(time.RFC3339)))
			}
		}
	case store.TokenCancelled:
		for i, c := range d.Cancelled {
			if c {
				return soap.SecurityFault(soap.FaultInvalidSecurityToken, "security token not valid",
					fmt.Errorf("assertion %s of %s was cancelled at the STS", req.Tokens[i].ID, req.Tokens[i].Issuer))
			}
		}
	case store.SubjectLimited:
		return g.rateLimited(w, svc, "subject", subject.Key[len("subject:"):], d.RetryAfter)
	case store.Admitted:
		return nil
	}
	return storeUnavailable(fmt.Errorf("unexpected decision %v", d.Refusal))
}
