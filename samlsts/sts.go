package samlsts

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// WS-Trust namespaces and URIs.
const (
	NSTrust      = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	NSTrust14    = "http://docs.oasis-open.org/ws-sx/ws-trust/200802"
	NSPolicy     = "http://www.w3.org/ns/ws-policy"
	NSPolicy2004 = "http://schemas.xmlsoap.org/ws/2004/09/policy"

	RequestIssue    = NSTrust + "/Issue"
	RequestValidate = NSTrust + "/Validate"
	RequestRenew    = NSTrust + "/Renew"
	RequestCancel   = NSTrust + "/Cancel"
	KeyTypeBearer   = NSTrust + "/Bearer"
	KeyTypePublic   = NSTrust + "/PublicKey"
	TokenSAML2      = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	TokenSAML2Alt   = "urn:oasis:names:tc:SAML:2.0:assertion"
	TokenSAML11     = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
	TokenStatus     = NSTrust + "/RSTR/Status"
	StatusValid     = NSTrust + "/status/valid"
	StatusInvalid   = NSTrust + "/status/invalid"
	valueTypeSAMLID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
	valueTypeSAML1  = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
)

// WS-Trust 1.3 fault codes (section 11).
var (
	FaultInvalidRequest       = soap.QName{Space: NSTrust, Local: "InvalidRequest"}
	FaultFailedAuthentication = soap.QName{Space: NSTrust, Local: "FailedAuthentication"}
	FaultRequestFailed        = soap.QName{Space: NSTrust, Local: "RequestFailed"}
	FaultInvalidScope         = soap.QName{Space: NSTrust, Local: "InvalidScope"}
	FaultUnableToRenew        = soap.QName{Space: NSTrust, Local: "UnableToRenew"}
	FaultBadRequest           = soap.QName{Space: NSTrust, Local: "BadRequest"}
)

func trustFault(code soap.QName, public string, format string, args ...any) error {
	return &soap.Fault{Code: soap.Sender, Subcode: code, Public: public, Err: fmt.Errorf(format, args...)}
}

// Identity is a subject of the identity source.
type Identity struct {
	NameID, Format string
	Roles          []string
	Attributes     map[string][]string
}

// Directory is the STS's identity source: a file-backed one now, LDAP later.
type Directory interface {
	// ByUsername finds the subject a UsernameToken user authenticates as.
	ByUsername(username string) (Identity, bool)
	// ByWorkload finds the subject an mTLS caller authenticates as.
	ByWorkload(id string) (Identity, bool)
	// ByNameID finds a subject by its NameID (for delegation and renewal).
	ByNameID(nameID string) (Identity, bool)
}

// Requester is who asks the STS for a token, as the gateway authenticated it.
type Requester struct {
	// Username is set when a UsernameToken was verified.
	Username string
	// Workload and Certificate come from mTLS.
	Workload    string
	Certificate *x509.Certificate
	// Signer is the certificate that signed the request's Body, if any.
	Signer *x509.Certificate
}

// STS issues, validates and renews Gatehouse assertions (WS-Trust 1.3).
type STS struct {
	Issuer    *Issuer
	Directory Directory
	// Tokens verifies assertions the STS issued earlier (ActAs,
	// OnBehalfOf, Validate, Renew): its Issuers hold the STS's own
	// certificates, current and previous.
	Tokens *Verifier
	// KnownAudience reports whether an AppliesTo address is a service
	// Gatehouse protects.
	KnownAudience func(audience string) bool
	// MayDelegate reports whether actor may act for others at audience
	// with a subject's token issued for tokenAudience (ActAs, OnBehalfOf).
	MayDelegate           func(actor, audience, tokenAudience string) bool
	Lifetime, MaxLifetime time.Duration
	// AllowUsernameToken and AllowCertificate say how requesters may
	// authenticate.
	AllowUsernameToken, AllowCertificate bool
}

