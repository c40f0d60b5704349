package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/soap"
)

// wantsHopAssertion reports whether a composite's hop to s carries an
// assertion: s is SAML-protected and its credentials are not mapped here.
// New refuses a composite that calls such a service without an STS, so
// hopIssuer is set whenever this holds.
//
// A target whose credentials this gateway maps is a legacy system right
// behind it: this gateway is its enforcement point and has just authorized
// the hop, and the mapped credential carries the identity into the legacy
// domain, which could not verify an assertion anyway. It gets none, as a
// direct call would not either.
func (s *service) wantsHopAssertion() bool { return s.saml != nil && s.creds == nil }

// outboundIdentity puts on out what target's backend is to know of id: the
// credential of its legacy domain that id maps to, and id itself as target
// wants it. A hop of composite (composite not "") to a SAML-protected
// target gets a fresh assertion for the target's audience with the
// composite added to the delegation chain and the backend URL as its
// Recipient: the target (an enforcement point)
// verifies and authorizes it again, trust is not inherited. A service that
// propagates the identity gets an assertion for its backend's audience or
// identity headers. Only out is written: the inbound Security header never
// leaves (backend.call removes it, invariant 11). A hop's record names the
// assertion it sends.
func (g *Gateway) outboundIdentity(ctx context.Context, rec *audit.Record, target *service, id *Identity, composite string, out *outbound) error {
	if target.creds != nil {
		cred, err := g.mapCredential(ctx, rec, target.creds, id)
		if err != nil {
			return err
		}
		out.cred, out.render, out.header = cred, target.creds.render, target.creds.header
	}
	actor := ""
	if composite != "" {
		actor = conf.CompositeActorPrefix + composite
	}
	var audience string
	switch p := target.propagate; {
	case composite != "" && target.wantsHopAssertion():
		audience = target.saml.Audience
	case p != nil && p.As == conf.PropagateAssertion:
		audience = p.Audience
	case p != nil && p.As == conf.PropagateHeaders:
		return identityHeaders(p, id, out)
	default:
		return nil
	}
	a, err := g.hopIssuer.Issue(id.issueRequest(audience, target.backend.url, actor, hopLifetime, g.now()))
	if err != nil {
		return soap.ReceiverFault("internal error", fmt.Errorf("assertion for %s: %w", audience, err))
	}
	out.tokens = []*etree.Element{a}
	if composite != "" {
		rec.Audience, rec.TokenID = audience, a.SelectAttrValue("ID", "")
	}
	return nil
}

// identityHeaders puts the subject, its issuer and its roles (joined by
// commas) in the headers p names. A value a header cannot carry as it is
// (a control character; a comma inside a role) refuses the call rather
// than sending an identity the backend would read differently.
func identityHeaders(p *conf.Propagation, id *Identity, out *outbound) error {
	subject := id.Subject
	if subject == "" {
		subject = id.Caller.ID
	}
	values := [][2]string{{p.SubjectHeader, subject}, {p.IssuerHeader, id.Issuer}}
	for _, r := range id.Roles {
		if strings.Contains(r, ",") {
			return soap.ReceiverFault("identity cannot be propagated", fmt.Errorf("role %q contains a comma", r))
		}
	}
	if len(id.Roles) > 0 {
		values = append(values, [2]string{p.RolesHeader, strings.Join(id.Roles, ",")})
	}
	out.headers = http.Header{}
	for _, kv := range values {
		if strings.ContainsFunc(kv[1], func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return soap.ReceiverFault("identity cannot be propagated", fmt.Errorf("%s value has a control character", kv[0]))
		}
		if kv[1] != "" {
			out.headers.Set(kv[0], kv[1])
		}
	}
	return nil
}
