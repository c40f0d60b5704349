package wssec

import (
	"crypto/x509"
	"errors"
	"math/big"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// resolveKey finds the certificate KeyInfo names. It only selects: the
// caller checks the certificate against the trust store, unless token is
// the SAML assertion whose holder-of-key confirmation gave the key (its
// issuer's signature, checked by TokenKeys, is then what trusts it).
// Supported are a wsse:SecurityTokenReference (direct Reference to a
// BinarySecurityToken or a SAML 2.0 assertion in this Security header,
// KeyIdentifier by subject key identifier, SHA-1 thumbprint or SAML
// assertion ID, X509Data/X509IssuerSerial) and ds:X509Data with an
// X509Certificate or X509IssuerSerial.
func (vr *Verifier) resolveKey(v *Verified, sec, keyInfo *etree.Element) (cert *x509.Certificate, token *etree.Element, err error) {
	kids := keyInfo.ChildElements()
	if len(kids) != 1 {
		return nil, nil, unsupportedToken("KeyInfo must hold exactly one key reference, has %d", len(kids))
	}
	k := kids[0]
	switch ns := k.NamespaceURI(); {
	case ns == soap.NSWSSE && k.Tag == "SecurityTokenReference":
		a, err := vr.strAssertion(v, sec, k)
		if err != nil {
			return nil, nil, err
		}
		if a != nil {
			cert, err := vr.holderKey(v, a)
			return cert, a, err
		}
		cert, err := vr.resolveSTR(v, sec, k)
		return cert, nil, err
	case ns == NSDSig && k.Tag == "X509Data":
		cert, err := vr.resolveX509Data(k)
		return cert, nil, err
	default:
		return nil, nil, unsupportedToken("key reference {%s}%s", ns, k.Tag)
	}
}

// SAML Token Profile 1.1 identifiers.
const (
	valueTypeSAMLID          = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
	valueTypeSAMLAssertionID = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
	tokenTypeSAML2           = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	tokenTypeSAML11          = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
)

// TokenKeys verifies the security tokens Gatehouse cannot verify itself
// (SAML assertions, verified by package samlsts) when a signature's KeyInfo
// points at one: the signature's key is then the token's confirmed key.
type TokenKeys interface {
	// HolderKey verifies the assertion in full (issuer signature,
	// conditions, audience) and returns the key of its holder-of-key
	// subject confirmation. The key is trusted for this message because
	// the issuer signed it, not because the trust store holds it.
	HolderKey(assertion *etree.Element) (*x509.Certificate, error)
}

// holderKey asks TokenKeys for the confirmed key of the assertion a, once
// per message.
func (vr *Verifier) holderKey(v *Verified, a *etree.Element) (*x509.Certificate, error) {
	if c, ok := v.holderKeys[a]; ok {
		return c, nil
	}
	if vr.TokenKeys == nil {
		return nil, unsupportedToken("a signature key is a SAML assertion's, but this service verifies no SAML assertions")
	}
	cert, err := vr.TokenKeys.HolderKey(a)
	if err != nil {
		var f *soap.Fault
		if errors.As(err, &f) {
			return nil, err
		}
		return nil, failedAuthentication("holder-of-key assertion: %v", err)
	}
	if cert == nil {
		return nil, failedAuthentication("holder-of-key assertion confirms no key")
	}
	if err := checkKey(cert); err != nil {
		return nil, failedAuthentication("holder-of-key assertion key: %v", err)
	}
	if v.holderKeys == nil {
		v.holderKeys = map[*etree.Element]*x509.Certificate{}
	}
	v.holderKeys[a] = cert
	return cert, nil
}

// strAssertion returns the SAML assertion an STR names (SAML Token Profile
// 1.1 section 3.4: KeyIdentifier #SAMLID for SAML 2.0 and #SAMLAssertionID
// for SAML 1.1, or a Reference with #SAMLID to a SAML 2.0 assertion), or
// nil when the STR names something else. The assertion must be a child of
// this Security header, and the STR's wsse11:TokenType, when present, must
// be its version's.
func (vr *Verifier) strAssertion(v *Verified, sec, str *etree.Element) (*etree.Element, error) {
	kids := str.ChildElements()
	if len(kids) != 1 || kids[0].NamespaceURI() != soap.NSWSSE {
		return nil, nil // resolveSTR says what is wrong
	}
	r := kids[0]
	tokenType, typed := soap.AttrNS(str, soap.NSWSSE1, "TokenType")
	var a *etree.Element
	var wantType string
	switch vt := attr(r, "ValueType", ""); {
	case r.Tag == "KeyIdentifier" && (vt == valueTypeSAMLID || vt == valueTypeSAMLAssertionID):
		if enc, ok := soap.AttrNS(r, "", "EncodingType"); ok {
			return nil, unsupportedToken("SAML KeyIdentifier with EncodingType %q", enc)
		}
		text, err := soap.Text(r)
		id := strings.TrimSpace(text)
		if err != nil || id == "" {
			return nil, invalid("SAML KeyIdentifier without an assertion ID")
		}
		ns, idAttr := NSSAML2, "ID"
		wantType = tokenTypeSAML2
		if vt == valueTypeSAMLAssertionID {
			ns, idAttr, wantType = NSSAML1, "AssertionID", tokenTypeSAML11
		}
		for _, c := range v.Assertions {
			if c.NamespaceURI() == ns && attr(c, idAttr, "") == id {
				a = c
			}
		}
		if a == nil {
			return nil, tokenUnavailable("no SAML assertion with %s %q in this Security header", idAttr, id)
		}
	case r.Tag == "Reference" && (vt == valueTypeSAMLID || (vt == "" && typed && (tokenType == tokenTypeSAML2 || tokenType == tokenTypeSAML11))):
		uri := attr(r, "URI", "")
		if len(uri) < 2 || uri[0] != '#' {
			return nil, unsupportedToken("token reference %q is not a same-document reference", uri)
		}
		a = v.Envelope.ElementByID(uri[1:])
		if a == nil || a.Parent() != sec || a.Tag != "Assertion" || a.NamespaceURI() != NSSAML2 {
			// SAML 1.1 assertions are named by KeyIdentifier only.
			return nil, tokenUnavailable("token reference %q is not a SAML 2.0 assertion of this Security header", uri)
		}
		wantType = tokenTypeSAML2
	default:
		return nil, nil
	}
	if typed && tokenType != wantType {
		return nil, unsupportedToken("SecurityTokenReference TokenType %q does not name the referenced assertion's version", tokenType)
	}
	return a, nil
}

func (vr *Verifier) resolveSTR(v *Verified, sec, str *etree.Element) (*x509.Certificate, error) {
	kids := str.ChildElements()
	if len(kids) != 1 {
		return nil, unsupportedToken("SecurityTokenReference must hold exactly one reference")
	}
	r := kids[0]
	switch ns := r.NamespaceURI(); {
	case ns == soap.NSWSSE && r.Tag == "Reference":
		uri := attr(r, "URI", "")
		if len(uri) < 2 || uri[0] != '#' {
			return nil, unsupportedToken("token reference %q is not a same-document reference", uri)
		}
		if vt := attr(r, "ValueType", valueTypeX509v3); vt != valueTypeX509v3 {
			return nil, unsupportedToken("token reference ValueType %q", vt)
		}
		bst := v.Envelope.ElementByID(uri[1:])
		if bst == nil || bst.Parent() != sec || bst.Tag != "BinarySecurityToken" || bst.NamespaceURI() != soap.NSWSSE {
			return nil, tokenUnavailable("token reference %q is not a BinarySecurityToken of this Security header", uri)
		}
		return vr.Trust.parseBST(bst)
	case ns == soap.NSWSSE && r.Tag == "KeyIdentifier":
		// The ValueType says how to read the value: look at it first.
		lookup := vr.Trust.lookupSKI
		switch vt := attr(r, "ValueType", ""); vt {
		case valueTypeSKI:
		case valueTypeThumb:
			lookup = vr.Trust.lookupThumbprint
		default:
			return nil, unsupportedToken("KeyIdentifier ValueType %q", vt)
		}
		if enc := attr(r, "EncodingType", encodingBase64); enc != encodingBase64 {
			return nil, unsupportedToken("KeyIdentifier EncodingType %q", enc)
		}
		id, err := decodeBase64Text(r)
		if err != nil {
			return nil, invalid("KeyIdentifier: %v", err)
		}
		cert := lookup(id)
		if cert == nil {
			return nil, tokenUnavailable("no configured certificate matches the KeyIdentifier")
		}
		return cert, nil
	case ns == NSDSig && r.Tag == "X509Data":
		return vr.resolveX509Data(r)
	default:
		return nil, unsupportedToken("token reference {%s}%s", ns, r.Tag)
	}
}

// resolveX509Data takes the certificate from X509Certificate, or looks one up
// by X509IssuerSerial. Several certificates or several lookups are refused:
// which one signed would be ambiguous.
func (vr *Verifier) resolveX509Data(xd *etree.Element) (*x509.Certificate, error) {
	kids := xd.ChildElements()
	if len(kids) != 1 || kids[0].NamespaceURI() != NSDSig {
		return nil, unsupportedToken("X509Data must hold exactly one X509Certificate or X509IssuerSerial")
	}
	k := kids[0]
	switch k.Tag {
	case "X509Certificate":
		der, err := decodeBase64Text(k)
		if err != nil {
			return nil, invalid("X509Certificate: %v", err)
		}
		cert, err := vr.Trust.parseCertificate(der)
		if err != nil {
			return nil, invalid("X509Certificate: %v", err)
		}
		return cert, nil
	case "X509IssuerSerial":
		name, err1 := childNS(k, NSDSig, "X509IssuerName")
		serial, err2 := childNS(k, NSDSig, "X509SerialNumber")
		if err1 != nil || err2 != nil {
			return nil, invalid("X509IssuerSerial needs X509IssuerName and X509SerialNumber")
		}
		issuer, _ := soap.Text(name)
		sn, _ := soap.Text(serial)
		n, ok := new(big.Int).SetString(strings.TrimSpace(sn), 10)
		if !ok {
			return nil, invalid("X509SerialNumber %q is not a decimal integer", sn)
		}
		in, err := dn.Parse(strings.TrimSpace(issuer))
		if err != nil {
			return nil, invalid("X509IssuerName: %v", err)
		}
		cert := vr.Trust.lookupIssuerSerial(in, n)
		if cert == nil {
			return nil, tokenUnavailable("no configured certificate has issuer %q and serial %s", issuer, n)
		}
		return cert, nil
	}
	return nil, unsupportedToken("X509Data child %s", k.Tag)
}

// parseBST decodes an X.509 v3 BinarySecurityToken.
func (t *TrustStore) parseBST(bst *etree.Element) (*x509.Certificate, error) {
	if vt := attr(bst, "ValueType", ""); vt != valueTypeX509v3 {
		return nil, unsupportedToken("BinarySecurityToken ValueType %q", vt)
	}
	if enc := attr(bst, "EncodingType", encodingBase64); enc != encodingBase64 {
		return nil, unsupportedToken("BinarySecurityToken EncodingType %q", enc)
	}
	der, err := decodeBase64Text(bst)
	if err != nil {
		return nil, invalid("BinarySecurityToken: %v", err)
	}
	cert, err := t.parseCertificate(der)
	if err != nil {
		return nil, invalid("BinarySecurityToken: %v", err)
	}
	return cert, nil
}