// Outcome is what the STS did, for the audit record.
type Outcome struct {
	RequestType string
	Subject     string
	Audience    string
	AssertionID string
	Chain       []string
}

// Handle answers one RequestSecurityToken (the Body's payload) with the
// element to put in the response Body.
func (s *STS) Handle(rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	var out Outcome
	if rst == nil || rst.Tag != "RequestSecurityToken" || rst.NamespaceURI() != NSTrust {
		return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "body is not a WS-Trust 1.3 RequestSecurityToken")
	}
	reqType := text(child(rst, NSTrust, "RequestType"))
	out.RequestType = reqType
	switch reqType {
	case RequestIssue:
		return s.issue(rst, who)
	case RequestValidate:
		return s.validate(rst)
	case RequestRenew:
		return s.renew(rst, who)
	case RequestCancel:
		return nil, out, trustFault(FaultInvalidRequest, "request type not supported", "Cancel is not supported: assertions are short-lived and not tracked")
	}
	return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "RequestType %q", reqType)
}

func text(el *etree.Element) string {
	if el == nil {
		return ""
	}
	t, _ := soap.Text(el)
	return strings.TrimSpace(t)
}

// appliesTo reads wsp:AppliesTo/wsa:EndpointReference/wsa:Address.
func appliesTo(rst *etree.Element) string {
	at := child(rst, NSPolicy, "AppliesTo")
	if at == nil {
		at = child(rst, NSPolicy2004, "AppliesTo")
	}
	if at == nil {
		return ""
	}
	for _, ns := range []string{soap.NSWSA, soap.NSWSA2004} {
		if epr := child(at, ns, "EndpointReference"); epr != nil {
			return text(child(epr, ns, "Address"))
		}
	}
	return ""
}

// requester maps the authenticated caller to a directory subject.
func (s *STS) requester(who Requester) (Identity, string, string, error) {
	if who.Username != "" {
		if !s.AllowUsernameToken {
			return Identity{}, "", "", trustFault(FaultFailedAuthentication, "authentication failed", "UsernameToken authentication is not enabled")
		}
		id, ok := s.Directory.ByUsername(who.Username)
		if !ok {
			return Identity{}, "", "", trustFault(FaultFailedAuthentication, "authentication failed", "user %q has no directory subject", who.Username)
		}
		return id, AuthnPasswordProtectedTransport, "user:" + who.Username, nil
	}
	if who.Workload != "" && s.AllowCertificate {
		id, ok := s.Directory.ByWorkload(who.Workload)
		if !ok {
			return Identity{}, "", "", trustFault(FaultFailedAuthentication, "authentication failed", "workload %q has no directory subject", who.Workload)
		}
		return id, AuthnTLSClient, who.Workload, nil
	}
	return Identity{}, "", "", trustFault(FaultFailedAuthentication, "authentication failed", "no UsernameToken and no usable client certificate")
}

