package wssec

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/dn"
	"github.com/gatehouse/gatehouse/soap"
)

// SAML assertion namespaces; assertions in the header are handed on, not
// verified here.
const (
	NSSAML2 = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSSAML1 = "urn:oasis:names:tc:SAML:1.0:assertion"
)

// Part names an element a policy requires to be signed.
type Part struct {
	Kind PartKind
	Name soap.QName // for Header parts
}

// PartKind is what a Part refers to.
type PartKind int

const (
	// PartBody is the envelope's Body.
	PartBody PartKind = iota + 1
	// PartTimestamp is the Security header's Timestamp.
	PartTimestamp
	// PartHeader is every header block with a given name (when present).
	PartHeader
)

// Policy is what a service demands of the Security header.
type Policy struct {
	// Actor is the actor (1.1) / role (1.2) URI of Gatehouse's Security
	// header; "" takes the header without one.
	Actor                string
	RequireTimestamp     bool
	RequireSignature     bool
	RequireUsernameToken bool
	// SignedParts must be covered, by identity, by the signature of the
	// message's signer (Verified.Signer), not just by any trusted signature.
	SignedParts []Part
	// MaxSkew is the clock difference tolerated; default 5 minutes.
	MaxSkew time.Duration
	// MaxAge bounds how old a Timestamp or UsernameToken Created may be;
	// default 5 minutes.
	MaxAge time.Duration
	// AllowSHA1 admits rsa-sha1 and sha1 digests (insecureAllowSHA1).
	AllowSHA1 bool
	// AllowNonBSP relaxes WS-I Basic Security Profile 1.1 for legacy stacks
	// (insecureAllowNonBSP): inclusive C14N 1.0 and C14N 1.1 for SignedInfo
	// and References, a Reference without Transforms (C14N 1.0 then), and
	// Timestamp times in a UTC offset other than "Z".
	AllowNonBSP bool
	// AllowEndorsing admits signatures of a second key over an element
	// another key signed too (WS-SecurityPolicy endorsing signatures over
	// the primary signature or the Timestamp). The Body has one signer
	// regardless.
	AllowEndorsing bool
}

func (p Policy) skew() time.Duration {
	if p.MaxSkew > 0 {
		return p.MaxSkew
	}
	return 5 * time.Minute
}

func (p Policy) maxAge() time.Duration {
	if p.MaxAge > 0 {
		return p.MaxAge
	}
	return 5 * time.Minute
}

// Verifier checks the wsse:Security header of messages for one service.
type Verifier struct {
	Trust  *TrustStore // nil: no signature can be trusted
	Users  UserStore   // nil: UsernameTokens are refused
	Clock  func() time.Time
	Policy Policy
	// TokenKeys verifies a SAML assertion whose holder-of-key key a
	// signature's KeyInfo names (STR KeyIdentifier #SAMLID or
	// #SAMLAssertionID, or a Reference to the assertion); nil refuses such
	// signatures. Its key is trusted because the assertion's issuer signed
	// it, without the trust store.
	TokenKeys TokenKeys
}

// Verified is what Verify proved about a message.
type Verified struct {
	Envelope *soap.Envelope
	// Security is the header block addressed to Gatehouse, nil if none.
	Security      *etree.Element
	Timestamp     *Timestamp
	UsernameToken *UsernameToken
	Signatures    []*Signature
	// Assertions are the SAML assertions in the Security header, for the
	// SAML verifier; they are not trusted yet.
	Assertions []*etree.Element
	// ReplayKeys must each be recorded as new in the shared store before
	// the message is accepted.
	ReplayKeys []ReplayKey
	// Signer is the signature that covers the envelope's Body, nil if none:
	// its key is the message's signer. When the policy requires a
	// Timestamp, Signer covers the Security header's Timestamp too, and
	// every policy SignedPart is covered by Signer itself.
	Signer *Signature

	signed map[*etree.Element]*Signature
	// processed are the Security header's XML Encryption elements the
	// caller decrypts (VerifyDecrypted).
	processed []*etree.Element
	// holderKeys are the keys TokenKeys returned, by assertion.
	holderKeys map[*etree.Element]*x509.Certificate
}

