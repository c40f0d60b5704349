package samlsts

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// SAML namespaces and identifiers.
const (
	NSAssertion   = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSAssertion1  = "urn:oasis:names:tc:SAML:1.0:assertion"
	NSDelegation  = "urn:oasis:names:tc:SAML:2.0:conditions:delegation"
	NSXSI         = "http://www.w3.org/2001/XMLSchema-instance"
	CMBearer      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	CMHolderOfKey = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
	CMSenderVouch = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"
	// RoleAttribute is the attribute the STS writes roles into.
	RoleAttribute = "urn:gatehouse:attribute:role"
)

// Principal is who a verified assertion says the request is for.
type Principal struct {
	Subject      string // NameID, the full text of the verified element
	Format       string
	Issuer       string
	AssertionID  string
	AuthnInstant time.Time
	AuthnContext string
	Roles        []string
	Attributes   map[string][]string
	// Chain lists the actors that acted for the subject, oldest first
	// (the Delegate elements of a DelegationRestriction condition).
	Chain        []string
	Confirmation string // the subject confirmation method that was satisfied
	NotOnOrAfter time.Time
	// IssueInstant is when the assertion was issued: when a one-time
	// assertion's freshness began (its replay key's Since).
	IssueInstant time.Time
}

// Assertion is a verified assertion: the element goxmldsig re-read from the
// signed bytes and what was decoded from it.
type Assertion struct {
	// Element is read only: a Verifier with a Cache hands the same element
	// to every request that presents the assertion.
	Element   *etree.Element
	Principal Principal
	// Confirmations are the subject confirmations whose data is currently
	// valid, in document order.
	Confirmations []Confirmation
	// OneTimeUse is set when the Conditions hold OneTimeUse (SAML 2.0) or
	// DoNotCacheCondition (SAML 1.1, which OneTimeUse replaced): the
	// assertion is then single use whatever the confirmation method.
	OneTimeUse bool
}

// Confirmation is one SubjectConfirmation of a verified assertion.
type Confirmation struct {
	Method string // a CM* value (SAML 1.1 methods are mapped to these)
	// Recipient and InResponseTo are the SubjectConfirmationData's
	// attributes, trimmed; "" when absent (always for SAML 1.1).
	Recipient, InResponseTo string
	// HolderKeys are the certificates of a holder-of-key confirmation.
	HolderKeys []*x509.Certificate
}

// Verifier checks SAML assertions for one relying party (a service).
type Verifier struct {
	// Audience is this service's audience URI.
	Audience string
	// Issuers maps a trusted issuer's entityID to its signing certificates.
	Issuers map[string][]*x509.Certificate
	// Methods are the accepted subject confirmation methods (CM* values).
	Methods []string
	// Recipients are this service's endpoint URLs. A subject confirmation
	// whose SubjectConfirmationData names a Recipient is satisfied only if
	// it is one of them (exact comparison after trimming white space); an
	// empty list satisfies no confirmation that names a Recipient.
	Recipients []string
	// RequireRecipient refuses a bearer confirmation without a Recipient.
	RequireRecipient bool
	// AttestingEntities may vouch for subjects (sender-vouches): workload
	// ids of mTLS callers or subject DNs / SPIFFE IDs of message signers.
	AttestingEntities []string
	MaxClockSkew      time.Duration
	AllowSHA1         bool
	Clock             func() time.Time
	// Versions are the SAML versions accepted, Version20 and Version11;
	// empty means SAML 2.0 only. An assertion of another version is
	// refused with wsse:UnsupportedSecurityToken before its signature is
	// looked at: the token is well formed, of a kind this service does not
	// take (WSS 1.1 fault table).
	Versions []string

	// Cache, when set, holds the holder-of-key and sender-vouches SAML 2.0
	// assertions this verifier has verified, so that one presented again
	// is not verified again (AssertionCache says what is still checked).
	// Its key includes the issuer's configured certificates and AllowSHA1,
	// and a hit checks the audience again, so a shared cache would not
	// serve one verifier what another verified; still, a cache belongs to
	// one configuration: a new trust configuration gets a new one.
	Cache *AssertionCache

	// anyAudience is set by the STS for tokens it issued to other services.
	anyAudience bool
	// onVerify, when set, is called for every signature verification (a
	// test's counter).
	onVerify func()
}

