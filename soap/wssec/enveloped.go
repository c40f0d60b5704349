package wssec

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// ErrEnvelopedForm is VerifyEnveloped's answer for a signature outside
// its form (a canonicalization other than exclusive C14N): the caller
// verifies it another way (goxmldsig) or refuses it. It says nothing about
// the signature's validity.
var ErrEnvelopedForm = errors.New("wssec: enveloped signature not in the exclusive C14N form")

// VerifyEnveloped verifies the enveloped signature that is the direct
// child sig of el (a SAML assertion, say) with cert, the one key the
// caller trusts for it, and returns what was verified: el without the
// signature, read back from its verified canonical form with the
// hardened parser, so that the caller reads only signed content.
//
// The form is the one SignEnveloped writes and XML-DSig stacks use for
// tokens: exclusive C14N for SignedInfo; one Reference whose URI names
// el's idAttr attribute, with the transforms enveloped-signature then
// exclusive C14N (an InclusiveNamespaces PrefixList allowed on either);
// allow-listed digest and signature methods (SHA-1 only with allowSHA1).
// A signature with another canonicalization gets ErrEnvelopedForm.
func VerifyEnveloped(el, sig *etree.Element, cert *x509.Certificate, idAttr string, allowSHA1 bool) (*etree.Element, error) {
	if sig.Parent() != el || sig.Tag != "Signature" || sig.NamespaceURI() != NSDSig {
		return nil, errors.New("the signature is not a direct child of the signed element")
	}
	id := attr(el, idAttr, "")
	if id == "" {
		return nil, fmt.Errorf("the signed element has no %s", idAttr)
	}
	var si, sv *etree.Element
	for _, c := range sig.ChildElements() {
		if c.NamespaceURI() != NSDSig {
			return nil, fmt.Errorf("unexpected %s in Signature", c.Tag)
		}
		switch {
		case c.Tag == "SignedInfo" && si == nil && sv == nil:
			si = c
		case c.Tag == "SignatureValue" && si != nil && sv == nil:
			sv = c
		case c.Tag == "KeyInfo" && sv != nil:
		default:
			return nil, fmt.Errorf("unexpected or misplaced %s in Signature", c.Tag)
		}
	}
	if si == nil || sv == nil {
		return nil, errors.New("signature needs SignedInfo and SignatureValue")
	}
	// AllowNonBSP lets another canonicalization through to the check
	// below, which hands it back to the caller.
	vr := &Verifier{Policy: Policy{AllowSHA1: allowSHA1, AllowNonBSP: true}}
	c14nAlg, prefixList, method, err := vr.signedInfoMethods(si)
	if err != nil {
		return nil, err
	}
	if c14nAlg != AlgExcC14N {
		return nil, ErrEnvelopedForm
	}
	canonSI, err := canonicalizeExc(si, nil, prefixList)
	if err != nil {
		return nil, err
	}
	value, err := decodeBase64Text(sv)
	if err != nil {
		return nil, fmt.Errorf("SignatureValue: %w", err)
	}
	if err := verifyValue(cert.PublicKey, method, canonSI, value); err != nil {
		return nil, fmt.Errorf("SignatureValue does not verify: %w", err)
	}

	// From here on only the verified SignedInfo is read.
	vsi, err := soap.ParseFragment(canonSI, soap.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("re-read canonical SignedInfo: %w", err)
	}
	kids := vsi.ChildElements()
	if len(kids) < 3 {
		return nil, errors.New("canonical SignedInfo lost its children")
	}
	refs := kids[2:]
	if len(refs) != 1 || refs[0].Tag != "Reference" || refs[0].NamespaceURI() != NSDSig {
		return nil, fmt.Errorf("enveloped signature with %d references; exactly one is allowed", len(refs))
	}
	ref := refs[0]
	if uri := attr(ref, "URI", ""); uri != "#"+id {
		return nil, fmt.Errorf("the reference %q does not name the signed element %q", uri, id)
	}
	var transforms, dm, dv *etree.Element
	for _, c := range ref.ChildElements() {
		switch {
		case c.NamespaceURI() != NSDSig:
			return nil, fmt.Errorf("unexpected %s in Reference", c.Tag)
		case c.Tag == "Transforms" && transforms == nil && dm == nil:
			transforms = c
		case c.Tag == "DigestMethod" && dm == nil:
			dm = c
		case c.Tag == "DigestValue" && dm != nil && dv == nil:
			dv = c
		default:
			return nil, fmt.Errorf("unexpected or misplaced %s in Reference", c.Tag)
		}
	}
	if transforms == nil || dm == nil || dv == nil {
		return nil, errors.New("the reference needs Transforms, DigestMethod and DigestValue")
	}
	ts := transforms.ChildElements()
	if len(ts) != 2 || ts[0].Tag != "Transform" || ts[1].Tag != "Transform" ||
		ts[0].NamespaceURI() != NSDSig || ts[1].NamespaceURI() != NSDSig ||
		attr(ts[0], "Algorithm", "") != AlgEnveloped || len(ts[0].ChildElements()) != 0 {
		return nil, errors.New("the reference's transforms must be enveloped-signature then one canonicalization")
	}
	if attr(ts[1], "Algorithm", "") != AlgExcC14N {
		return nil, ErrEnvelopedForm
	}
	refPrefixes, err := inclusivePrefixes(ts[1], AlgExcC14N)
	if err != nil {
		return nil, err
	}
	d, ok := digestMethods[attr(dm, "Algorithm", "")]
	if !ok || (d.sha1 && !allowSHA1) || len(dm.ChildElements()) != 0 {
		return nil, fmt.Errorf("digest method %q not allowed", attr(dm, "Algorithm", ""))
	}
	want, err := decodeBase64Text(dv)
	if err != nil {
		return nil, fmt.Errorf("DigestValue: %w", err)
	}

	canon, err := canonicalizeExc(el, sig, refPrefixes)
	if err != nil {
		return nil, err
	}
	h := d.hash.New()
	h.Write(canon)
	if !bytes.Equal(h.Sum(nil), want) {
		return nil, errors.New("the digest of the signed element does not match")
	}
	// What was digested, read back: the signed element without its signature.
	verified, err := soap.ParseFragment(canon, soap.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("re-read the canonical signed element: %w", err)
	}
	return verified, nil
}
