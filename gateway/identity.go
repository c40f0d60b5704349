package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/authz"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// Caller is the workload identity the mTLS handshake proved.
type Caller struct {
	// ID is the SPIFFE ID when the certificate has one, else the subject DN.
	ID string
	// SPIFFEID is the spiffe:// URI SAN, empty when there is none.
	SPIFFEID string
	// Subject is the certificate's subject DN.
	Subject string
	// Certificate is the verified leaf; nil for an anonymous caller.
	Certificate *x509.Certificate
}

// Anonymous reports whether no client certificate was verified (only on a
// listener configured with clientAuth="insecure-none").
func (c Caller) Anonymous() bool { return c.Certificate == nil }

// callerFromTLS takes the identity from the verified chain, never from an
// unverified peer certificate. A certificate with more than one SPIFFE ID is
// refused: the SPIFFE X.509-SVID specification allows exactly one.
func callerFromTLS(cs *tls.ConnectionState) (Caller, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Caller{}, nil
	}
	leaf := cs.VerifiedChains[0][0]
	c := Caller{Subject: leaf.Subject.String(), Certificate: leaf}
	for _, u := range leaf.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		if c.SPIFFEID != "" {
			return Caller{}, errors.New("client certificate has more than one SPIFFE ID")
		}
		if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" ||
			strings.Contains(u.Path, "//") || strings.HasSuffix(u.Path, "/") {
			return Caller{}, fmt.Errorf("client certificate has a malformed SPIFFE ID %q", u.String())
		}
		c.SPIFFEID = u.String()
	}
	c.ID = c.SPIFFEID
	if c.ID == "" {
		c.ID = c.Subject
	}
	return c, nil
}

// Identity is who one transaction is for, as authentication proved it:
// the one value every later stage reads (replay, authorization, credential
// mapping, hop assertions, the STS, propagation, audit). No stage works the
// principal out again from the envelope, the verified parts or the TLS
// state; authenticate makes it, once.
type Identity struct {
	// Caller is the mTLS workload that sent the request.
	Caller Caller
	// Signer is the certificate of the message signer (the signature over
	// the Body), nil when the Body was not signed.
	Signer *x509.Certificate
	// Username is the verified UsernameToken user, "" for none. It is the
	// Subject too unless an assertion names another.
	Username string

	// Subject is the principal the transaction is for: the SAML NameID,
	// the UsernameToken user or the signer's subject DN; "" when only the
	// workload authenticated (Method is conf.AuthnMTLS).
	Subject string
	// Issuer vouches for Subject: the SAML issuer's entity ID, the local
	// user store (conf.LocalUsersIssuer), or the issuer DN of the signer's
	// (or, for mTLS alone, the caller's) certificate. alice@example.com of
	// one issuer is not alice@example.com of another.
	Issuer string
	// Format is the NameID format URI, "" when unknown.
	Format string
	// Method is how Subject authenticated: conf.AuthnX509,
	// conf.AuthnUsernameToken, conf.AuthnMTLS or the SAML authentication
	// context class.
	Method       string
	AuthnInstant time.Time
	Roles        []string
	Attributes   map[string][]string
	// Chain lists the actors that acted for the subject, oldest first.
	Chain []string
	// TokenID and Audience name the verified assertion, if any.
	TokenID, Audience string

	// ReplayKeys are every value of the request that must be new: nonces,
	// signatures, the MessageID, one-time assertions; each with the lifetime
	// the verifier that made it gave it.
	ReplayKeys []wssec.ReplayKey
}

// newIdentity is the identity of a request before its message is read:
// the mTLS workload alone.
func newIdentity(c Caller) *Identity {
	id := &Identity{Caller: c, Method: conf.AuthnMTLS}
	if c.Certificate != nil {
		id.Issuer = c.Certificate.Issuer.String()
	}
	return id
}