// SAML versions, as Verifier.Versions lists them.
const (
	Version20 = "2.0"
	Version11 = "1.1"
)

// accepts reports whether the verifier takes assertions of SAML version.
func (v *Verifier) accepts(version string) bool {
	if len(v.Versions) == 0 {
		return version == Version20
	}
	return slices.Contains(v.Versions, version)
}

// versions lists the accepted versions for a message.
func (v *Verifier) versions() []string {
	if len(v.Versions) == 0 {
		return []string{Version20}
	}
	return v.Versions
}

func unsupported(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultUnsupportedSecurityToken, "security token not supported", fmt.Errorf(format, args...))
}

// Message is the context a subject confirmation is checked against.
type Message struct {
	Envelope *soap.Envelope
	Security *wssec.Verified
	// Caller is the mTLS workload identity, CallerCert its verified
	// certificate; both empty for an anonymous listener.
	Caller     string
	CallerCert *x509.Certificate
}

func (v *Verifier) skew() time.Duration {
	if v.MaxClockSkew > 0 {
		return v.MaxClockSkew
	}
	return 2 * time.Minute
}

func reject(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultInvalidSecurityToken, "security token not accepted", fmt.Errorf(format, args...))
}

// Verify checks the one SAML assertion of the message's Security header and
// its subject confirmation. It returns the principal and, for a bearer
// assertion or one with a OneTimeUse condition, the replay key that makes
// it single use.
func (v *Verifier) Verify(m Message) (*Principal, *wssec.ReplayKey, error) {
	if m.Security == nil || len(m.Security.Assertions) == 0 {
		return nil, nil, soap.SecurityFault(soap.FaultSecurityTokenUnavailable, "security token required",
			errors.New("no SAML assertion in the Security header"))
	}
	if n := len(m.Security.Assertions); n > 1 {
		return nil, nil, reject("%d SAML assertions in the Security header; exactly one is accepted", n)
	}
	a, err := v.VerifyAssertion(m.Security.Assertions[0])
	if err != nil {
		return nil, nil, err
	}
	p := a.Principal
	var reasons []string
	for _, c := range a.Confirmations {
		if err := v.confirm(c, m); err != nil {
			reasons = append(reasons, c.Method+": "+err.Error())
			continue
		}
		p.Confirmation = c.Method
		var key *wssec.ReplayKey
		if c.Method == CMBearer || a.OneTimeUse {
			ttl := p.NotOnOrAfter.Add(v.skew()).Sub(v.Clock())
			key = &wssec.ReplayKey{Kind: "assertion", Value: []byte(p.Issuer + "\x00" + p.AssertionID), TTL: max(ttl, time.Second), Since: p.IssueInstant}
		}
		return &p, key, nil
	}
	return nil, nil, reject("no subject confirmation satisfied: %s", strings.Join(reasons, "; "))
}

var _ wssec.TokenKeys = (*Verifier)(nil)

// HolderKey implements wssec.TokenKeys: it verifies the assertion el in
// full (VerifyAssertion) and returns the key of its holder-of-key
// confirmation, which a signature's KeyInfo names through the SAML token
// profile (STR #SAMLID). The confirmation must be one this service accepts
// (method, Recipient, no InResponseTo); several confirmed keys are refused,
// since which one the signer holds would be a guess. Verify still checks
// the confirmation against the message afterwards.
func (v *Verifier) HolderKey(el *etree.Element) (*x509.Certificate, error) {
	a, err := v.VerifyAssertion(el)
	if err != nil {
		return nil, err
	}
	var key *x509.Certificate
	var reasons []string
	for _, c := range a.Confirmations {
		if c.Method != CMHolderOfKey {
			continue
		}
		if err := v.acceptable(c); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		for _, hk := range c.HolderKeys {
			if key != nil && !samePublicKey(key, hk) {
				return nil, reject("assertion %q confirms more than one holder key", a.Principal.AssertionID)
			}
			key = hk
		}
	}
	if key == nil {
		return nil, reject("assertion %q has no holder-of-key confirmation this service accepts: %s", a.Principal.AssertionID, strings.Join(reasons, "; "))
	}
	return key, nil
}

