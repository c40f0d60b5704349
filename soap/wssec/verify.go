package wssec

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

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
	// SignedParts must be covered by a trusted signature (by identity).
	SignedParts []Part
	// MaxSkew is the clock difference tolerated; default 5 minutes.
	MaxSkew time.Duration
	// MaxAge bounds how old a Timestamp or UsernameToken Created may be;
	// default 5 minutes.
	MaxAge time.Duration
	// AllowSHA1 admits rsa-sha1 and sha1 digests (insecureAllowSHA1).
	AllowSHA1 bool
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
	// Principal is who the header authenticated: "x509:" + subject DN of
	// the key that signed the Body, or "user:" + username; "" for nobody.
	Principal string

	signed map[*etree.Element]*Signature
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
	Method      string
	// References are the elements the signature covers, in order.
	References []*etree.Element
	// Digest is SHA-256 over the canonical SignedInfo and the certificate:
	// the identity of this signature for replay detection, which base64
	// re-encoding or ECDSA malleability of SignatureValue cannot change.
	Digest [sha256.Size]byte
}

// ReplayKey is a value that must not have been seen within TTL.
type ReplayKey struct {
	Kind  string // "nonce", "sig", "msgid"
	Value []byte
	TTL   time.Duration
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
	now := vr.Clock()
	v := &Verified{Envelope: env, signed: map[*etree.Element]*Signature{}}
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
				return invalid("more than one Timestamp")
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
		case ns == soap.NSWSSE && c.Tag == "BinarySecurityToken":
			// Read when a signature references it.
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
		case ns == NSXEnc || (ns == soap.NSWSSE1 && c.Tag == "EncryptedHeader"):
			return unsupportedAlgorithm("XML Encryption (%s) is not supported", c.Tag)
		default:
			return invalid("unexpected element {%s}%s in Security", ns, c.Tag)
		}
	}
	for _, el := range sigs {
		s, err := vr.verifySignature(v, sec, el, now)
		if err != nil {
			return err
		}
		v.Signatures = append(v.Signatures, s)
		for _, r := range s.References {
			v.signed[r] = s
		}
		v.ReplayKeys = append(v.ReplayKeys, ReplayKey{Kind: "sig", Value: s.Digest[:], TTL: vr.signatureTTL(v, now)})
	}
	return nil
}

const maxSignatures = 4

// signatureTTL is how long a signature must be remembered: until its
// Timestamp expires (plus skew), or for the maximum age when it has none.
func (vr *Verifier) signatureTTL(v *Verified, now time.Time) time.Duration {
	skew, age := vr.Policy.skew(), vr.Policy.maxAge()
	end := now.Add(age + skew)
	if ts := v.Timestamp; ts != nil {
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
// header's own Timestamp, the header blocks themselves.
func (vr *Verifier) checkPolicy(v *Verified) error {
	p := vr.Policy
	switch {
	case p.RequireTimestamp && v.Timestamp == nil:
		return invalid("policy requires a Timestamp")
	case p.RequireSignature && len(v.Signatures) == 0:
		return invalid("policy requires a signature")
	case p.RequireUsernameToken && v.UsernameToken == nil:
		return invalid("policy requires a UsernameToken")
	}
	for _, part := range p.SignedParts {
		switch part.Kind {
		case PartBody:
			if !v.Signed(v.Envelope.Body) {
				return invalid("policy requires the Body to be signed")
			}
		case PartTimestamp:
			if v.Timestamp == nil || !v.Signed(v.Timestamp.Element) {
				return invalid("policy requires the Timestamp to be signed")
			}
		case PartHeader:
			for _, h := range v.Envelope.HeaderBlocks() {
				if h.Tag == part.Name.Local && h.NamespaceURI() == part.Name.Space && !v.Signed(h) {
					return invalid("policy requires header %s to be signed", part.Name)
				}
			}
		default:
			return errors.New("wssec: unknown policy part")
		}
	}
	if s := v.SignerOf(v.Envelope.Body); s != nil {
		v.Principal = "x509:" + s.Certificate.Subject.String()
	} else if v.UsernameToken != nil {
		v.Principal = "user:" + v.UsernameToken.Username
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

// checkTimestamp applies WSS 1.1 section 10 with bounded skew and age.
func (vr *Verifier) checkTimestamp(el *etree.Element, now time.Time) (*Timestamp, error) {
	ts := &Timestamp{Element: el}
	var created, expires *etree.Element
	for _, c := range el.ChildElements() {
		if c.NamespaceURI() != soap.NSWSU {
			return nil, invalid("unexpected element %s in Timestamp", c.Tag)
		}
		switch {
		case c.Tag == "Created" && created == nil:
			created = c
		case c.Tag == "Expires" && expires == nil && created != nil:
			expires = c
		default:
			return nil, invalid("unexpected or repeated %s in Timestamp", c.Tag)
		}
	}
	if created == nil {
		return nil, invalid("Timestamp without Created")
	}
	var err error
	if ts.Created, err = parseDateTime(created); err != nil {
		return nil, invalid("Timestamp: %v", err)
	}
	skew, age := vr.Policy.skew(), vr.Policy.maxAge()
	if ts.Created.After(now.Add(skew)) {
		return nil, invalid("Timestamp Created %s is in the future (now %s)", ts.Created.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if now.Sub(ts.Created) > age+skew {
		return nil, expired("Timestamp Created %s is older than %s", ts.Created.Format(time.RFC3339), age)
	}
	if expires != nil {
		if ts.Expires, err = parseDateTime(expires); err != nil {
			return nil, invalid("Timestamp: %v", err)
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