// addSecurity takes in what the WS-Security header proved: the message
// signer, or the UsernameToken user (which wins as the subject: a signing
// gateway of the consumer's that passes a user's token speaks for that user).
func (id *Identity) addSecurity(v *wssec.Verified) {
	if v == nil {
		return
	}
	id.ReplayKeys = append(id.ReplayKeys, v.ReplayKeys...)
	if s := v.Signer; s != nil {
		id.Signer = s.Certificate
		id.Subject, id.Issuer, id.Method = s.Certificate.Subject.String(), s.Certificate.Issuer.String(), conf.AuthnX509
	}
	if ut := v.UsernameToken; ut != nil {
		id.Username = ut.Username
		id.Subject, id.Issuer, id.Method = ut.Username, conf.LocalUsersIssuer, conf.AuthnUsernameToken
	}
}

// addAssertion takes in a verified SAML principal: it names the subject.
func (id *Identity) addAssertion(p *samlsts.Principal, audience string) {
	id.Subject, id.Issuer, id.Format, id.Method = p.Subject, p.Issuer, p.Format, p.AuthnContext
	id.AuthnInstant, id.Roles, id.Attributes, id.Chain = p.AuthnInstant, p.Roles, p.Attributes, p.Chain
	id.TokenID, id.Audience = p.AssertionID, audience
}

// authzRequest describes a call of operation on service for the policy
// decision point.
func (id *Identity) authzRequest(p *authz.Policy, service, operation string) *authz.Request {
	return &authz.Request{
		Caller: id.Caller.ID, Consumer: p.Consumer(id.Caller.ID),
		Subject: id.Subject, Issuer: id.Issuer, Roles: id.Roles, Attributes: id.Attributes,
		AuthnMethod: id.Method, Actors: id.Chain,
		Service: service, Operation: operation,
	}
}

// credPrincipal is the principal a legacy domain maps. Only a subject
// that a person or an assertion stands for is mapped: a signer's DN is not
// a user of a legacy domain (it may still map through a service account).
func (id *Identity) credPrincipal() credmap.Principal {
	pr := credmap.Principal{Workload: id.Caller.ID, Issuer: id.Issuer}
	switch id.Method {
	case conf.AuthnX509, conf.AuthnMTLS:
	default:
		pr.Subject, pr.SubjectFormat, pr.Attributes = id.Subject, id.Format, id.Attributes
	}
	return pr
}

// requester is who asks the STS for a token.
func (id *Identity) requester() samlsts.Requester {
	return samlsts.Requester{Workload: id.Caller.ID, Certificate: id.Caller.Certificate, Username: id.Username, Signer: id.Signer}
}

// issueRequest is the bearer assertion that carries this identity to
// audience at the endpoint recipient, with actor appended to its delegation
// chain when not "".
func (id *Identity) issueRequest(audience, recipient, actor string, lifetime time.Duration, now time.Time) samlsts.IssueRequest {
	r := samlsts.IssueRequest{
		Subject: id.Subject, Format: id.Format, Audience: audience, Recipient: recipient, Lifetime: lifetime, Method: samlsts.CMBearer,
		AuthnContext: id.Method, AuthnInstant: id.AuthnInstant, Roles: id.Roles, Attributes: id.Attributes,
		Chain: append([]string(nil), id.Chain...),
	}
	if actor != "" {
		r.Chain = append(r.Chain, actor)
	}
	if r.Subject == "" {
		r.Subject = id.Caller.ID
	}
	if r.AuthnInstant.IsZero() {
		r.AuthnInstant = now
	}
	return r
}

// record writes the identity into an audit record.
func (id *Identity) record(rec *audit.Record) {
	rec.Caller, rec.Subject, rec.Issuer, rec.Roles = id.Caller.ID, id.Subject, id.Issuer, id.Roles
	rec.Authn, rec.Audience, rec.TokenID, rec.Delegation = id.Method, id.Audience, id.TokenID, id.Chain
}
