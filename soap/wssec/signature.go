package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// verifySignature checks one ds:Signature of the Security header, in the
// order XML-DSig core validation gives: the key (from the trust store), the
// SignatureValue over the canonical SignedInfo, then every Reference read
// from the canonical SignedInfo that was verified.
func (vr *Verifier) verifySignature(v *Verified, sec, sigEl *etree.Element, now time.Time) (*Signature, error) {
	var signedInfo, sigValue, keyInfo *etree.Element
	for _, c := range sigEl.ChildElements() {
		if c.NamespaceURI() != NSDSig {
			return nil, invalid("unexpected element %s in Signature", c.Tag)
		}
		switch {
		case c.Tag == "SignedInfo" && signedInfo == nil && sigValue == nil:
			signedInfo = c
		case c.Tag == "SignatureValue" && signedInfo != nil && sigValue == nil:
			sigValue = c
		case c.Tag == "KeyInfo" && sigValue != nil && keyInfo == nil:
			keyInfo = c
		default:
			// ds:Object is refused too: WS-Security has no use for it, and it
			// is where wrapping attacks like to hide content.
			return nil, invalid("unexpected or misplaced %s in Signature", c.Tag)
		}
	}
	if signedInfo == nil || sigValue == nil || keyInfo == nil {
		return nil, invalid("Signature needs SignedInfo, SignatureValue and KeyInfo")
	}

	c14nAlg, prefixList, method, err := vr.signedInfoMethods(signedInfo)
	if err != nil {
		return nil, err
	}
	cert, token, err := vr.resolveKey(v, sec, keyInfo)
	if err != nil {
		return nil, err
	}
	if token == nil {
		if err := vr.Trust.verifyOrNil(cert, now); err != nil {
			return nil, failedAuthentication("signing certificate not trusted: %v", err)
		}
	}

	canonSI, err := canonicalize(signedInfo, c14nAlg, prefixList)
	if err != nil {
		return nil, invalid("canonicalize SignedInfo: %v", err)
	}
	sigBytes, err := decodeBase64Text(sigValue)
	if err != nil {
		return nil, invalid("SignatureValue: %v", err)
	}
	if err := verifyValue(cert.PublicKey, method, canonSI, sigBytes); err != nil {
		return nil, failedCheck("SignatureValue does not verify with the key of %q: %v", dn.Subject(cert), err)
	}

	// From here on only the bytes that were verified are read.
	verifiedSI, err := soap.ParseFragment(canonSI, soap.DefaultLimits())
	if err != nil {
		return nil, invalid("re-read canonical SignedInfo: %v", err)
	}
	refs, err := vr.checkReferences(v, sec, sigEl, verifiedSI)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(canonSI)
	h.Write(cert.Raw)
	s := &Signature{Element: sigEl, Certificate: cert, Token: token, Method: method.uri, References: refs}
	copy(s.Digest[:], h.Sum(nil))
	return s, nil
}

type methodInfo struct {
	uri string
	signatureMethod
}

