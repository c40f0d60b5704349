package samlsts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// TokenStore is where the STS records what it issues: the store all
// gateway instances share, so that any instance validates, renews or
// cancels what another issued, and every service refuses a cancelled
// assertion.
type TokenStore interface {
	// Record notes an issued assertion until t.KeepUntil.
	Record(ctx context.Context, t IssuedToken) error
	// Lookup finds the record of an assertion; ok is false when there is
	// none.
	Lookup(ctx context.Context, issuer, id string) (t IssuedToken, ok bool, err error)
	// Cancel marks a recorded assertion cancelled; ok is false when there
	// is no record.
	Cancel(ctx context.Context, issuer, id string) (ok bool, err error)
}

// IssuedToken is the record of an issued assertion.
type IssuedToken struct {
	Issuer, ID string
	// Owner is the requester that obtained it (a workload id, or
	// "user:NAME" for a UsernameToken user); Workload is the mTLS
	// workload of that request ("" for none).
	Owner, Workload, Subject string
	Expires, KeepUntil       time.Time
	Cancelled                bool
}

// errCancelled says that a token was cancelled.
var errCancelled = errors.New("the token was cancelled")

// record notes an assertion the STS just issued for the requester.
func (s *STS) record(ctx context.Context, id, actor string, who Requester, req IssueRequest) error {
	if s.Store == nil {
		return nil
	}
	exp := s.Issuer.Clock().Add(req.Lifetime)
	t := IssuedToken{Issuer: s.Issuer.EntityID, ID: id, Owner: actor, Workload: who.Workload, Subject: req.Subject,
		Expires: exp, KeepUntil: exp.Add(s.Retention)}
	if err := s.Store.Record(ctx, t); err != nil {
		// Fail closed: a token that cannot be recorded could not be cancelled.
		return soap.ReceiverFault("token could not be issued", fmt.Errorf("record issued token: %w", err))
	}
	return nil
}

// notCancelled returns errCancelled if the STS's assertion id was
// cancelled, a receiver fault if the store cannot say.
func (s *STS) notCancelled(ctx context.Context, id string) error {
	if s.Store == nil {
		return nil
	}
	t, ok, err := s.Store.Lookup(ctx, s.Issuer.EntityID, id)
	if err != nil {
		return soap.ReceiverFault("service temporarily unavailable", fmt.Errorf("look up issued token: %w", err))
	}
	if ok && t.Cancelled {
		return fmt.Errorf("assertion %s: %w", id, errCancelled)
	}
	return nil
}

// cancel answers a Cancel request (WS-Trust 1.3, 8). CancelTarget holds the
// assertion (its signature is checked, expired or not) or a
// wsse:SecurityTokenReference with a #SAMLID KeyIdentifier naming it. The
// token must be recorded (issued by this STS and still kept), and the
// requester must be the one that obtained it or come through the same
// mTLS workload. A cancelled token stays cancelled for as long as its
// record is kept, which outlasts every service's acceptance of it.
func (s *STS) cancel(ctx context.Context, rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	out := Outcome{RequestType: RequestCancel}
	if s.Store == nil {
		return nil, out, trustFault(FaultInvalidRequest, "request type not supported", "Cancel needs a token store")
	}
	id, err := s.cancelTarget(child(rst, NSTrust, "CancelTarget"))
	if err != nil {
		return nil, out, err
	}
	out.AssertionID = id
	_, _, actor, err := s.requester(who)
	if err != nil {
		return nil, out, err
	}
	t, ok, err := s.Store.Lookup(ctx, s.Issuer.EntityID, id)
	if err != nil {
		return nil, out, soap.ReceiverFault("service temporarily unavailable", fmt.Errorf("look up issued token: %w", err))
	}
	if !ok {
		return nil, out, trustFault(FaultInvalidRequest, "token cannot be cancelled", "no record of assertion %q: not issued by this STS, or no longer kept", id)
	}
	out.Subject = t.Subject
	sameWorkload := who.Workload != "" && who.Workload == t.Workload
	if actor != t.Owner && !sameWorkload {
		return nil, out, trustFault(FaultInvalidRequest, "token cannot be cancelled", "requester %q (workload %q) neither obtained assertion %q nor shares its workload", actor, who.Workload, id)
	}
	if ok, err := s.Store.Cancel(ctx, s.Issuer.EntityID, id); err != nil {
		return nil, out, soap.ReceiverFault("service temporarily unavailable", fmt.Errorf("cancel issued token: %w", err))
	} else if !ok {
		return nil, out, trustFault(FaultInvalidRequest, "token cannot be cancelled", "assertion %q is no longer kept", id)
	}
	r := etree.NewElement("wst:RequestSecurityTokenResponse")
	r.CreateAttr("xmlns:wst", NSTrust)
	r.CreateElement("wst:RequestedTokenCancelled")
	return r, out, nil
}

// cancelTarget is the ID of the assertion a CancelTarget names.
func (s *STS) cancelTarget(target *etree.Element) (string, error) {
	if target == nil || len(target.ChildElements()) != 1 {
		return "", trustFault(FaultInvalidRequest, "invalid token request", "CancelTarget must hold one assertion or one SecurityTokenReference")
	}
	switch el := target.ChildElements()[0]; {
	case el.NamespaceURI() == NSAssertion && el.Tag == "Assertion":
		grace := *s.Tokens
		grace.MaxClockSkew = max(s.Retention, grace.MaxClockSkew)
		a, err := grace.verifyAnyAudience(el)
		if err != nil {
			return "", trustFault(FaultInvalidRequest, "token cannot be cancelled", "cancel: %v", err)
		}
		return a.Principal.AssertionID, nil
	case el.NamespaceURI() == soap.NSWSSE && el.Tag == "SecurityTokenReference":
		kis := children(el, soap.NSWSSE, "KeyIdentifier")
		if len(el.ChildElements()) != 1 || len(kis) != 1 || attr(kis[0], "ValueType") != valueTypeSAMLID || text(kis[0]) == "" {
			return "", trustFault(FaultInvalidRequest, "invalid token request", "a CancelTarget reference must be one KeyIdentifier with ValueType %s", valueTypeSAMLID)
		}
		return text(kis[0]), nil
	default:
		return "", trustFault(FaultInvalidRequest, "invalid token request", "CancelTarget holds {%s}%s", el.NamespaceURI(), el.Tag)
	}
}
