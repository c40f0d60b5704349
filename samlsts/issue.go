package samlsts

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse/gatehouse/soap/wssec"
)

// Authentication context classes the STS writes.
const (
	AuthnPasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	AuthnTLSClient                  = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
	AuthnX509                       = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
	// AuthnUnspecified is written when an actor vouches for a user: how
	// the user authenticated to it is not known.
	AuthnUnspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
)

// Issuer signs SAML 2.0 assertions for the STS.
type Issuer struct {
	EntityID string
	Key      crypto.Signer
	Cert     *x509.Certificate
	Clock    func() time.Time
}

// IssueRequest is what an assertion says.
type IssueRequest struct {
	Subject, Format string
	Audience        string
	Lifetime        time.Duration
	// Method is CMBearer or CMHolderOfKey (then HolderKey is the key).
	Method    string
	HolderKey *x509.Certificate
	// Recipient, for a bearer assertion, is the endpoint URL it is sent
	// to: the SubjectConfirmationData names it (and the end of validity),
	// so that the assertion is refused at any other endpoint.
	Recipient    string
	AuthnContext string
	AuthnInstant time.Time
	Roles        []string
	// Attributes are the other attributes; an entry for RoleAttribute is
	// ignored (Roles says the roles).
	Attributes map[string][]string
	// Chain lists the actors acting for the subject, oldest first; the
	// assertion records it as a DelegationRestriction condition.
	Chain []string
}

// Issue builds and signs an assertion (enveloped signature, exclusive C14N,
// SHA-256 family, the method chosen by key type).
func (is *Issuer) Issue(r IssueRequest) (*etree.Element, error) {
	el, err := is.build(r)
	if err != nil {
		return nil, err
	}
	return is.sign(el)
}

// check refuses requests no assertion can be issued for.
func (r *IssueRequest) check() error {
	switch {
	case r.Subject == "" || r.Audience == "" || r.Lifetime <= 0:
		return errors.New("samlsts: issue needs a subject, an audience and a lifetime")
	case r.Method == CMHolderOfKey && r.HolderKey == nil:
		return errors.New("samlsts: holder-of-key needs the holder's certificate")
	case r.Method != CMBearer && r.Method != CMHolderOfKey:
		return fmt.Errorf("samlsts: cannot issue with confirmation method %q", r.Method)
	}
	return nil
}

// build returns the unsigned assertion.
func (is *Issuer) build(r IssueRequest) (*etree.Element, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	now := is.Clock().UTC().Truncate(time.Millisecond)
	var idb [20]byte
	_, _ = rand.Read(idb[:])
	id := "_" + hex.EncodeToString(idb[:])

	sa := saml.Assertion{
		ID: id, IssueInstant: now, Version: "2.0",
		Issuer: saml.Issuer{Value: is.EntityID},
		Subject: &saml.Subject{
			NameID:               &saml.NameID{Format: r.Format, Value: r.Subject},
			SubjectConfirmations: []saml.SubjectConfirmation{{Method: r.Method}},
		},
		Conditions: &saml.Conditions{
			NotBefore: now, NotOnOrAfter: now.Add(r.Lifetime),
			AudienceRestrictions: []saml.AudienceRestriction{{Audience: saml.Audience{Value: r.Audience}}},
		},
		AuthnStatements: []saml.AuthnStatement{{
			AuthnInstant: r.AuthnInstant.UTC(),
			AuthnContext: saml.AuthnContext{AuthnContextClassRef: &saml.AuthnContextClassRef{Value: r.AuthnContext}},
		}},
	}
	var attrs []saml.Attribute
	if len(r.Roles) > 0 {
		attrs = append(attrs, attribute(RoleAttribute, r.Roles))
	}
	names := make([]string, 0, len(r.Attributes))
	for n := range r.Attributes {
		// Roles is the one source of the role attribute: a request built
		// from a verified Principal has the roles in both.
		if n != RoleAttribute {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		attrs = append(attrs, attribute(n, r.Attributes[n]))
	}
	if len(attrs) > 0 {
		sa.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
	if r.Method == CMBearer && r.Recipient != "" {
		sa.Subject.SubjectConfirmations[0].SubjectConfirmationData = &saml.SubjectConfirmationData{
			Recipient: r.Recipient, NotOnOrAfter: now.Add(r.Lifetime),
		}
	}
	el := sa.Element()

	if r.Method == CMHolderOfKey {
		sc := child(child(el, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation")
		data := sc.CreateElement("saml:SubjectConfirmationData")
		data.CreateAttr("xmlns:xsi", NSXSI)
		data.CreateAttr("xsi:type", "saml:KeyInfoConfirmationDataType")
		ki := data.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", nsDSig)
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(r.HolderKey.Raw))
	}
	if len(r.Chain) > 0 {
		conds := child(el, NSAssertion, "Conditions")
		c := conds.CreateElement("saml:Condition")
		c.CreateAttr("xmlns:xsi", NSXSI)
		c.CreateAttr("xmlns:del", NSDelegation)
		c.CreateAttr("xsi:type", "del:DelegationRestrictionType")
		for _, actor := range r.Chain {
			d := c.CreateElement("del:Delegate")
			d.CreateAttr("DelegationInstant", now.Format(time.RFC3339Nano))
			d.CreateElement("saml:NameID").SetText(actor)
		}
	}
	return el, nil
}

func attribute(name string, values []string) saml.Attribute {
	a := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}
	for _, v := range values {
		a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
	}
	return a
}

// sign adds the enveloped signature right after Issuer, where the SAML
// schema wants it. The exclusive C14N transform carries the prefixes used in
// xsi:type values (xs, xsi, del), so their declarations stay signed.
func (is *Issuer) sign(el *etree.Element) (*etree.Element, error) {
	el.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	el.CreateAttr("xmlns:xsi", NSXSI)
	at := child(el, NSAssertion, "Issuer").Index() + 1
	if err := wssec.SignEnveloped(el, "ID", at, is.Key, is.Cert, "del xs xsi"); err != nil {
		return nil, fmt.Errorf("samlsts: sign assertion: %w", err)
	}
	return el, nil
}
