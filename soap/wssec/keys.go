package wssec

import (
	"crypto/x509"
	"math/big"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// resolveKey finds the certificate KeyInfo names. It only selects: the
// caller checks the certificate against the trust store. Supported are a
// wsse:SecurityTokenReference (direct Reference to a BinarySecurityToken in
// this Security header, KeyIdentifier by subject key identifier or SHA-1
// thumbprint, X509Data/X509IssuerSerial) and ds:X509Data with an
// X509Certificate or X509IssuerSerial.
func (vr *Verifier) resolveKey(v *Verified, sec, keyInfo *etree.Element) (*x509.Certificate, error) {
	kids := keyInfo.ChildElements()
	if len(kids) != 1 {
		return nil, unsupportedToken("KeyInfo must hold exactly one key reference, has %d", len(kids))
	}
	k := kids[0]
	switch ns := k.NamespaceURI(); {
	case ns == soap.NSWSSE && k.Tag == "SecurityTokenReference":
		return vr.resolveSTR(v, sec, k)
	case ns == NSDSig && k.Tag == "X509Data":
		return vr.resolveX509Data(k)
	default:
		return nil, unsupportedToken("key reference {%s}%s", ns, k.Tag)
	}
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
		return parseBST(bst)
	case ns == soap.NSWSSE && r.Tag == "KeyIdentifier":
		if enc := attr(r, "EncodingType", encodingBase64); enc != encodingBase64 {
			return nil, unsupportedToken("KeyIdentifier EncodingType %q", enc)
		}
		id, err := decodeBase64Text(r)
		if err != nil {
			return nil, invalid("KeyIdentifier: %v", err)
		}
		var cert *x509.Certificate
		switch vt := attr(r, "ValueType", ""); vt {
		case valueTypeSKI:
			cert = vr.Trust.lookupSKI(id)
		case valueTypeThumb:
			cert = vr.Trust.lookupThumbprint(id)
		default:
			return nil, unsupportedToken("KeyIdentifier ValueType %q", vt)
		}
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
		cert, err := x509.ParseCertificate(der)
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
func parseBST(bst *etree.Element) (*x509.Certificate, error) {
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
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, invalid("BinarySecurityToken: %v", err)
	}
	return cert, nil
}