// acceptable checks what of a subject confirmation does not depend on the
// message: the method is accepted, it answers no request, and its
// Recipient, if any, is this endpoint.
func (v *Verifier) acceptable(c Confirmation) error {
	if !slices.Contains(v.Methods, c.Method) {
		return errors.New("not accepted by this service")
	}
	// Gatehouse never sends an AuthnRequest: every assertion it accepts is
	// unsolicited, so one that answers a request answers someone else's.
	if c.InResponseTo != "" {
		return fmt.Errorf("SubjectConfirmationData InResponseTo %q: an unsolicited assertion is expected", c.InResponseTo)
	}
	if c.Recipient != "" && !slices.Contains(v.Recipients, c.Recipient) {
		return fmt.Errorf("SubjectConfirmationData Recipient %q is not this endpoint (%s)", c.Recipient, recipientList(v.Recipients))
	}
	return nil
}

// confirm checks one subject confirmation against this service's policy
// and the message (whose Security Verify has checked is not nil).
func (v *Verifier) confirm(c Confirmation, m Message) error {
	if err := v.acceptable(c); err != nil {
		return err
	}
	switch c.Method {
	case CMBearer:
		if c.Recipient == "" && v.RequireRecipient {
			return errors.New("a bearer confirmation without Recipient is not accepted by this service")
		}
		if m.CallerCert == nil {
			return errors.New("a bearer assertion is accepted only over mutual TLS")
		}
		return nil
	case CMHolderOfKey:
		for _, hk := range c.HolderKeys {
			if m.CallerCert != nil && samePublicKey(hk, m.CallerCert) {
				return nil
			}
			if s := m.Security.SignerOf(m.Envelope.Body); s != nil && samePublicKey(hk, s.Certificate) {
				return nil
			}
		}
		return errors.New("neither the TLS client key nor the key that signed the Body is the confirmed key")
	case CMSenderVouch:
		// An mTLS caller named as an attesting entity vouches with its
		// connection: TLS binds the Body and the assertion it sends, so no
		// message signature is needed. Whether the service also requires
		// a message signature is the WS-Security policy's business, which
		// the gateway checks before; this path does not depend on it.
		if m.Caller != "" && attesting(v.AttestingEntities, m.Caller) {
			return nil
		}
		// Otherwise one signature of an attesting entity must cover both
		// the Body and the assertion: two signatures, even of two trusted
		// keys, could pair one party's Body with another party's assertion.
		body, token := m.Security.SignerOf(m.Envelope.Body), m.Security.SignerOf(m.Security.Assertions[0])
		switch {
		case body == nil || token == nil:
			return fmt.Errorf("caller %q is not an attesting entity and the Body and the assertion are not both signed", m.Caller)
		case body != token:
			return fmt.Errorf("caller %q is not an attesting entity and the Body and the assertion are covered by two different signatures", m.Caller)
		case body.Token != nil:
			// A holder key names whatever subject its holder chose: only a
			// key from the trust store can be an attesting entity's.
			return fmt.Errorf("caller %q is not an attesting entity and the signer's key is a SAML assertion's holder key, not a trusted attesting entity's", m.Caller)
		}
		for _, id := range certificateIDs(body.Certificate) {
			if attesting(v.AttestingEntities, id) {
				return nil
			}
		}
		return fmt.Errorf("caller %q is not an attesting entity and the signer %q of the Body and the assertion is not one", m.Caller, dn.Subject(body.Certificate))
	}
	return fmt.Errorf("unknown confirmation method %q", c.Method)
}

