package samlsts

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// Algorithms an assertion signature may use. goxmldsig itself also accepts
// SHA-1, other canonicalizations and a reference without canonicalization;
// checkSignatureShape pins these before goxmldsig runs.
var (
	assertionSignatureMethods = map[string]bool{
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256":   true,
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":   true,
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512":   true,
		"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": true,
		"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": true,
		"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": true,
	}
	assertionDigests = map[string]bool{
		"http://www.w3.org/2001/04/xmlenc#sha256":       true,
		"http://www.w3.org/2001/04/xmldsig-more#sha384": true,
		"http://www.w3.org/2001/04/xmlenc#sha512":       true,
	}
	assertionC14N = map[string]bool{
		"http://www.w3.org/2001/10/xml-exc-c14n#":         true,
		"http://www.w3.org/TR/2001/REC-xml-c14n-20010315": true,
		"http://www.w3.org/2006/12/xml-c14n11":            true,
	}
)

const (
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	algSHA1RSA  = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	algSHA1     = "http://www.w3.org/2000/09/xmldsig#sha1"
	algEnvelope = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// checkSignatureShape requires exactly one ds:Signature in the assertion,
// as its direct child, with one Reference to the assertion's own ID, the
// enveloped-signature transform followed by one canonicalization, and
// allow-listed algorithms. It returns the Signature element.
func checkSignatureShape(a *etree.Element, id string, allowSHA1 bool) (*etree.Element, error) {
	var sigs []*etree.Element
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		for _, c := range el.ChildElements() {
			if c.Tag == "Signature" && c.NamespaceURI() == nsDSig {
				sigs = append(sigs, c)
			}
			walk(c)
		}
	}
	walk(a)
	switch {
	case len(sigs) == 0:
		return nil, errors.New("assertion is not signed")
	case len(sigs) > 1:
		return nil, fmt.Errorf("assertion holds %d signatures; exactly one is allowed", len(sigs))
	case sigs[0].Parent() != a:
		return nil, errors.New("the assertion's signature is not its direct child")
	}
	sig := sigs[0]
	si := child(sig, nsDSig, "SignedInfo")
	if si == nil {
		return nil, errors.New("signature without SignedInfo")
	}
	var refs []*etree.Element
	for _, c := range si.ChildElements() {
		alg := attr(c, "Algorithm")
		switch c.Tag {
		case "CanonicalizationMethod":
			if !assertionC14N[alg] {
				return nil, fmt.Errorf("canonicalization %q not allowed", alg)
			}
		case "SignatureMethod":
			if !assertionSignatureMethods[alg] && !(allowSHA1 && alg == algSHA1RSA) {
				return nil, fmt.Errorf("signature method %q not allowed", alg)
			}
			if len(c.ChildElements()) != 0 {
				return nil, errors.New("parameters on SignatureMethod")
			}
		case "Reference":
			refs = append(refs, c)
		default:
			return nil, fmt.Errorf("unexpected %s in SignedInfo", c.Tag)
		}
	}
	if len(refs) != 1 {
		return nil, fmt.Errorf("assertion signature has %d references; exactly one is allowed", len(refs))
	}
	ref := refs[0]
	if uri := attr(ref, "URI"); uri != "#"+id {
		return nil, fmt.Errorf("signature reference %q does not name the assertion %q", uri, id)
	}
	ts := child(ref, nsDSig, "Transforms")
	if ts == nil {
		return nil, errors.New("assertion reference without transforms")
	}
	kids := ts.ChildElements()
	if len(kids) != 2 || attr(kids[0], "Algorithm") != algEnvelope || !assertionC14N[attr(kids[1], "Algorithm")] {
		return nil, errors.New("assertion reference transforms must be enveloped-signature then one canonicalization")
	}
	dm := child(ref, nsDSig, "DigestMethod")
	if dm == nil || (!assertionDigests[attr(dm, "Algorithm")] && !(allowSHA1 && attr(dm, "Algorithm") == algSHA1)) {
		return nil, errors.New("assertion digest method not allowed")
	}
	return sig, nil
}

// derECDSAValue rewrites, in the copy cp of an assertion, an ECDSA
// SignatureValue from XML-DSig's r‖s form to the ASN.1 form goxmldsig's
// verifier expects (it hands the value to x509.CheckSignature). The
// SignatureValue is not covered by the signature, so this changes nothing
// that was signed. For another key type it leaves cp as it is.
func derECDSAValue(cp *etree.Element, cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil
	}
	sig := child(cp, nsDSig, "Signature")
	sv := child(sig, nsDSig, "SignatureValue")
	if sv == nil {
		return errors.New("signature without SignatureValue")
	}
	text, _ := soap.Text(sv)
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return fmt.Errorf("SignatureValue: %w", err)
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(raw) != 2*n {
		return fmt.Errorf("ECDSA SignatureValue of %d bytes, want %d (r‖s)", len(raw), 2*n)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
	if err != nil {
		return err
	}
	sv.Child = nil
	sv.SetText(base64.StdEncoding.EncodeToString(der))
	return nil
}

func child(el *etree.Element, ns, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			out = append(out, c)
		}
	}
	return out
}

// attr reads an unqualified attribute exactly (etree's SelectAttrValue would
// also match a prefixed one).
func attr(el *etree.Element, name string) string {
	v, _ := soap.AttrNS(el, "", name)
	return v
}