func (s *STS) issue(rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	out := Outcome{RequestType: RequestIssue}
	saml11 := false
	switch tt := text(child(rst, NSTrust, "TokenType")); tt {
	case "", TokenSAML2, TokenSAML2Alt:
	case TokenSAML11:
		saml11 = true
	default:
		return nil, out, trustFault(FaultBadRequest, "token type not supported", "TokenType %q", tt)
	}
	aud := appliesTo(rst)
	if aud == "" || !s.KnownAudience(aud) {
		return nil, out, trustFault(FaultInvalidScope, "unknown scope", "AppliesTo %q is not a service Gatehouse knows", aud)
	}
	out.Audience = aud

	ident, authn, actor, err := s.requester(who)
	if err != nil {
		return nil, out, err
	}
	req := IssueRequest{Audience: aud, Method: CMBearer, AuthnContext: authn, AuthnInstant: s.Issuer.Clock()}

	// Delegation: the token says who the original subject is; the requester
	// becomes the newest actor in the chain.
	delegated := child(rst, NSTrust14, "ActAs")
	if delegated == nil {
		delegated = child(rst, NSTrust, "OnBehalfOf")
	}
	if delegated != nil {
		a, err := s.innerAssertion(delegated)
		if err != nil {
			return nil, out, err
		}
		// The token must have been issued for an audience the actor may
		// act from: else an actor could act for anyone whose token for
		// some other service it got hold of.
		tokenAuds := issuedFor(a.Element)
		if !slices.ContainsFunc(tokenAuds, func(ta string) bool { return s.MayDelegate(actor, aud, ta) }) {
			return nil, out, trustFault(FaultInvalidRequest, "delegation not allowed", "%q may not act for others at %q with a token issued for %s",
				actor, aud, audienceList(tokenAuds))
		}
		inner := &a.Principal
		orig, ok := s.Directory.ByNameID(inner.Subject)
		if !ok {
			return nil, out, trustFault(FaultInvalidRequest, "delegation not allowed", "delegated subject %q is not in the directory", inner.Subject)
		}
		ident = orig
		req.Chain = append(slices.Clone(inner.Chain), actor)
		req.AuthnContext, req.AuthnInstant = inner.AuthnContext, inner.AuthnInstant
	}
	req.Subject, req.Format, req.Roles, req.Attributes = ident.NameID, ident.Format, ident.Roles, ident.Attributes

	switch kt := text(child(rst, NSTrust, "KeyType")); kt {
	case "", KeyTypeBearer:
	case KeyTypePublic:
		key, err := s.holderKey(rst, who)
		if err != nil {
			return nil, out, err
		}
		req.Method, req.HolderKey = CMHolderOfKey, key
	default:
		return nil, out, trustFault(FaultBadRequest, "key type not supported", "KeyType %q (symmetric keys are not issued)", kt)
	}

	req.Lifetime = s.Lifetime
	if lt := child(rst, NSTrust, "Lifetime"); lt != nil {
		exp, err := parseTime(text(child(lt, soap.NSWSU, "Expires")), true)
		if err != nil {
			return nil, out, trustFault(FaultBadRequest, "invalid lifetime", "Lifetime/Expires: %v", err)
		}
		req.Lifetime = min(max(exp.Sub(s.Issuer.Clock()), time.Second), s.MaxLifetime)
	}

	issue, idAttr := s.Issuer.Issue, "ID"
	if saml11 {
		if len(req.Chain) > 0 {
			return nil, out, trustFault(FaultBadRequest, "token type not supported", "delegation needs a SAML 2.0 token")
		}
		issue, idAttr = s.Issuer.Issue11, "AssertionID"
	}
	a, err := issue(req)
	if err != nil {
		return nil, out, soap.ReceiverFault("token could not be issued", err)
	}
	out.Subject, out.AssertionID, out.Chain = req.Subject, attr(a, idAttr), req.Chain
	return s.response(a, req), out, nil
}

// innerAssertion verifies the assertion of an ActAs/OnBehalfOf element: it
// must be one the STS issued, correctly signed and still valid (for any
// audience here; issue checks that it was issued for one the actor may act
// from).
func (s *STS) innerAssertion(el *etree.Element) (*Assertion, error) {
	as := children(el, NSAssertion, "Assertion")
	if len(as) != 1 {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "ActAs/OnBehalfOf must hold exactly one SAML 2.0 assertion")
	}
	a, err := s.Tokens.verifyAnyAudience(as[0])
	if err != nil {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "delegation token: %v", err)
	}
	return a, nil
}

// issuedFor lists the audiences a verified SAML 2.0 assertion was issued
// for: those of its first AudienceRestriction that every other one names
// too (SAML 2.0 Core 2.5.1.4: the restrictions all apply).
func issuedFor(a *etree.Element) []string {
	restrictions := children(child(a, NSAssertion, "Conditions"), NSAssertion, "AudienceRestriction")
	if len(restrictions) == 0 {
		return nil
	}
	names := func(ar *etree.Element) []string {
		var out []string
		for _, au := range children(ar, NSAssertion, "Audience") {
			out = append(out, text(au))
		}
		return out
	}
	var out []string
	for _, aud := range names(restrictions[0]) {
		if !slices.ContainsFunc(restrictions[1:], func(ar *etree.Element) bool { return !slices.Contains(names(ar), aud) }) {
			out = append(out, aud)
		}
	}
	return out
}