// Signed reports whether el itself was covered by a verified signature.
func (v *Verified) Signed(el *etree.Element) bool {
	_, ok := v.signed[el]
	return ok
}

// SignerOf returns the signature that covered el, or nil.
func (v *Verified) SignerOf(el *etree.Element) *Signature { return v.signed[el] }

// Timestamp is a verified wsu:Timestamp.
type Timestamp struct {
	Element          *etree.Element
	Created, Expires time.Time // Expires is zero when absent
}

// UsernameToken is a verified wsse:UsernameToken.
type UsernameToken struct {
	Element  *etree.Element
	Username string
	Digest   bool
	Created  time.Time
}

// Signature is a verified ds:Signature.
type Signature struct {
	Element     *etree.Element
	Certificate *x509.Certificate
	// Token is the SAML assertion (a child of the Security header) whose
	// holder-of-key confirmation gave Certificate, as verified by the
	// Verifier's TokenKeys; nil when Certificate came from the trust store.
	Token  *etree.Element
	Method string
	// References are the elements the signature covers, in order: the Body,
	// children of the Security header, header blocks; never anything deeper.
	References []*etree.Element
	// Timestamp is the Security header's Timestamp when this signature
	// covers it, else nil; the signature's replay entry lives as long as it.
	Timestamp *Timestamp
	// Digest is SHA-256 over the canonical SignedInfo and the certificate:
	// the identity of this signature for replay detection, which base64
	// re-encoding or ECDSA malleability of SignatureValue cannot change.
	Digest [sha256.Size]byte
}

// Covers reports whether el is one of the elements s references.
func (s *Signature) Covers(el *etree.Element) bool {
	return el != nil && slices.Contains(s.References, el)
}

// ReplayKey is a value that must not have been seen within TTL.
type ReplayKey struct {
	Kind  string // "nonce", "sig", "msgid"
	Value []byte
	TTL   time.Duration
	// Since is when the value's freshness began, the earliest it could
	// have been accepted: the Created of the Timestamp or UsernameToken
	// that bounds it, the IssueInstant of an assertion. Zero when the
	// message states none: then it could have been accepted at any time
	// within TTL. A store that lost its data refuses a value whose
	// freshness began before the loss (store.Recovered).
	Since time.Time
}

// Fault helpers: public texts stay generic; the reason is internal.
func invalid(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultInvalidSecurity, "security error in the message", fmt.Errorf(format, args...))
}

func unsupportedAlgorithm(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultUnsupportedAlgorithm, "security algorithm not supported", fmt.Errorf(format, args...))
}

func unsupportedToken(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultUnsupportedSecurityToken, "security token not supported", fmt.Errorf(format, args...))
}

func failedCheck(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultFailedCheck, "signature or digest verification failed", fmt.Errorf(format, args...))
}

func failedAuthentication(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultFailedAuthentication, "authentication failed", fmt.Errorf(format, args...))
}

func tokenUnavailable(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultSecurityTokenUnavailable, "referenced security token not found", fmt.Errorf(format, args...))
}

func expired(format string, args ...any) error {
	return soap.SecurityFault(soap.FaultMessageExpired, "message expired", fmt.Errorf(format, args...))
}

// Understood reports whether Gatehouse processes header blocks with this
// name (for mustUnderstand): the Security header and WS-Addressing.
func Understood(ns, local string) bool {
	switch ns {
	case soap.NSWSSE:
		return local == "Security"
	case soap.NSWSA, soap.NSWSA2004:
		return true
	}
	return false
}

