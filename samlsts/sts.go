package samlsts

import (
	"context"
	"crypto/x509"
	"errors"
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
	MayDelegate func(actor, audience, tokenAudience string) bool
	// MayVouch reports whether actor may name a subject by a UsernameToken
	// without password in ActAs/OnBehalfOf for audience (it vouches for
	// the user; nil: nobody may).
	MayVouch func(actor, audience string) bool
	// Store records what the STS issues in the store all instances share
	// (nil: nothing is recorded, and Cancel is refused).
	Store TokenStore
	// Retention is how long a token record outlives the token: the longest
	// a service accepts an expired assertion (its clock skew) or the STS
	// renews one.
	Retention time.Duration

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

// Action is the WS-Addressing Action of the answer to a request type
// (WS-Trust 1.3: the final RSTRC of an Issue, the RSTR of the others).
func Action(requestType string) string {
	if requestType == RequestIssue {
		return NSTrust + "/RSTRC/IssueFinal"
	}
	return NSTrust + "/RSTR/" + strings.TrimPrefix(requestType, NSTrust+"/") + "Final"
}

// Handle answers one RequestSecurityToken (the Body's payload) with the
// element to put in the response Body. An RST element the STS does not
// know is refused (checkKnown); the RST's Context is echoed in the answer.
func (s *STS) Handle(ctx context.Context, rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	var out Outcome
	if rst == nil || rst.Tag != "RequestSecurityToken" || rst.NamespaceURI() != NSTrust {
		return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "body is not a WS-Trust 1.3 RequestSecurityToken")
	}
	if err := checkKnown(rst); err != nil {
		return nil, out, err
	}
	reqType := text(child(rst, NSTrust, "RequestType"))
	out.RequestType = reqType
	var resp *etree.Element
	var err error
	switch reqType {
	case RequestIssue:
		resp, out, err = s.issue(ctx, rst, who)
	case RequestValidate:
		resp, out, err = s.validate(ctx, rst)
	case RequestRenew:
		resp, out, err = s.renew(ctx, rst, who)
	case RequestCancel:
		resp, out, err = s.cancel(ctx, rst, who)
	default:
		return nil, out, trustFault(FaultInvalidRequest, "invalid token request", "RequestType %q", reqType)
	}
	if err != nil {
		return nil, out, err
	}
	if c := rst.SelectAttr("Context"); c != nil && c.NamespaceURI() == "" {
		r := resp
		if resp.Tag == "RequestSecurityTokenResponseCollection" {
			r = child(resp, NSTrust, "RequestSecurityTokenResponse")
		}
		r.CreateAttr("Context", c.Value)
	}
	return resp, out, nil
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

func (s *STS) issue(ctx context.Context, rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
	out := Outcome{RequestType: RequestIssue}
	if sp := child(rst, NSTrust, "SecondaryParameters"); sp != nil {
		if err := checkKnown(sp); err != nil {
			return nil, out, err
		}
	}
	saml11 := false
	switch tt := text(rstParam(rst, "TokenType")); tt {
	case "", TokenSAML2, TokenSAML2Alt:
	case TokenSAML11:
		saml11 = true
	default:
		return nil, out, trustFault(FaultBadRequest, "token type not supported", "TokenType %q (the STS issues SAML 2.0 assertions: %s)", tt, TokenSAML2)
	}
	if err := checkRenewing(rst); err != nil {
		return nil, out, err
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
	delegated, err := delegationElement(rst)
	if err != nil {
		return nil, out, err
	}
	if delegated != nil {
		tok, err := delegationToken(delegated)
		if err != nil {
			return nil, out, err
		}
		if tok.Tag == "UsernameToken" {
			ident, err = s.vouchedSubject(tok, actor, aud)
			if err != nil {
				return nil, out, err
			}
			req.Chain = []string{actor}
			req.AuthnContext, req.AuthnInstant = AuthnUnspecified, s.Issuer.Clock()
		} else {
			a, err := s.innerAssertion(ctx, tok)
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
	}
	req.Subject, req.Format, req.Roles, req.Attributes = ident.NameID, ident.Format, ident.Roles, ident.Attributes
	if err := checkClaims(rstParam(rst, "Claims"), ident); err != nil {
		return nil, out, err
	}

	useKey := child(rst, NSTrust, "UseKey")
	kt := text(rstParam(rst, "KeyType"))
	if kt == "" && useKey != nil {
		kt = KeyTypePublic // a key to bind asks for holder-of-key
	}
	switch kt {
	case "", KeyTypeBearer:
		if useKey != nil {
			return nil, out, trustFault(FaultBadRequest, "key type not supported", "UseKey with KeyType Bearer: a bearer token binds no key")
		}
	case KeyTypePublic:
		key, err := s.holderKey(useKey, who)
		if err != nil {
			return nil, out, err
		}
		req.Method, req.HolderKey = CMHolderOfKey, key
	default:
		return nil, out, trustFault(FaultBadRequest, "key type not supported", "KeyType %q (symmetric keys are not issued; only %s and %s)", kt, KeyTypeBearer, KeyTypePublic)
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
	if err := s.record(ctx, out.AssertionID, actor, who, req); err != nil {
		return nil, out, err
	}
	return s.response(a, req), out, nil
}

// vouchedSubject is the subject a UsernameToken in ActAs/OnBehalfOf names,
// when the actor may vouch for users at audience.
func (s *STS) vouchedSubject(ut *etree.Element, actor, audience string) (Identity, error) {
	user, err := vouchedUsername(ut)
	if err != nil {
		return Identity{}, err
	}
	if s.MayVouch == nil || !s.MayVouch(actor, audience) {
		return Identity{}, trustFault(FaultInvalidRequest, "delegation not allowed", "%q may not vouch for users at %q (UsernameToken in ActAs/OnBehalfOf)", actor, audience)
	}
	ident, ok := s.Directory.ByUsername(user)
	if !ok {
		return Identity{}, trustFault(FaultInvalidRequest, "delegation not allowed", "vouched user %q has no directory subject", user)
	}
	return ident, nil
}

// innerAssertion verifies the assertion of an ActAs/OnBehalfOf element: it
// must be one the STS issued, correctly signed, still valid (for any
// audience here; issue checks that it was issued for one the actor may act
// from) and not cancelled.
func (s *STS) innerAssertion(ctx context.Context, el *etree.Element) (*Assertion, error) {
	a, err := s.Tokens.verifyAnyAudience(el)
	if err != nil {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "delegation token: %v", err)
	}
	if err := s.notCancelled(ctx, a.Principal.AssertionID); errors.Is(err, errCancelled) {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "delegation token: %v", err)
	} else if err != nil {
		return nil, err
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
// certificate, whose possession the request's signature or the TLS client
// key proves, or else the TLS client certificate.
func (s *STS) holderKey(uk *etree.Element, who Requester) (*x509.Certificate, error) {
	if uk == nil {
		if who.Certificate == nil {
			return nil, trustFault(FaultBadRequest, "no key to bind", "PublicKey without UseKey needs a TLS client certificate")
		}
		return who.Certificate, nil
	}
	cert, err := useKeyCertificate(uk)
	if err != nil {
		return nil, err
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
	coll.AddChild(s.rstr(a, req))
	return coll
}

// rstr is the RequestSecurityTokenResponse for an issued assertion: its
// token type, the token, the references to it that a client puts in its
// messages (SAML Token Profile 1.1: an STR with a #SAMLID KeyIdentifier
// and the token type), its scope, lifetime and key type.
func (s *STS) rstr(a *etree.Element, req IssueRequest) *etree.Element {
	r := etree.NewElement("wst:RequestSecurityTokenResponse")
	for _, ns := range [][2]string{{"wst", NSTrust}, {"wsu", soap.NSWSU}, {"wsse", soap.NSWSSE}, {"wsp", NSPolicy}, {"wsa", soap.NSWSA}, {"wsse11", nsWSSE11}} {
		r.CreateAttr("xmlns:"+ns[0], ns[1])
	}
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
		str.CreateAttr("wsse11:TokenType", tokenType)
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
	return r
}

// validate answers a Validate request with a status token (WS-Trust 1.3, 7).
// A valid token that was cancelled has the status invalid.
func (s *STS) validate(ctx context.Context, rst *etree.Element) (*etree.Element, Outcome, error) {
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
		switch err := s.notCancelled(ctx, a.Principal.AssertionID); {
		case errors.Is(err, errCancelled):
			code, reason = StatusInvalid, "the token was cancelled"
		case err != nil:
			return nil, out, err
		}
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
// A cancelled token is not renewed. The answer is an RSTR (WS-Trust 1.3,
// 7: only Issue answers with a collection).
func (s *STS) renew(ctx context.Context, rst *etree.Element, who Requester) (*etree.Element, Outcome, error) {
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
	if err := s.notCancelled(ctx, a.Principal.AssertionID); errors.Is(err, errCancelled) {
		return nil, out, trustFault(FaultUnableToRenew, "token cannot be renewed", "renew: %v", err)
	} else if err != nil {
		return nil, out, err
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
	if err := s.record(ctx, out.AssertionID, actor, who, req); err != nil {
		return nil, out, err
	}
	return s.rstr(na, req), out, nil
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
