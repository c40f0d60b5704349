package samlsts

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap/wssec"
)

// SAML 1.1 (OASIS SAML V1.1 Assertions and Protocol), which legacy
// consumers still send. crewjam/saml has no SAML 1.1 model, so the verified
// element is read directly, with the same rules as for SAML 2.0.
const (
	cm1Bearer      = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
	cm1HolderOfKey = "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key"
	cm1SenderVouch = "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches"
	am1Password    = "urn:oasis:names:tc:SAML:1.0:am:password"
	am1X509        = "urn:oasis:names:tc:SAML:1.0:am:X509-PKI"
	am1TLSClient   = "urn:ietf:rfc:2246"
)

// methods11 maps SAML 1.x confirmation methods to the SAML 2.0 ones that
// policies are written with.
var methods11 = map[string]string{cm1Bearer: CMBearer, cm1HolderOfKey: CMHolderOfKey, cm1SenderVouch: CMSenderVouch}

// verifyAssertion11 is VerifyAssertion for a SAML 1.1 assertion.
func (v *Verifier) verifyAssertion11(el *etree.Element) (*Assertion, error) {
	now := v.Clock()
	if el.Tag != "Assertion" {
		return nil, reject("not a SAML 1.1 assertion: %s", el.Tag)
	}
	id, claimed := attr(el, "AssertionID"), attr(el, "Issuer")
	if id == "" {
		return nil, reject("SAML 1.1 assertion without AssertionID")
	}
	verified, _, err := v.verifySigned(el, claimed, id, "AssertionID", now)
	if err != nil {
		return nil, err
	}

	// From here on, only the verified element is read.
	skew := v.skew()
	issued, err := parseTime(attr(verified, "IssueInstant"), true)
	switch {
	case attr(verified, "Issuer") != claimed || attr(verified, "AssertionID") != id:
		return nil, reject("verified issuer or ID differs")
	case attr(verified, "MajorVersion") != "1" || (attr(verified, "MinorVersion") != "1" && attr(verified, "MinorVersion") != "0"):
		return nil, reject("SAML version %s.%s", attr(verified, "MajorVersion"), attr(verified, "MinorVersion"))
	case err != nil || issued.After(now.Add(skew)):
		return nil, reject("IssueInstant missing or in the future")
	}
	a := &Assertion{Element: verified}
	p := &a.Principal
	p.Issuer, p.AssertionID, p.IssueInstant = claimed, id, issued
	if err := v.checkConditions11(verified, a, now); err != nil {
		return nil, err
	}
	p.Attributes = map[string][]string{}
	var subject *etree.Element
	for _, st := range verified.ChildElements() {
		if st.NamespaceURI() != NSAssertion1 || st.Tag == "Conditions" || st.Tag == "Signature" {
			continue
		}
		s := child(st, NSAssertion1, "Subject")
		if s == nil {
			return nil, reject("SAML 1.1 %s without Subject", st.Tag)
		}
		if subject == nil {
			subject = s
		} else if text(child(s, NSAssertion1, "NameIdentifier")) != text(child(subject, NSAssertion1, "NameIdentifier")) {
			return nil, reject("SAML 1.1 statements about different subjects")
		}
		switch st.Tag {
		case "AuthenticationStatement":
			p.AuthnContext = attr(st, "AuthenticationMethod")
			p.AuthnInstant, _ = parseTime(attr(st, "AuthenticationInstant"), false)
		case "AttributeStatement":
			for _, at := range children(st, NSAssertion1, "Attribute") {
				name := attr(at, "AttributeName")
				for _, val := range children(at, NSAssertion1, "AttributeValue") {
					p.Attributes[name] = append(p.Attributes[name], text(val))
				}
			}
		default:
			return nil, reject("SAML 1.1 statement %s is not understood", st.Tag)
		}
	}
	if subject == nil {
		return nil, reject("SAML 1.1 assertion without statements")
	}
	nid := child(subject, NSAssertion1, "NameIdentifier")
	if nid == nil || text(nid) == "" {
		return nil, reject("SAML 1.1 subject without NameIdentifier")
	}
	p.Subject, p.Format = text(nid), attr(nid, "Format")
	p.Roles = p.Attributes[RoleAttribute]
	// SAML 1.1 has no Recipient or InResponseTo: its SubjectConfirmationData
	// is anyType, so neither can be checked and none is read.
	if sc := child(subject, NSAssertion1, "SubjectConfirmation"); sc != nil {
		for _, cm := range children(sc, NSAssertion1, "ConfirmationMethod") {
			m, ok := methods11[text(cm)]
			if !ok {
				continue
			}
			c := Confirmation{Method: m}
			if m == CMHolderOfKey {
				cert, err := keyInfoCertificate(child(sc, nsDSig, "KeyInfo"))
				if err != nil || cert == nil {
					continue
				}
				c.HolderKeys = []*x509.Certificate{cert}
			}
			a.Confirmations = append(a.Confirmations, c)
		}
	}
	if len(a.Confirmations) == 0 {
		return nil, reject("no usable subject confirmation")
	}
	return a, nil
}