// recipientList names the configured recipients for a message.
func recipientList(rs []string) string {
	if len(rs) == 0 {
		return "no recipient is configured"
	}
	return "recipients: " + strings.Join(rs, ", ")
}

func samePublicKey(a, b *x509.Certificate) bool {
	return string(a.RawSubjectPublicKeyInfo) == string(b.RawSubjectPublicKeyInfo)
}

// attesting reports whether the workload id is one of the configured
// attesting entities: a DN as a DN (however it is spelled), any other id
// exactly.
func attesting(entities []string, id string) bool {
	key := dn.Key(id)
	return slices.ContainsFunc(entities, func(e string) bool { return dn.Key(e) == key })
}

// certificateIDs are the names a signer's certificate may be configured
// by: its subject DN (RFC 4514, compared through dn.Key) and its SPIFFE ID
// when it has exactly one valid one.
func certificateIDs(c *x509.Certificate) []string {
	ids := []string{dn.Subject(c)}
	var spiffe []string
	for _, u := range c.URIs {
		if strings.EqualFold(u.Scheme, "spiffe") {
			spiffe = append(spiffe, u.String())
		}
	}
	if len(spiffe) == 1 {
		if id, err := spiffeid.FromString(spiffe[0]); err == nil {
			ids = append(ids, id.String())
		}
	}
	return ids
}

// VerifyAssertion checks an assertion element on its own: issuer, enveloped
// signature with the issuer's configured certificates, version, times,
// conditions and audience. It does not check the subject confirmation.
//
// With a Cache, a SAML 2.0 assertion whose exact content (and context) this
// verifier has verified before, with the same issuer trust, is not
// verified again: the cache holds what was read from the verified element,
// and every check that depends on the time or on this service is made
// again (see AssertionCache). Bearer and OneTimeUse assertions are never
// cached.
func (v *Verifier) VerifyAssertion(el *etree.Element) (*Assertion, error) {
	now := v.Clock()
	if el.NamespaceURI() == NSAssertion1 {
		if !v.accepts(Version11) {
			return nil, unsupported("a SAML 1.1 assertion: this service accepts SAML %s", strings.Join(v.versions(), " and "))
		}
		return v.verifyAssertion11(el)
	}
	if !v.accepts(Version20) {
		return nil, unsupported("a SAML 2.0 assertion: this service accepts SAML %s", strings.Join(v.versions(), " and "))
	}
	if el.Tag != "Assertion" || el.NamespaceURI() != NSAssertion {
		return nil, reject("not a SAML 2.0 assertion: {%s}%s", el.NamespaceURI(), el.Tag)
	}
	id := attr(el, "ID")
	if id == "" {
		return nil, reject("assertion without ID")
	}
	for _, a := range el.Attr {
		if a.Key == "ID" && a.Space != "" {
			return nil, reject("assertion with a prefixed ID attribute")
		}
	}
	// The issuer is read unverified only to pick its certificates; it is
	// compared with the verified issuer below.
	issuerEl := child(el, NSAssertion, "Issuer")
	if issuerEl == nil {
		return nil, reject("assertion without Issuer")
	}
	claimed, _ := soap.Text(issuerEl)
	claimed = strings.TrimSpace(claimed)
	var key [sha256.Size]byte
	cache := v.Cache
	if cache != nil && !mayBeCached(el) {
		cache = nil // bearer or one-time: not looked up, not stored
	}
	if cache != nil {
		var ok bool
		if key, ok = v.cacheKey(el, claimed); !ok {
			cache = nil
		} else if va := cache.get(key, now); va != nil && certValid(va.cert, now) {
			// The same assertion, verified with the same trust: only
			// what depends on the time and the service is checked.
			cache.observe(true)
			return v.current(va, now)
		}
		cache.observe(false)
	}
	verified, cert, err := v.verifySigned(el, claimed, id, "ID", now)
	if err != nil {
		return nil, err
	}
	// From here on, only the verified element is read.
	va, err := v.read(verified, claimed, id, cert)
	if err != nil {
		return nil, err
	}
	a, err := v.current(va, now)
	if err != nil {
		return nil, err
	}
	if expires, ok := va.cacheable(); ok && cache != nil && now.Before(expires) {
		cache.put(key, va, expires)
	}
	return a, nil
}