// FindSecurity returns the Security header addressed to actor, nil if there
// is none, and an error if there are two.
func FindSecurity(env *soap.Envelope, actor string) (*etree.Element, error) {
	var found *etree.Element
	for _, h := range env.HeaderBlocks() {
		if h.Tag != "Security" || h.NamespaceURI() != soap.NSWSSE || !env.TargetedAt(h, actor) {
			continue
		}
		if found != nil {
			return nil, invalid("two Security headers for the same actor")
		}
		found = h
	}
	return found, nil
}

// Username returns the Username of the UsernameToken in the Security header
// addressed to actor, without verifying anything, so that a locked-out user
// can be refused before any expensive check.
func Username(env *soap.Envelope, actor string) string {
	sec, err := FindSecurity(env, actor)
	if err != nil || sec == nil {
		return ""
	}
	ut, err := childNS(sec, soap.NSWSSE, "UsernameToken")
	if err != nil {
		return ""
	}
	u, err := childNS(ut, soap.NSWSSE, "Username")
	if err != nil {
		return ""
	}
	s, _ := soap.Text(u)
	return strings.TrimSpace(s)
}

// Verify checks the Security header of env against the verifier's policy.
func (vr *Verifier) Verify(env *soap.Envelope) (*Verified, error) {
	return vr.VerifyDecrypted(env, nil)
}

// VerifyDecrypted is Verify of a message whose XML Encryption the caller
// processes (package xmlenc): the xenc:EncryptedKey and xenc:ReferenceList
// children of the Security header in processed are taken as understood
// instead of refused. The caller must have decrypted them, or decrypt them
// after (encrypt-then-sign), and refuse the message if that fails.
func (vr *Verifier) VerifyDecrypted(env *soap.Envelope, processed []*etree.Element) (*Verified, error) {
	now := vr.Clock()
	v := &Verified{Envelope: env, signed: map[*etree.Element]*Signature{}, processed: processed}
	p := vr.Policy
	sec, err := FindSecurity(env, p.Actor)
	if err != nil {
		return nil, err
	}
	v.Security = sec
	if sec != nil {
		if err := vr.readHeader(v, sec, now); err != nil {
			return nil, err
		}
	}
	if err := vr.checkPolicy(v); err != nil {
		return nil, err
	}
	return v, nil
}

// readHeader processes the children of the Security header in order. Every
// child must be one Gatehouse understands: a Security header is processed
// whole or refused.
func (vr *Verifier) readHeader(v *Verified, sec *etree.Element, now time.Time) error {
	var sigs []*etree.Element
	for _, c := range sec.ChildElements() {
		ns := c.NamespaceURI()
		switch {
		case ns == soap.NSWSU && c.Tag == "Timestamp":
			if v.Timestamp != nil {
				return invalid("BSP R3227: more than one Timestamp in the Security header")
			}
			ts, err := vr.checkTimestamp(c, now)
			if err != nil {
				return err
			}
			v.Timestamp = ts
		case ns == soap.NSWSSE && c.Tag == "UsernameToken":
			if v.UsernameToken != nil {
				return invalid("more than one UsernameToken")
			}
			ut, keys, err := vr.checkUsernameToken(c, now)
			if err != nil {
				return err
			}
			v.UsernameToken = ut
			v.ReplayKeys = append(v.ReplayKeys, keys...)
		case ns == soap.NSWSSE && (c.Tag == "BinarySecurityToken" || c.Tag == "SecurityTokenReference"):
			// Read when a signature references it (an STR here is what an
			// STR-Transform reference names).
		case ns == NSDSig && c.Tag == "Signature":
			if len(sigs) == maxSignatures {
				return invalid("more than %d signatures", maxSignatures)
			}
			sigs = append(sigs, c)
		case ns == NSSAML2 || ns == NSSAML1:
			if c.Tag != "Assertion" {
				return invalid("unexpected SAML element %s in Security", c.Tag)
			}
			v.Assertions = append(v.Assertions, c)
		case ns == NSXEnc && (c.Tag == "EncryptedKey" || c.Tag == "ReferenceList") && slices.Contains(v.processed, c):
			// Decrypted by the caller (VerifyDecrypted).
		case ns == NSXEnc || (ns == soap.NSWSSE1 && c.Tag == "EncryptedHeader"):
			return unsupportedAlgorithm("XML Encryption (%s) is not supported here", c.Tag)
		default:
			return invalid("unexpected element {%s}%s in Security", ns, c.Tag)
		}
	}
	for _, el := range sigs {
		s, err := vr.verifySignature(v, sec, el, now)
		if err != nil {
			return err
		}
		if err := vr.addSigned(v, s); err != nil {
			return err
		}
		if v.Timestamp != nil && s.Covers(v.Timestamp.Element) {
			s.Timestamp = v.Timestamp
		}
		v.Signatures = append(v.Signatures, s)
		key := ReplayKey{Kind: "sig", Value: s.Digest[:], TTL: vr.signatureTTL(s.Timestamp, now)}
		if s.Timestamp != nil {
			key.Since = s.Timestamp.Created
		}
		v.ReplayKeys = append(v.ReplayKeys, key)
	}
	return nil
}