// audienceList names a token's audiences for a message.
func audienceList(auds []string) string {
	if len(auds) == 0 {
		return "no audience"
	}
	return fmt.Sprintf("%q", auds)
}

// holderKey is the key a holder-of-key assertion binds: the UseKey
// certificate, whose possession the request's signature proves, or else the
// TLS client certificate.
func (s *STS) holderKey(rst *etree.Element, who Requester) (*x509.Certificate, error) {
	uk := child(rst, NSTrust, "UseKey")
	if uk == nil {
		if who.Certificate == nil {
			return nil, trustFault(FaultBadRequest, "no key to bind", "PublicKey without UseKey needs a TLS client certificate")
		}
		return who.Certificate, nil
	}
	xc := child(child(child(uk, nsDSig, "KeyInfo"), nsDSig, "X509Data"), nsDSig, "X509Certificate")
	if xc == nil {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey must hold ds:KeyInfo/X509Data/X509Certificate")
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text(xc)), ""))
	if err != nil {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey certificate: %v", err)
	}
	proven := (who.Signer != nil && samePublicKey(who.Signer, cert)) || (who.Certificate != nil && samePublicKey(who.Certificate, cert))
	if !proven {
		return nil, trustFault(FaultFailedAuthentication, "proof of possession failed", "the UseKey key neither signed the request nor is the TLS client key")
	}
	return cert, nil
}

// response builds the RequestSecurityTokenResponseCollection for an issued
// assertion (WS-Trust 1.3, 4.4).
func (s *STS) response(a *etree.Element, req IssueRequest) *etree.Element {
	coll := etree.NewElement("wst:RequestSecurityTokenResponseCollection")
	coll.CreateAttr("xmlns:wst", NSTrust)
	coll.CreateAttr("xmlns:wsu", soap.NSWSU)
	coll.CreateAttr("xmlns:wsse", soap.NSWSSE)
	coll.CreateAttr("xmlns:wsp", NSPolicy)
	coll.CreateAttr("xmlns:wsa", soap.NSWSA)
	r := coll.CreateElement("wst:RequestSecurityTokenResponse")
	tokenType, idAttr, valueType := TokenSAML2, "ID", valueTypeSAMLID
	if a.NamespaceURI() == NSAssertion1 {
		tokenType, idAttr, valueType = TokenSAML11, "AssertionID", valueTypeSAML1
	}
	r.CreateElement("wst:TokenType").SetText(tokenType)
	r.CreateElement("wst:RequestedSecurityToken").AddChild(a)
	r.CreateElement("wsp:AppliesTo").CreateElement("wsa:EndpointReference").CreateElement("wsa:Address").SetText(req.Audience)
	id := attr(a, idAttr)
	for _, name := range []string{"wst:RequestedAttachedReference", "wst:RequestedUnattachedReference"} {
		str := r.CreateElement(name).CreateElement("wsse:SecurityTokenReference")
		ki := str.CreateElement("wsse:KeyIdentifier")
		ki.CreateAttr("ValueType", valueType)
		ki.SetText(id)
	}
	lt := r.CreateElement("wst:Lifetime")
	now := s.Issuer.Clock().UTC()
	lt.CreateElement("wsu:Created").SetText(now.Format(time.RFC3339Nano))
	lt.CreateElement("wsu:Expires").SetText(now.Add(req.Lifetime).Format(time.RFC3339Nano))
	kt := KeyTypeBearer
	if req.Method == CMHolderOfKey {
		kt = KeyTypePublic
	}
	r.CreateElement("wst:KeyType").SetText(kt)
	return coll
}