// verifiedAssertion is what read takes from a verified SAML 2.0 assertion:
// everything that depends only on the signed content. The checks that
// depend on the time or on the service are current's.
type verifiedAssertion struct {
	element *etree.Element    // the element goxmldsig re-read from the signed bytes
	cert    *x509.Certificate // the issuer certificate that verified the signature
	// principal is complete but for NotOnOrAfter, which current sets, and
	// Confirmation, which Verify sets.
	principal    Principal
	issueInstant time.Time
	// notBefore and notOnOrAfter are the Conditions' (notBefore may be zero).
	notBefore, notOnOrAfter time.Time
	// audiences are the Audience values of each AudienceRestriction.
	audiences     [][]string
	oneTimeUse    bool
	confirmations []confirmationRead
}

// confirmationRead is one SubjectConfirmation as read, before the time
// check that decides whether it is currently valid.
type confirmationRead struct {
	Confirmation
	notBefore, notOnOrAfter time.Time // of its SubjectConfirmationData; zero when absent
	// badTime is set when a SubjectConfirmationData time is not an
	// xsd:dateTime: the confirmation is never valid.
	badTime bool
	// err is a holder-of-key certificate that does not parse: the
	// assertion is refused if the confirmation is currently valid.
	err error
}

// read decodes the verified SAML 2.0 assertion element verified, whose
// signature cert verified, with everything that does not depend on the
// time or on the service checked.
func (v *Verifier) read(verified *etree.Element, claimed, id string, cert *x509.Certificate) (*verifiedAssertion, error) {
	sa, err := readFields(verified)
	if err != nil {
		return nil, err
	}
	issuer := sa.issuer
	switch {
	case issuer != claimed:
		return nil, reject("verified issuer %q differs from %q", issuer, claimed)
	case sa.version != "2.0":
		return nil, reject("assertion version %q", sa.version)
	case sa.id != id:
		return nil, reject("verified assertion ID differs")
	case sa.issueInstant.IsZero():
		return nil, reject("IssueInstant %s is missing or in the future", sa.issueInstant.Format(time.RFC3339))
	case sa.subject == nil:
		return nil, reject("assertion without Subject")
	}
	va := &verifiedAssertion{element: verified, cert: cert, issueInstant: sa.issueInstant}
	p := &va.principal
	p.Issuer, p.AssertionID = issuer, id

	// NameID: the full text of the verified element (comments cannot cut it).
	nameID := child(sa.subject, NSAssertion, "NameID")
	if nameID == nil {
		return nil, reject("assertion without NameID")
	}
	text, err := soap.Text(nameID)
	if err != nil || strings.TrimSpace(text) == "" {
		return nil, reject("empty or structured NameID")
	}
	p.Subject, p.Format = strings.TrimSpace(text), attr(nameID, "Format")

	if err := readConditions(verified, va); err != nil {
		return nil, err
	}
	readConfirmations(verified, va)
	if sa.authn {
		p.AuthnInstant, p.AuthnContext = sa.authnInstant, sa.authnContext
	}
	p.Attributes = sa.attributes
	p.Roles = p.Attributes[RoleAttribute]
	return va, nil
}

