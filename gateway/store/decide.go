package store

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/gateway/throttle"
)

// Request is everything one request asks of the shared state after it was
// authenticated, decided by one Decide call. The steps run in this order and the
// first refusal ends the decision:
//
//  1. CallerRate, if set, is charged against its limit (GCRA, the same budget
//     as throttle's Redis or memory limiter). Refused: CallerLimited.
//  2. The Attempt's user must not be locked out, its caller not throttled
//     (read only, as Check). Refused: LockedOut.
//     Then no key of Keys may have a freshness that began before the store's
//     current data (see epoch.go): the store cannot know whether it was seen.
//     Refused: Recovered.
//  3. No key of Keys may have been seen before, and none may appear twice in
//     Keys (read only). Refused: Replayed.
//  4. No token of Tokens may be cancelled (read only). Refused: TokenCancelled.
//  5. SubjectRate, if set, is charged. Refused: SubjectLimited.
//  6. Every key of Keys is recorded for its TTL.
//
// Steps 2 to 6 are all or nothing: a request refused at any step records none
// of its keys and charges no subject budget; only the caller's charge of step 1
// stays, because a caller's rate limit counts every attempt past it (as it did
// when the caller was limited first, before the body was read).
type Request struct {
	CallerRate  *throttle.Take
	Attempt     Attempt
	Keys        []ReplayKey
	Tokens      []TokenRef
	SubjectRate *throttle.Take
}

// Refusal says which step of a Request refused it; Admitted when none did.
type Refusal int

// The outcomes of Decide, in the order of the steps.
const (
	Admitted Refusal = iota
	CallerLimited
	LockedOut
	Replayed
	TokenCancelled
	SubjectLimited
	// Recovered comes between LockedOut and Replayed in the order of the
	// steps; it is last here so that the values of the others stay.
	Recovered
)

func (r Refusal) String() string {
	switch r {
	case Admitted:
		return "admitted"
	case CallerLimited:
		return "caller rate limited"
	case LockedOut:
		return "locked out"
	case Replayed:
		return "replayed"
	case TokenCancelled:
		return "token cancelled"
	case SubjectLimited:
		return "subject rate limited"
	case Recovered:
		return "freshness began before the store's data"
	}
	return fmt.Sprintf("refusal(%d)", int(r))
}

// Decision is the outcome of Decide.
type Decision struct {
	Refusal Refusal
	// RetryAfter is how long until the refusing rate limit would admit one
	// request (CallerLimited, SubjectLimited).
	RetryAfter time.Duration
	// Standing is set when LockedOut: whom and until when.
	Standing Standing
	// Seen is set when Replayed: per key of the Request, whether it had been
	// seen before or repeats an earlier key of the same Request.
	Seen []bool
	// Cancelled is set when TokenCancelled: per token, whether it was cancelled.
	Cancelled []bool
	// Stale and Began are set when Recovered: per key, whether its
	// freshness began before Began, when the store's current data began.
	Stale []bool
	Began time.Time
}

// validateRequest rejects programming errors, as Admit and Allow do.
func validateRequest(req Request) error {
	if err := validateReplayKeys(req.Keys); err != nil {
		return err
	}
	for _, t := range req.Tokens {
		if t.Issuer == "" || t.ID == "" {
			return ErrTokenInvalid
		}
	}
	for _, t := range []*throttle.Take{req.CallerRate, req.SubjectRate} {
		if t == nil {
			continue
		}
		if t.Key == "" {
			return fmt.Errorf("store: %w", throttle.ErrEmptyKey)
		}
		if err := t.Limit.Validate(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// repeatsEarlier reports, per name, whether the same name came earlier in names:
// a request that carries one value twice replays it against itself.
func repeatsEarlier[K comparable](names []K) (dup []bool, any bool) {
	dup = make([]bool, len(names))
	for i := range names {
		for j := range i {
			if names[j] == names[i] {
				dup[i], any = true, true
				break
			}
		}
	}
	return dup, any
}