// validate answers a Validate request with a status token (WS-Trust 1.3, 7).
func (s *STS) validate(rst *etree.Element) (*etree.Element, Outcome, error) {
	out := Outcome{RequestType: RequestValidate}
	target := child(rst, NSTrust, "ValidateTarget")
	if target == nil {
		return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "Validate without ValidateTarget")
	}
	code, reason := StatusValid, "the token is valid"
	as := children(target, NSAssertion, "Assertion")
	if len(as) != 1 {
		code, reason = StatusInvalid, "ValidateTarget must hold one SAML 2.0 assertion"
	} else if a, err := s.Tokens.verifyAnyAudience(as[0]); err != nil {
		code, reason = StatusInvalid, "the token is not valid"
	} else {
		out.Subject, out.AssertionID = a.Principal.Subject, a.Principal.AssertionID
	}
	r := etree.NewElement("wst:RequestSecurityTokenResponse")
	r.CreateAttr("xmlns:wst", NSTrust)
	r.CreateElement("wst:TokenType").SetText(TokenStatus)
	st := r.CreateElement("wst:Status")
	st.CreateElement("wst:Code").SetText(code)
	st.CreateElement("wst:Reason").SetText(reason)
	return r, out, nil
}

// renew issues a fresh assertion for a token the STS issued, to the same
// subject and audience, when the requester is that subject (or its last
// actor). An expired token may be renewed within MaxLifetime of its end.
func (s *STS) renew(rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	out := Outcome{RequestType: RequestRenew}
	target := child(rst, NSTrust, "RenewTarget")
	var as []*etree.Element
	if target != nil {
		as = children(target, NSAssertion, "Assertion")
	}
	if len(as) != 1 {
		return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "RenewTarget must hold one SAML 2.0 assertion")
	}
	grace := *s.Tokens
	grace.MaxClockSkew = s.MaxLifetime
	a, err := grace.verifyAnyAudience(as[0])
	if err != nil {
		return nil, out, trustFault(FaultUnableToRenew, "token cannot be renewed", "renew: %v", err)
	}
	ident, authn, actor, err := s.requester(who)
	if err != nil {
		return nil, out, err
	}
	p := a.Principal
	owner := ident.NameID == p.Subject || (len(p.Chain) > 0 && p.Chain[len(p.Chain)-1] == actor)
	if !owner {
		return nil, out, trustFault(FaultUnableToRenew, "token cannot be renewed", "requester %q is neither the subject nor the last actor of the token", actor)
	}
	aud := tokenAudience(a.Element)
	orig, ok := s.Directory.ByNameID(p.Subject)
	if !ok {
		return nil, out, trustFault(FaultUnableToRenew, "token cannot be renewed", "subject %q no longer in the directory", p.Subject)
	}
	req := IssueRequest{Subject: orig.NameID, Format: orig.Format, Audience: aud, Lifetime: s.Lifetime, Method: CMBearer,
		AuthnContext: authn, AuthnInstant: p.AuthnInstant, Roles: orig.Roles, Attributes: orig.Attributes, Chain: p.Chain}
	na, err := s.Issuer.Issue(req)
	if err != nil {
		return nil, out, soap.ReceiverFault("token could not be issued", err)
	}
	out.Subject, out.Audience, out.AssertionID, out.Chain = req.Subject, aud, attr(na, "ID"), req.Chain
	return s.response(na, req), out, nil
}

// tokenAudience is the first Audience of a verified assertion.
func tokenAudience(a *etree.Element) string {
	ar := child(child(a, NSAssertion, "Conditions"), NSAssertion, "AudienceRestriction")
	return text(child(ar, NSAssertion, "Audience"))
}

// verifyAnyAudience verifies an assertion with this verifier's issuers and
// times, accepting any audience.
func (v *Verifier) verifyAnyAudience(el *etree.Element) (*Assertion, error) {
	any := *v
	any.anyAudience = true
	return any.VerifyAssertion(el)
}