// signedInfoMethods reads CanonicalizationMethod and SignatureMethod, which
// must come first in SignedInfo and be allow-listed, and bounds the number
// of References before any of them costs a digest.
func (vr *Verifier) signedInfoMethods(si *etree.Element) (c14nAlg, prefixList string, m methodInfo, err error) {
	kids := si.ChildElements()
	if len(kids) < 3 || kids[0].Tag != "CanonicalizationMethod" || kids[1].Tag != "SignatureMethod" ||
		kids[0].NamespaceURI() != NSDSig || kids[1].NamespaceURI() != NSDSig {
		return "", "", m, invalid("SignedInfo must hold CanonicalizationMethod, SignatureMethod and References")
	}
	if n := len(kids) - 2; n > maxReferences {
		return "", "", m, invalid("signature with %d references (at most %d)", n, maxReferences)
	}
	c14nAlg = attr(kids[0], "Algorithm", "")
	if c14nAlg != AlgExcC14N && !vr.Policy.AllowNonBSP {
		return "", "", m, unsupportedAlgorithm("BSP R5404: SignedInfo canonicalization %q is not exclusive C14N", c14nAlg)
	}
	prefixList, err = inclusivePrefixes(kids[0], c14nAlg)
	if err != nil {
		return "", "", m, err
	}
	if canonicalizer(c14nAlg, prefixList) == nil {
		return "", "", m, unsupportedAlgorithm("canonicalization %q", c14nAlg)
	}
	m.uri = attr(kids[1], "Algorithm", "")
	sm, ok := signatureMethods[m.uri]
	if !ok {
		return "", "", m, unsupportedAlgorithm("signature method %q", m.uri)
	}
	if sm.sha1 && !vr.Policy.AllowSHA1 {
		return "", "", m, unsupportedAlgorithm("signature method %q needs insecureAllowSHA1", m.uri)
	}
	if len(kids[1].ChildElements()) != 0 {
		// e.g. HMACOutputLength: truncation is never acceptable.
		return "", "", m, unsupportedAlgorithm("BSP R5401: parameters on SignatureMethod")
	}
	m.signatureMethod = sm
	return c14nAlg, prefixList, m, nil
}

// inclusivePrefixes reads the InclusiveNamespaces PrefixList of an
// exclusive canonicalization element (SignedInfo's or a Transform's).
func inclusivePrefixes(el *etree.Element, alg string) (string, error) {
	var list string
	seen := false
	for _, c := range el.ChildElements() {
		if alg != AlgExcC14N || c.Tag != "InclusiveNamespaces" || c.NamespaceURI() != NSExcC14 || seen {
			return "", invalid("unexpected %s in %s", c.Tag, el.Tag)
		}
		list, seen = attr(c, "PrefixList", ""), true
	}
	return list, nil
}

// checkReferences digests every Reference of the verified SignedInfo.
func (vr *Verifier) checkReferences(v *Verified, sec, sigEl, si *etree.Element) ([]*etree.Element, error) {
	var refs []*etree.Element
	seen := map[*etree.Element]bool{}
	for i, r := range si.ChildElements() {
		if i < 2 {
			continue // CanonicalizationMethod, SignatureMethod: checked before
		}
		if r.Tag != "Reference" || r.NamespaceURI() != NSDSig {
			return nil, invalid("unexpected %s in SignedInfo", r.Tag)
		}
		target, err := vr.checkReference(v, sec, sigEl, r)
		if err != nil {
			return nil, err
		}
		if seen[target] {
			return nil, invalid("element referenced twice by one signature")
		}
		seen[target] = true
		refs = append(refs, target)
	}
	if len(refs) == 0 {
		return nil, invalid("signature without references")
	}
	return refs, nil
}

// referenceTarget reports whether a reference may resolve to el: the
// envelope's Body, a child of the Security header being processed (a token,
// the Timestamp, another signature) or a header block. Nothing nested
// deeper and nothing outside Header and Body is signed in WS-Security; a
// signed element there is what signature wrapping moves around.
func referenceTarget(env *soap.Envelope, sec, el *etree.Element) bool {
	if el == env.Body {
		return true
	}
	p := el.Parent()
	return p != nil && (p == sec || (env.Header != nil && p == env.Header))
}