// Limits on the work one message can demand. They are not BSP rules: BSP
// bounds neither number.
const (
	maxSignatures = 4
	// maxReferences per signature: Body, Timestamp, a token and the seven
	// WS-Addressing 1.0 headers leave room to spare.
	maxReferences = 12
)

// addSigned records what s covers. An element covered by the signatures of
// two keys has no single signer and is refused, unless the policy allows
// endorsing signatures; the Body never has two signers, so that the
// message's signer is never a matter of which signature is read first.
func (vr *Verifier) addSigned(v *Verified, s *Signature) error {
	for _, r := range s.References {
		prev, ok := v.signed[r]
		if !ok {
			v.signed[r] = s
			continue
		}
		if samePublicKey(prev.Certificate, s.Certificate) {
			continue
		}
		if r == v.Envelope.Body || !vr.Policy.AllowEndorsing {
			return invalid("%s is covered by signatures of two keys (%q and %q)", r.Tag, dn.Subject(prev.Certificate), dn.Subject(s.Certificate))
		}
	}
	if v.Signer == nil && s.Covers(v.Envelope.Body) {
		v.Signer = s
	}
	return nil
}

// samePublicKey reports whether two certificates certify the same key.
func samePublicKey(a, b *x509.Certificate) bool {
	k, ok := a.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b.PublicKey)
}

// signatureTTL is how long a signature must be remembered: as long as the
// Timestamp it covers keeps it fresh (Created+maxAge+skew, and no later
// than Expires+skew), or for maxAge+skew from now when it covers none. A
// Timestamp the signature does not cover says nothing about it.
func (vr *Verifier) signatureTTL(ts *Timestamp, now time.Time) time.Duration {
	skew, age := vr.Policy.skew(), vr.Policy.maxAge()
	end := now.Add(age + skew)
	if ts != nil {
		end = ts.Created.Add(age + skew)
		if !ts.Expires.IsZero() && ts.Expires.Add(skew).Before(end) {
			end = ts.Expires.Add(skew)
		}
	}
	if d := end.Sub(now); d > time.Second {
		return d
	}
	return time.Second
}

