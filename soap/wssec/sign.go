package wssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// Signer writes a WS-Security header: a Timestamp, the signing certificate
// as a BinarySecurityToken, and a Signature over the Body, the Timestamp and
// any further header blocks, with exclusive C14N and SHA-256.
type Signer struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Clock func() time.Time
	// TTL is the Timestamp's lifetime; default 5 minutes.
	TTL time.Duration
	// Actor, when set, addresses the Security header to that actor/role.
	Actor string
	// Tokens are placed in the Security header after the Timestamp (a SAML
	// assertion, say); with SignTokens the signature covers them too, as
	// sender-vouches requires.
	Tokens     []*etree.Element
	SignTokens bool
}

// Sign adds a Security header to env (creating the Header if needed) and
// signs the Body, the Timestamp and the given header blocks, which must be
// children of env's Header. It does not remove Security headers already
// present; the caller builds the outbound envelope without the inbound one.
func (s *Signer) Sign(env *soap.Envelope, headers ...*etree.Element) error {
	method, err := s.method()
	if err != nil {
		return err
	}
	env.EnsureHeader()
	for _, h := range headers {
		if h.Parent() != env.Header {
			return errors.New("wssec: signed header is not a header block of this envelope")
		}
	}

	// A Security header for the actor that the gateway began for this
	// message (an xmlenc.Encrypter's, encrypted before signing) gets the
	// signature's elements first: WSS 1.1 processes a header in order.
	sec, before := s.ownSecurity(env), 0
	if sec != nil {
		before = len(sec.ChildElements())
		if sec.SelectAttr("xmlns:wsu") == nil {
			sec.CreateAttr("xmlns:wsu", soap.NSWSU)
		}
	} else {
		sec = env.NewSecurityHeader(s.Actor)
		sec.CreateAttr("xmlns:wsu", soap.NSWSU)
	}
	defer func() {
		// The new elements (appended) move before the ones there were.
		kids := sec.ChildElements()
		for i, el := range kids[before:] {
			sec.RemoveChild(el)
			sec.InsertChildAt(i, el)
		}
	}()

	now := s.Clock().UTC()
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	ts := sec.CreateElement("wsu:Timestamp")
	tsID := newID("TS")
	ts.CreateAttr("wsu:Id", tsID)
	ts.CreateElement("wsu:Created").SetText(now.Format(timeLayout))
	ts.CreateElement("wsu:Expires").SetText(now.Add(ttl).Format(timeLayout))

	for _, t := range s.Tokens {
		sec.AddChild(t)
	}

	bst := sec.CreateElement("wsse:BinarySecurityToken")
	bstID := newID("X509")
	bst.CreateAttr("wsu:Id", bstID)
	bst.CreateAttr("ValueType", valueTypeX509v3)
	bst.CreateAttr("EncodingType", encodingBase64)
	bst.SetText(base64.StdEncoding.EncodeToString(s.Cert.Raw))

	targets := append([]*etree.Element{env.Body, ts}, headers...)
	if s.SignTokens {
		targets = append(targets, s.Tokens...)
	}
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = ensureID(t)
	}

	sig := sec.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", method.uri)
	for i, t := range targets {
		data, err := canonicalize(t, AlgExcC14N, "")
		if err != nil {
			return fmt.Errorf("wssec: canonicalize %s: %w", t.Tag, err)
		}
		sum := crypto.SHA256.New()
		sum.Write(data)
		ref := si.CreateElement("ds:Reference")
		ref.CreateAttr("URI", "#"+ids[i])
		ref.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", AlgExcC14N)
		ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
		ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(sum.Sum(nil)))
	}
	canonSI, err := canonicalize(si, AlgExcC14N, "")
	if err != nil {
		return fmt.Errorf("wssec: canonicalize SignedInfo: %w", err)
	}
	value, err := s.signValue(method, canonSI)
	if err != nil {
		return err
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	str := sig.CreateElement("ds:KeyInfo").CreateElement("wsse:SecurityTokenReference")
	r := str.CreateElement("wsse:Reference")
	r.CreateAttr("URI", "#"+bstID)
	r.CreateAttr("ValueType", valueTypeX509v3)
	return nil
}