func (vr *Verifier) checkReference(v *Verified, sec, sigEl, r *etree.Element) (*etree.Element, error) {
	env := v.Envelope
	uri := attr(r, "URI", "")
	if len(uri) < 2 || uri[0] != '#' {
		return nil, invalid("reference URI %q is not a same-document #id reference", uri)
	}
	t := refTransforms{c14n: AlgC14N10} // XML-DSig: a node-set becomes octets through C14N 1.0
	var transforms, digestEl, valueEl *etree.Element
	for _, c := range r.ChildElements() {
		if c.NamespaceURI() != NSDSig {
			return nil, invalid("unexpected %s in Reference", c.Tag)
		}
		switch {
		case c.Tag == "Transforms" && transforms == nil && digestEl == nil:
			var err error
			if t, err = vr.referenceTransforms(c); err != nil {
				return nil, err
			}
			transforms = c
		case c.Tag == "DigestMethod" && digestEl == nil:
			digestEl = c
		case c.Tag == "DigestValue" && digestEl != nil && valueEl == nil:
			valueEl = c
		default:
			return nil, invalid("unexpected or misplaced %s in Reference", c.Tag)
		}
	}
	if digestEl == nil || valueEl == nil {
		return nil, invalid("Reference needs DigestMethod and DigestValue")
	}
	if transforms == nil && !vr.Policy.AllowNonBSP {
		return nil, invalid("BSP R5416: Reference %q has no Transforms", uri)
	}

	target := env.ElementByID(uri[1:])
	if target == nil {
		return nil, invalid("reference %q names no element", uri)
	}
	if !referenceTarget(env, sec, target) {
		return nil, invalid("reference %q names %s, which is not the Body, a child of the Security header or a header block", uri, target.Tag)
	}
	if t.str {
		// The signature covers the token the STR names, not the STR: the
		// token is what a policy (sender-vouches) asks to be signed.
		if target.Tag != "SecurityTokenReference" || target.NamespaceURI() != soap.NSWSSE {
			return nil, invalid("STR-Transform reference %q names %s, not a SecurityTokenReference", uri, target.Tag)
		}
		a, err := vr.strAssertion(v, sec, target)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, unsupportedToken("STR-Transform over a SecurityTokenReference to something other than a SAML assertion")
		}
		target = a
	}
	if isAncestorOrSelf(sigEl, target) || (isAncestorOrSelf(target, sigEl) && !t.enveloped) {
		return nil, invalid("reference %q covers the signature itself", uri)
	}

	dmURI := attr(digestEl, "Algorithm", "")
	dm, ok := digestMethods[dmURI]
	if !ok {
		return nil, unsupportedAlgorithm("digest method %q", dmURI)
	}
	if dm.sha1 && !vr.Policy.AllowSHA1 {
		return nil, unsupportedAlgorithm("digest method %q needs insecureAllowSHA1", dmURI)
	}
	want, err := decodeBase64Text(valueEl)
	if err != nil || len(want) != dm.hash.Size() {
		return nil, invalid("DigestValue of %q is not a %s digest", uri, dm.hash)
	}
	var data []byte
	switch {
	case t.str:
		data, err = strTransformOutput(target, t.prefixList)
	case t.enveloped && isAncestorOrSelf(target, sigEl):
		data, err = canonicalizeWithout(target, sigEl, t.c14n, t.prefixList)
	default:
		// Enveloped-signature over an element that does not contain the
		// signature removes nothing.
		data, err = canonicalize(target, t.c14n, t.prefixList)
	}
	if err != nil {
		return nil, invalid("canonicalize %q: %v", uri, err)
	}
	h := dm.hash.New()
	h.Write(data)
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return nil, failedCheck("digest of %q does not match", uri)
	}
	return target, nil
}

// refTransforms is what a Reference's Transforms ask for.
type refTransforms struct {
	enveloped        bool // enveloped-signature before the canonicalization
	str              bool // the STR Dereference Transform (c14n from its parameters)
	c14n, prefixList string
}