// current makes the checks of a verified assertion that depend on the time
// now or on this service: IssueInstant, the validity window, the audience,
// which subject confirmations are currently valid. It returns a new
// Assertion that shares nothing mutable with va, so that va can be served
// again.
func (v *Verifier) current(va *verifiedAssertion, now time.Time) (*Assertion, error) {
	skew := v.skew()
	if va.issueInstant.After(now.Add(skew)) {
		return nil, reject("IssueInstant %s is missing or in the future", va.issueInstant.Format(time.RFC3339))
	}
	if err := checkWindow(va.notBefore, va.notOnOrAfter, now, skew); err != nil {
		return nil, err
	}
	for _, auds := range va.audiences {
		if !slices.Contains(auds, v.Audience) && !v.anyAudience {
			return nil, reject("an AudienceRestriction does not name this service's audience %q", v.Audience)
		}
	}
	a := &Assertion{Element: va.element, Principal: va.principal, OneTimeUse: va.oneTimeUse}
	p := &a.Principal
	p.NotOnOrAfter, p.IssueInstant = va.notOnOrAfter, va.issueInstant
	p.Chain = slices.Clone(p.Chain)
	p.Attributes = make(map[string][]string, len(va.principal.Attributes))
	for name, vals := range va.principal.Attributes {
		p.Attributes[name] = slices.Clone(vals)
	}
	p.Roles = p.Attributes[RoleAttribute]
	for _, c := range va.confirmations {
		switch {
		case c.badTime,
			!c.notBefore.IsZero() && now.Add(skew).Before(c.notBefore),
			!c.notOnOrAfter.IsZero() && !now.Add(-skew).Before(c.notOnOrAfter):
			continue
		case c.err != nil:
			return nil, reject("holder-of-key certificate: %v", c.err)
		case c.Method == CMHolderOfKey && len(c.HolderKeys) == 0:
			continue
		}
		c.HolderKeys = slices.Clone(c.HolderKeys)
		a.Confirmations = append(a.Confirmations, c.Confirmation)
	}
	if len(a.Confirmations) == 0 {
		return nil, reject("no currently valid subject confirmation")
	}
	return a, nil
}

// verifySigned checks the enveloped signature of the assertion el (whose
// ID attribute idAttr holds id) against the certificates configured for the
// issuer it claims, and returns the element as verified and the
// certificate that verified it.
func (v *Verifier) verifySigned(el *etree.Element, claimed, id, idAttr string, now time.Time) (*etree.Element, *x509.Certificate, error) {
	if v.onVerify != nil {
		v.onVerify()
	}
	certs := v.Issuers[claimed]
	if len(certs) == 0 {
		return nil, nil, reject("issuer %q is not trusted by this service", claimed)
	}
	sig, err := checkSignatureShape(el, id, v.AllowSHA1)
	if err != nil {
		return nil, nil, reject("%v", err)
	}
	verified, cert, err := v.validate(el, sig, certs, now, idAttr)
	if err != nil {
		return nil, nil, reject("assertion signature: %v", err)
	}
	return verified, cert, nil
}

// validate runs goxmldsig on the assertion with one of the issuer's
// certificates at a time in its store. KeyInfo only selects: a certificate
// in it must be one of the configured ones, and KeyInfo is then taken out
// of the copy goxmldsig sees (the enveloped transform excludes the
// Signature from the digest, so this changes nothing signed), so that
// goxmldsig verifies with exactly the configured certificate whatever form
// KeyInfo had (KeyName, KeyValue, nothing). Only copies are changed: el is
// the caller's element, still part of the message.
func (v *Verifier) validate(el, sig *etree.Element, certs []*x509.Certificate, now time.Time, idAttr string) (*etree.Element, *x509.Certificate, error) {
	var errs []error
	for _, cert := range certs {
		if !keyInfoNames(sig, cert) {
			continue
		}
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			errs = append(errs, fmt.Errorf("with %q: the certificate is not valid at this time (%s)", dn.Subject(cert), now.UTC().Format(time.RFC3339)))
			continue
		}
		// The exclusive C14N form (what the STS and most issuers write)
		// is verified over the message's own tree, with no copy, and read
		// back from the verified bytes; other canonicalizations go to
		// goxmldsig below.
		out, err := wssec.VerifyEnveloped(el, sig, cert, idAttr, v.AllowSHA1)
		if err == nil {
			return out, cert, nil
		}
		if !errors.Is(err, wssec.ErrEnvelopedForm) {
			errs = append(errs, fmt.Errorf("with %q: %w", dn.Subject(cert), err))
			continue
		}
		in := el.Copy()
		if err := derECDSAValue(in, cert); err != nil {
			errs = append(errs, fmt.Errorf("with %q: %w", dn.Subject(cert), err))
			continue
		}
		if ki := child(child(in, nsDSig, "Signature"), nsDSig, "KeyInfo"); ki != nil {
			ki.Parent().RemoveChild(ki)
		}
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.IdAttribute = idAttr
		vc.Clock = dsig.NewFakeClockAt(now)
		out, err = vc.Validate(in)
		if err == nil {
			return out, cert, nil
		}
		errs = append(errs, fmt.Errorf("with %q: %w", dn.Subject(cert), err))
	}
	if len(errs) == 0 {
		return nil, nil, errors.New("KeyInfo names a certificate that is not configured for this issuer")
	}
	return nil, nil, errors.Join(errs...)
}