// checkConditions11 applies SAML 1.1 section 2.3.2 to the verified element
// el: the validity window, every AudienceRestrictionCondition naming our
// audience, and DoNotCacheCondition, which SAML 2.0 replaced with
// OneTimeUse and which makes the assertion single use here.
func (v *Verifier) checkConditions11(el *etree.Element, a *Assertion, now time.Time) error {
	c, err := v.window(children(el, NSAssertion1, "Conditions"), &a.Principal, now)
	if err != nil {
		return err
	}
	restrictions := 0
	for _, cond := range c.ChildElements() {
		switch {
		case cond.NamespaceURI() == NSAssertion1 && cond.Tag == "AudienceRestrictionCondition":
			restrictions++
			ok := slices.ContainsFunc(children(cond, NSAssertion1, "Audience"), func(e *etree.Element) bool { return text(e) == v.Audience })
			if !ok && !v.anyAudience {
				return reject("an AudienceRestrictionCondition does not name this service's audience %q", v.Audience)
			}
		case cond.NamespaceURI() == NSAssertion1 && cond.Tag == "DoNotCacheCondition":
			a.OneTimeUse = true
		default:
			return reject("condition {%s}%s is not understood", cond.NamespaceURI(), cond.Tag)
		}
	}
	if restrictions == 0 {
		return reject("assertion without AudienceRestrictionCondition")
	}
	return nil
}

func keyInfoCertificate(ki *etree.Element) (*x509.Certificate, error) {
	xc := child(child(ki, nsDSig, "X509Data"), nsDSig, "X509Certificate")
	if xc == nil {
		return nil, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text(xc)), ""))
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Issue11 builds and signs a SAML 1.1 assertion for legacy relying parties:
// an AuthenticationStatement and, with roles or attributes, an
// AttributeStatement, each with the subject; the signature comes last, as
// the SAML 1.1 schema places it. Delegation chains are not expressible in
// SAML 1.1 and are refused.
func (is *Issuer) Issue11(r IssueRequest) (*etree.Element, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if len(r.Chain) > 0 {
		return nil, errors.New("samlsts: SAML 1.1 cannot carry a delegation chain")
	}
	cm := cm1Bearer
	if r.Method == CMHolderOfKey {
		cm = cm1HolderOfKey
	}
	now := is.Clock().UTC().Truncate(time.Millisecond)
	var idb [20]byte
	_, _ = rand.Read(idb[:])
	id := "_" + hex.EncodeToString(idb[:])
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

	a := etree.NewElement("saml1:Assertion")
	a.CreateAttr("xmlns:saml1", NSAssertion1)
	a.CreateAttr("MajorVersion", "1")
	a.CreateAttr("MinorVersion", "1")
	a.CreateAttr("AssertionID", id)
	a.CreateAttr("Issuer", is.EntityID)
	a.CreateAttr("IssueInstant", ts(now))
	c := a.CreateElement("saml1:Conditions")
	c.CreateAttr("NotBefore", ts(now))
	c.CreateAttr("NotOnOrAfter", ts(now.Add(r.Lifetime)))
	c.CreateElement("saml1:AudienceRestrictionCondition").CreateElement("saml1:Audience").SetText(r.Audience)
	subject := func(parent *etree.Element) {
		s := parent.CreateElement("saml1:Subject")
		n := s.CreateElement("saml1:NameIdentifier")
		if r.Format != "" {
			n.CreateAttr("Format", r.Format)
		}
		n.SetText(r.Subject)
		sc := s.CreateElement("saml1:SubjectConfirmation")
		sc.CreateElement("saml1:ConfirmationMethod").SetText(cm)
		if r.HolderKey != nil && r.Method == CMHolderOfKey {
			ki := sc.CreateElement("ds:KeyInfo")
			ki.CreateAttr("xmlns:ds", nsDSig)
			ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(r.HolderKey.Raw))
		}
	}
	as := a.CreateElement("saml1:AuthenticationStatement")
	as.CreateAttr("AuthenticationMethod", authMethod11(r.AuthnContext))
	as.CreateAttr("AuthenticationInstant", ts(r.AuthnInstant))
	subject(as)
	if len(r.Roles) > 0 || len(r.Attributes) > 0 {
		st := a.CreateElement("saml1:AttributeStatement")
		subject(st)
		add := func(name string, values []string) {
			at := st.CreateElement("saml1:Attribute")
			at.CreateAttr("AttributeName", name)
			at.CreateAttr("AttributeNamespace", "urn:gatehouse:attributes")
			for _, v := range values {
				at.CreateElement("saml1:AttributeValue").SetText(v)
			}
		}
		if len(r.Roles) > 0 {
			add(RoleAttribute, r.Roles)
		}
		names := make([]string, 0, len(r.Attributes))
		for n := range r.Attributes {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			add(n, r.Attributes[n])
		}
	}
	if err := wssec.SignEnveloped(a, "AssertionID", len(a.Child), is.Key, is.Cert, ""); err != nil {
		return nil, fmt.Errorf("samlsts: sign SAML 1.1 assertion: %w", err)
	}
	return a, nil
}

func authMethod11(ctx string) string {
	switch ctx {
	case AuthnPasswordProtectedTransport:
		return am1Password
	case AuthnTLSClient:
		return am1TLSClient
	case AuthnX509:
		return am1X509
	}
	return "urn:oasis:names:tc:SAML:1.0:am:unspecified"
}