// referenceTransforms allows exactly one canonicalization transform:
// exclusive C14N (BSP R5412, R5423), or inclusive C14N 1.0 / 1.1 with
// Policy.AllowNonBSP; optionally preceded by enveloped-signature (node-soap
// and .NET-era stacks write it even when the signature is not inside the
// referenced element). Or the STR Dereference Transform alone, with
// exclusive C14N as its parameter (WSS 1.1 section 8.3, BSP R3065).
// XSLT, XPath, base64 and anything else are refused.
func (vr *Verifier) referenceTransforms(ts *etree.Element) (refTransforms, error) {
	var t refTransforms
	kids := ts.ChildElements()
	if len(kids) == 0 {
		return t, invalid("BSP R5411: Transforms without a Transform")
	}
	for _, k := range kids {
		if k.Tag != "Transform" || k.NamespaceURI() != NSDSig {
			return t, invalid("unexpected %s in Transforms", k.Tag)
		}
	}
	first := attr(kids[0], "Algorithm", "")
	switch {
	case first == AlgSTRTransform && len(kids) == 1:
		t.str = true
		alg, pl, err := strParameters(kids[0])
		if err != nil {
			return t, err
		}
		t.c14n, t.prefixList = alg, pl
		return t, nil
	case first == AlgEnveloped && len(kids) == 2:
		if len(kids[0].ChildElements()) != 0 {
			return t, invalid("unexpected content in the enveloped-signature transform")
		}
		t.enveloped = true
		kids = kids[1:]
	case len(kids) != 1:
		return t, unsupportedAlgorithm("a Reference must have one canonicalization transform, optionally after enveloped-signature")
	}
	alg := attr(kids[0], "Algorithm", "")
	if canonicalizer(alg, "") == nil {
		return t, unsupportedAlgorithm("transform %q", alg)
	}
	if alg != AlgExcC14N && !vr.Policy.AllowNonBSP {
		return t, unsupportedAlgorithm("BSP R5412: Reference transform %q is not exclusive C14N", alg)
	}
	pl, err := inclusivePrefixes(kids[0], alg)
	t.c14n, t.prefixList = alg, pl
	return t, err
}

// strParameters reads the STR-Transform's wsse:TransformationParameters:
// exactly one ds:CanonicalizationMethod, exclusive C14N.
func strParameters(tr *etree.Element) (alg, prefixList string, err error) {
	kids := tr.ChildElements()
	if len(kids) != 1 || kids[0].Tag != "TransformationParameters" || kids[0].NamespaceURI() != soap.NSWSSE {
		return "", "", invalid("BSP R3065: STR-Transform needs exactly one wsse:TransformationParameters")
	}
	cms := kids[0].ChildElements()
	if len(cms) != 1 || cms[0].Tag != "CanonicalizationMethod" || cms[0].NamespaceURI() != NSDSig {
		return "", "", invalid("STR-Transform parameters need exactly one ds:CanonicalizationMethod")
	}
	if alg = attr(cms[0], "Algorithm", ""); alg != AlgExcC14N {
		return "", "", unsupportedAlgorithm("STR-Transform canonicalization %q is not exclusive C14N", alg)
	}
	prefixList, err = inclusivePrefixes(cms[0], alg)
	return alg, prefixList, err
}

func decodeBase64Text(el *etree.Element) ([]byte, error) {
	s, err := soap.Text(el)
	if err != nil {
		return nil, err
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.Strict().DecodeString(s)
}

// verifyValue checks a SignatureValue: PKCS#1 v1.5 for RSA, the r‖s form of
// XML-DSig 1.1 for ECDSA.
func verifyValue(pub crypto.PublicKey, m methodInfo, signed, sig []byte) error {
	h := m.hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch m.key {
	case keyRSA:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("method %s needs an RSA key, got %T", m.uri, pub)
		}
		return rsa.VerifyPKCS1v15(k, m.hash, digest, sig)
	case keyECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("method %s needs an ECDSA key, got %T", m.uri, pub)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return fmt.Errorf("ECDSA signature of %d bytes, want %d", len(sig), 2*n)
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return errors.New("unknown key kind")
}

func (t *TrustStore) verifyOrNil(cert *x509.Certificate, now time.Time) error {
	if t == nil {
		return errors.New("no trust store configured for this service")
	}
	return t.Verify(cert, now)
}