// keyInfoNames reports whether the signature's KeyInfo could name cert: it
// carries no X509Certificate, or that certificate is cert.
func keyInfoNames(sig *etree.Element, cert *x509.Certificate) bool {
	xc := child(child(child(sig, nsDSig, "KeyInfo"), nsDSig, "X509Data"), nsDSig, "X509Certificate")
	if xc == nil {
		return true
	}
	text, _ := soap.Text(xc)
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	return err == nil && string(der) == string(cert.Raw)
}

// readConditions applies SAML 2.0 Core 2.5 to the verified element el, as
// far as the time and the service do not matter: exactly one Conditions
// element with well-formed times, at least one AudienceRestriction (their
// audiences are noted for current to check), OneTimeUse noted,
// ProxyRestriction understood, the delegation condition read into the
// chain; any other condition makes the assertion invalid for us.
func readConditions(el *etree.Element, va *verifiedAssertion) error {
	p := &va.principal
	c, nb, noa, err := parseWindow(children(el, NSAssertion, "Conditions"))
	if err != nil {
		return err
	}
	va.notBefore, va.notOnOrAfter = nb, noa
	for _, cond := range c.ChildElements() {
		ns := cond.NamespaceURI()
		switch {
		case ns == NSAssertion && cond.Tag == "AudienceRestriction":
			auds := []string{}
			for _, au := range children(cond, NSAssertion, "Audience") {
				t, _ := soap.Text(au)
				auds = append(auds, strings.TrimSpace(t))
			}
			va.audiences = append(va.audiences, auds)
		case ns == NSAssertion && cond.Tag == "OneTimeUse":
			// Single use whatever the confirmation method (bearer always is).
			va.oneTimeUse = true
		case ns == NSAssertion && cond.Tag == "ProxyRestriction":
			// ProxyRestriction limits further issuing, which the STS honours.
		case ns == NSAssertion && cond.Tag == "Condition":
			typ, _ := soap.AttrNS(cond, NSXSI, "type")
			if !isDelegationType(cond, typ) {
				return reject("condition of type %q is not understood", typ)
			}
			for _, d := range children(cond, NSDelegation, "Delegate") {
				nid := child(d, NSAssertion, "NameID")
				t, err := soap.Text(nid)
				if nid == nil || err != nil || strings.TrimSpace(t) == "" {
					return reject("Delegate without a NameID")
				}
				p.Chain = append(p.Chain, strings.TrimSpace(t))
			}
		default:
			return reject("condition {%s}%s is not understood", ns, cond.Tag)
		}
	}
	if len(va.audiences) == 0 {
		return reject("assertion without AudienceRestriction")
	}
	return nil
}

// window checks the one Conditions element's NotBefore and NotOnOrAfter
// (SAML 2.0 and 1.1 alike) with the allowed skew, notes the end of validity
// in p and returns the element.
func (v *Verifier) window(conds []*etree.Element, p *Principal, now time.Time) (*etree.Element, error) {
	c, nb, noa, err := parseWindow(conds)
	if err != nil {
		return nil, err
	}
	if err := checkWindow(nb, noa, now, v.skew()); err != nil {
		return nil, err
	}
	p.NotOnOrAfter = noa
	return c, nil
}