// ownSecurity is the Security header for s.Actor that holds only what the
// gateway writes (its wsse prefix bound as the gateway binds it), nil when
// there is none.
func (s *Signer) ownSecurity(env *soap.Envelope) *etree.Element {
	for _, h := range env.HeaderBlocks() {
		if h.Tag == "Security" && h.Space == "wsse" && h.NamespaceURI() == soap.NSWSSE && h.SelectAttrValue("xmlns:wsse", "") == soap.NSWSSE && env.TargetedAt(h, s.Actor) {
			return h
		}
	}
	return nil
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func (s *Signer) method() (methodInfo, error) {
	switch k := s.Key.Public().(type) {
	case *rsa.PublicKey:
		return methodInfo{AlgRSASHA256, signatureMethods[AlgRSASHA256]}, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return methodInfo{AlgECDSASHA256, signatureMethods[AlgECDSASHA256]}, nil
		case 384:
			return methodInfo{AlgECDSASHA384, signatureMethods[AlgECDSASHA384]}, nil
		case 521:
			return methodInfo{AlgECDSASHA512, signatureMethods[AlgECDSASHA512]}, nil
		}
	}
	return methodInfo{}, fmt.Errorf("wssec: cannot sign with a %T key", s.Key.Public())
}

// signValue signs data; ECDSA signatures are converted from ASN.1 to the
// fixed-length r‖s form of XML-DSig.
func (s *Signer) signValue(m methodInfo, data []byte) ([]byte, error) {
	h := m.hash.New()
	h.Write(data)
	sig, err := s.Key.Sign(rand.Reader, h.Sum(nil), m.hash)
	if err != nil {
		return nil, fmt.Errorf("wssec: sign: %w", err)
	}
	if m.key != keyECDSA {
		return sig, nil
	}
	var parsed struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &parsed); err != nil {
		return nil, fmt.Errorf("wssec: ECDSA signature: %w", err)
	}
	n := (s.Key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*n)
	parsed.R.FillBytes(out[:n])
	parsed.S.FillBytes(out[n:])
	return out, nil
}

// ensureID returns el's ID attribute, adding a wsu:Id when it has none.
func ensureID(el *etree.Element) string {
	for _, a := range el.Attr {
		if a.Space != "xmlns" && soap.IsIDAttribute(attrNamespace(a), a.Key) {
			return a.Value
		}
	}
	id := newID("id")
	prefix := "wsu"
	switch prefixURI(el, prefix) {
	case soap.NSWSU:
	case "":
		el.CreateAttr("xmlns:"+prefix, soap.NSWSU)
	default: // "wsu" means something else here
		prefix = "gh-wsu"
		el.CreateAttr("xmlns:"+prefix, soap.NSWSU)
	}
	el.CreateAttr(prefix+":Id", id)
	return id
}

// prefixURI returns the namespace prefix is bound to at el, "" if unbound.
func prefixURI(el *etree.Element, prefix string) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xmlns" && a.Key == prefix {
				return a.Value
			}
		}
	}
	return ""
}

func attrNamespace(a etree.Attr) string {
	if a.Space == "" {
		return ""
	}
	if a.Space == "xml" {
		return soap.NSXML
	}
	return a.NamespaceURI()
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// SignEnveloped adds an enveloped XML signature to el (a SAML assertion,
// say), referencing el's ID attribute idAttr, with exclusive C14N whose
// InclusiveNamespaces PrefixList is prefixes (for QNames in content such
// as xsi:type values, which exclusive C14N would otherwise cut loose from
// their declarations), SHA-256 and the key's signature method. The
// Signature is inserted as child number at, with the certificate in
// KeyInfo.
func SignEnveloped(el *etree.Element, idAttr string, at int, key crypto.Signer, cert *x509.Certificate, prefixes string) error {
	s := &Signer{Key: key, Cert: cert}
	method, err := s.method()
	if err != nil {
		return err
	}
	id := attr(el, idAttr, "")
	if id == "" {
		return fmt.Errorf("wssec: element has no %s attribute to reference", idAttr)
	}
	// The enveloped transform removes the Signature, so the digest is over
	// el as it is before the Signature goes in.
	data, err := canonicalize(el, AlgExcC14N, prefixes)
	if err != nil {
		return fmt.Errorf("wssec: canonicalize: %w", err)
	}
	sum := crypto.SHA256.New()
	sum.Write(data)

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", method.uri)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	ts := ref.CreateElement("ds:Transforms")
	ts.CreateElement("ds:Transform").CreateAttr("Algorithm", AlgEnveloped)
	c14n := ts.CreateElement("ds:Transform")
	c14n.CreateAttr("Algorithm", AlgExcC14N)
	if prefixes != "" {
		in := c14n.CreateElement("ec:InclusiveNamespaces")
		in.CreateAttr("xmlns:ec", NSExcC14)
		in.CreateAttr("PrefixList", prefixes)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(sum.Sum(nil)))
	el.InsertChildAt(at, sig)

	canonSI, err := canonicalize(si, AlgExcC14N, "")
	if err != nil {
		return fmt.Errorf("wssec: canonicalize SignedInfo: %w", err)
	}
	value, err := s.signValue(method, canonSI)
	if err != nil {
		return err
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	return nil
}
