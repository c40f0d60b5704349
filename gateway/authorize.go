package gateway

import (
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/authz"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// authzRequest describes the transaction for the policy decision point from
// what the earlier stages verified, and nothing else: the mTLS caller, the
// SAML principal (with the delegation chain of its assertion) or the
// WS-Security principal, the operation of the Body.
func (g *Gateway) authzRequest(tx *transaction, svc *service, env *soap.Envelope, v *wssec.Verified, p *samlsts.Principal) *authz.Request {
	r := &authz.Request{
		Caller:    tx.caller.ID,
		Consumer:  g.policy.Consumer(tx.caller.ID),
		Service:   svc.name,
		Operation: env.Operation().String(),
	}
	switch {
	case p != nil:
		r.Subject, r.Roles, r.Attributes, r.AuthnMethod = p.Subject, p.Roles, p.Attributes, p.AuthnContext
		r.Actors = p.Chain
	case v != nil && v.UsernameToken != nil:
		r.Subject, r.AuthnMethod = v.UsernameToken.Username, conf.AuthnUsernameToken
	case v != nil && v.SignerOf(env.Body) != nil:
		r.Subject, r.AuthnMethod = v.SignerOf(env.Body).Certificate.Subject.String(), conf.AuthnX509
	default:
		r.AuthnMethod = conf.AuthnMTLS
	}
	return r
}

// authorize decides this transaction on its own (invariant 9): default deny,
// flow edge, deny overrides. The decision and its rule go to the audit
// record; a refusal is a Sender fault with HTTP 403.
func (g *Gateway) authorize(tx *transaction, r *authz.Request) error {
	d := g.policy.Decide(r)
	outcome := "deny"
	if d.Allow {
		outcome = "allow"
	}
	tx.rec.Decision, tx.rec.Rule = outcome, d.Rule
	g.metrics.decisions.WithLabelValues(r.Service, r.Operation, outcome, d.Rule).Inc()
	if !d.Allow {
		return soap.SenderFault("not authorized", fmt.Errorf("authorization: %s", d.Reason)).WithStatus(http.StatusForbidden)
	}
	return nil
}