// checkPolicy applies the service's requirements to what was verified.
// Parts are matched by element identity: the envelope's own Body, the
// header's own Timestamp, the header blocks themselves; and all of them by
// the one signature of the message's signer (one signer, one freshness: a
// Body signed by A with a Timestamp signed by B is a replay of A).
func (vr *Verifier) checkPolicy(v *Verified) error {
	p := vr.Policy
	switch {
	case p.RequireTimestamp && v.Timestamp == nil:
		return invalid("policy requires a Timestamp")
	case p.RequireSignature && len(v.Signatures) == 0:
		return invalid("policy requires a signature")
	case p.RequireUsernameToken && v.UsernameToken == nil:
		return invalid("policy requires a UsernameToken")
	case p.RequireTimestamp && v.Signer != nil && !v.Signer.Covers(v.Timestamp.Element):
		return invalid("the signature over the Body does not cover the Security header's Timestamp")
	}
	bySigner := func(el *etree.Element) bool { return v.Signer != nil && v.Signer.Covers(el) }
	for _, part := range p.SignedParts {
		switch part.Kind {
		case PartBody:
			if v.Signer == nil {
				return invalid("policy requires the Body to be signed")
			}
		case PartTimestamp:
			if v.Timestamp == nil || !bySigner(v.Timestamp.Element) {
				return invalid("policy requires the Timestamp to be signed by the Body's signer")
			}
		case PartHeader:
			for _, h := range v.Envelope.HeaderBlocks() {
				if h.Tag == part.Name.Local && h.NamespaceURI() == part.Name.Space && !bySigner(h) {
					return invalid("policy requires header %s to be signed by the Body's signer", part.Name)
				}
			}
		default:
			return errors.New("wssec: unknown policy part")
		}
	}
	return nil
}

// parseDateTime reads an xsd:dateTime that must carry a time zone.
func parseDateTime(el *etree.Element) (time.Time, error) {
	s, err := soap.Text(el)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an xsd:dateTime with a time zone", el.Tag, s)
	}
	return t, nil
}

// timestampTime reads a Timestamp's Created or Expires. BSP (rule R3217
// for Created, R3223 for Expires) wants UTC, written with "Z"; other
// offsets only with Policy.AllowNonBSP.
func (vr *Verifier) timestampTime(el *etree.Element, rule string) (time.Time, error) {
	t, err := parseDateTime(el)
	if err != nil {
		return time.Time{}, invalid("Timestamp: %v", err)
	}
	if s, _ := soap.Text(el); !vr.Policy.AllowNonBSP && !strings.HasSuffix(strings.TrimSpace(s), "Z") {
		return time.Time{}, invalid("BSP %s: Timestamp %s %q is not in UTC with \"Z\"", rule, el.Tag, strings.TrimSpace(s))
	}
	return t, nil
}

// checkTimestamp applies WSS 1.1 section 10 with bounded skew and age, and
// the BSP 1.1 rules on the Timestamp's form.
func (vr *Verifier) checkTimestamp(el *etree.Element, now time.Time) (*Timestamp, error) {
	ts := &Timestamp{Element: el}
	var created, expires *etree.Element
	for _, c := range el.ChildElements() {
		if c.NamespaceURI() != soap.NSWSU {
			return nil, invalid("BSP R3222: unexpected element %s in Timestamp", c.Tag)
		}
		switch {
		case c.Tag == "Created" && created == nil:
			created = c
		case c.Tag == "Expires" && expires == nil && created != nil:
			expires = c
		default:
			return nil, invalid("BSP R3203/R3221/R3222/R3224: unexpected, repeated or misplaced %s in Timestamp", c.Tag)
		}
	}
	if created == nil {
		return nil, invalid("BSP R3203: Timestamp without Created")
	}
	var err error
	if ts.Created, err = vr.timestampTime(created, "R3217"); err != nil {
		return nil, err
	}
	skew, age := vr.Policy.skew(), vr.Policy.maxAge()
	if ts.Created.After(now.Add(skew)) {
		return nil, invalid("Timestamp Created %s is in the future (now %s)", ts.Created.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if now.Sub(ts.Created) > age+skew {
		return nil, expired("Timestamp Created %s is older than %s", ts.Created.Format(time.RFC3339), age)
	}
	if expires != nil {
		if ts.Expires, err = vr.timestampTime(expires, "R3223"); err != nil {
			return nil, err
		}
		if !ts.Expires.After(ts.Created) {
			return nil, invalid("Timestamp Expires is not after Created")
		}
		if !now.Before(ts.Expires.Add(skew)) {
			return nil, expired("Timestamp expired at %s", ts.Expires.Format(time.RFC3339))
		}
	}
	return ts, nil
}
