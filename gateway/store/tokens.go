package store

import (
	"crypto/sha256"
	"errors"
	"time"
)

// Token is an assertion the STS issued, as recorded in the shared store so
// that every instance can validate, renew or cancel it, and every service
// refuses it once cancelled.
type Token struct {
	// Issuer (the STS's entity ID) and ID (the assertion's ID) name it.
	Issuer, ID string
	// Owner is the requester that obtained it (a workload id or
	// "user:NAME"), Workload the mTLS workload it came through ("" for
	// none), Subject the assertion's subject.
	Owner, Workload, Subject string
	// Expires is the end of the assertion's validity; the record is kept
	// until KeepUntil (at least Expires: services accept an assertion a
	// clock skew after it, the STS renews it a grace period after it).
	Expires, KeepUntil time.Time
	// Cancelled is set by CancelToken.
	Cancelled bool
}

// TokenRef names an issued assertion: its issuer and ID.
type TokenRef struct{ Issuer, ID string }

// ErrTokenInvalid is returned for a token record without issuer or ID, or
// with a KeepUntil before its Expires.
var ErrTokenInvalid = errors.New("store: token needs an issuer, an ID and KeepUntil not before Expires")

func (t *Token) check() error {
	if t.Issuer == "" || t.ID == "" || t.KeepUntil.Before(t.Expires) {
		return ErrTokenInvalid
	}
	return nil
}

// tokenSum is the hash a token's key is named by: issuer and ID, separated
// by a byte neither contains (a NUL is not allowed in XML).
func tokenSum(issuer, id string) [sha256.Size]byte {
	b := make([]byte, 0, len(issuer)+1+len(id))
	b = append(b, issuer...)
	b = append(b, 0)
	b = append(b, id...)
	return sha256.Sum256(b)
}