// parseWindow returns the one Conditions element of conds and its
// NotBefore (zero when absent) and NotOnOrAfter (required).
func parseWindow(conds []*etree.Element) (c *etree.Element, nb, noa time.Time, err error) {
	if len(conds) != 1 {
		return nil, nb, noa, reject("assertion needs exactly one Conditions element")
	}
	c = conds[0]
	if nb, err = parseTime(attr(c, "NotBefore"), false); err != nil {
		return nil, nb, noa, reject("Conditions NotBefore: %v", err)
	}
	if noa, err = parseTime(attr(c, "NotOnOrAfter"), true); err != nil {
		return nil, nb, noa, reject("Conditions NotOnOrAfter: %v", err)
	}
	return c, nb, noa, nil
}

// checkWindow checks now against a validity window with the allowed skew.
func checkWindow(nb, noa, now time.Time, skew time.Duration) error {
	if !nb.IsZero() && now.Add(skew).Before(nb) {
		return reject("assertion not valid before %s", nb.Format(time.RFC3339))
	}
	if !now.Add(-skew).Before(noa) {
		return soap.SecurityFault(soap.FaultMessageExpired, "security token expired",
			fmt.Errorf("assertion expired at %s", noa.Format(time.RFC3339)))
	}
	return nil
}

// isDelegationType reports whether an xsi:type QName is the delegation
// restriction type, resolving its prefix in scope. Exclusive C14N without
// the prefix in its InclusiveNamespaces list keeps the declaration only on
// the del:Delegate children that use it visibly; when the prefix is unbound
// on the Condition, the binding those signed children give it is used.
func isDelegationType(el *etree.Element, qname string) bool {
	prefix, local, ok := strings.Cut(qname, ":")
	if !ok || local != "DelegationRestrictionType" {
		return false
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xmlns" && a.Key == prefix {
				return a.Value == NSDelegation
			}
		}
	}
	kids := el.ChildElements()
	return len(kids) > 0 && !slices.ContainsFunc(kids, func(c *etree.Element) bool {
		return c.Space != prefix || c.NamespaceURI() != NSDelegation
	})
}

// readConfirmations collects the subject confirmations of the verified
// element a with their Recipient, InResponseTo, times and holder-of-key
// certificates; current decides which are valid.
func readConfirmations(a *etree.Element, va *verifiedAssertion) {
	subj := child(a, NSAssertion, "Subject")
	for _, sc := range children(subj, NSAssertion, "SubjectConfirmation") {
		c := confirmationRead{Confirmation: Confirmation{Method: attr(sc, "Method")}}
		data := child(sc, NSAssertion, "SubjectConfirmationData")
		if data != nil {
			var errNB, errNOA error
			c.notBefore, errNB = parseTime(attr(data, "NotBefore"), false)
			c.notOnOrAfter, errNOA = parseTime(attr(data, "NotOnOrAfter"), false)
			c.badTime = errNB != nil || errNOA != nil
			c.Recipient = strings.TrimSpace(attr(data, "Recipient"))
			c.InResponseTo = strings.TrimSpace(attr(data, "InResponseTo"))
		}
		if c.Method == CMHolderOfKey {
			c.HolderKeys, c.err = holderKeys(data)
		}
		va.confirmations = append(va.confirmations, c)
	}
}

// holderKeys are the X.509 certificates of the KeyInfo elements of a
// holder-of-key SubjectConfirmationData.
func holderKeys(data *etree.Element) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	if data == nil {
		return nil, nil
	}
	for _, ki := range children(data, nsDSig, "KeyInfo") {
		xc := child(child(ki, nsDSig, "X509Data"), nsDSig, "X509Certificate")
		if xc == nil {
			continue
		}
		text, _ := soap.Text(xc)
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		out = append(out, cert)
	}
	return out, nil
}

func parseTime(s string, required bool) (time.Time, error) {
	if s == "" {
		if required {
			return time.Time{}, errors.New("missing")
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an xsd:dateTime with a time zone", s)
	}
	return t, nil
}
