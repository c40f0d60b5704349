package conf

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults for a service's WS-Security policy.
const (
	DefaultMaxSkew = 5 * time.Minute
	DefaultMaxAge  = 5 * time.Minute
)

// Bounds for the policy's durations: beyond them a value is more likely a
// typo than a need, and would keep replayable messages fresh for long.
const (
	maxMaxSkew = time.Hour
	maxMaxAge  = 24 * time.Hour
)

// What security/@require may list.
const (
	RequireTimestamp     = "timestamp"
	RequireSignature     = "signature"
	RequireUsernameToken = "usernameToken"
)

// Kinds of SignedPart.
const (
	PartBody      = "Body"
	PartTimestamp = "Timestamp"
	PartHeader    = "Header"
)

// Security is a service's WS-Security policy: what the wsse:Security
// header of each request must carry.
type Security struct {
	Pos
	Trust   string   // trust store name; required when signature is required
	Require []string // RequireTimestamp, RequireSignature, RequireUsernameToken; each once
	// SignedParts is what the signature must cover; empty unless signature
	// is required. When signature is required and signedParts is not
	// written, Load sets Body, and Timestamp when timestamp is required.
	SignedParts       []SignedPart
	Actor             string // the Security header's actor (1.1) or role (1.2); "" for none
	MaxSkew           time.Duration
	MaxAge            time.Duration
	InsecureAllowSHA1 bool // accept SHA-1 signatures and digests (a warning)
	// InsecureNoTimestamp admits require="signature" without timestamp (a
	// warning): a signed message is then fresh for as long as its replay
	// entry lives, and its signer chose no lifetime for it.
	InsecureNoTimestamp bool
	// InsecureAllowNonBSP relaxes WS-I Basic Security Profile 1.1 for
	// legacy stacks (a warning): inclusive C14N 1.0 / 1.1, References
	// without Transforms, Timestamps in a UTC offset other than "Z".
	InsecureAllowNonBSP bool

	// DecryptionKeys are the key pairs consumers encrypt to (XML
	// Encryption key transport, RSA-OAEP); several during a rotation.
	DecryptionKeys []DecryptionKey
	// EncryptedParts must each have been encrypted (Body or {ns}Header):
	// the element the service gets is the one decrypted.
	EncryptedParts []SignedPart
	// InsecureAllowCBC admits AES-CBC content encryption (a warning).
	InsecureAllowCBC bool
	// EncryptResponses encrypts the Body content of each answer to the
	// requester: the certificate that signed the request, else its mTLS
	// certificate (an RSA key either way).
	EncryptResponses bool

	// rawSignedParts are the signedParts tokens, parsed by the checks.
	rawSignedParts    []string
	rawEncryptedParts []string
}

// DecryptionKey is one of the gateway's decryption key pairs.
type DecryptionKey struct {
	Pos
	Certificate string `xml:"certificate,attr"`
	Key         string `xml:"key,attr"`

	pair *tls.Certificate
}

// KeyPair returns the loaded certificate and RSA key. Never log them.
func (k *DecryptionKey) KeyPair() (*x509.Certificate, *rsa.PrivateKey) {
	if k.pair == nil {
		return nil, nil
	}
	key, _ := k.pair.PrivateKey.(*rsa.PrivateKey)
	return k.pair.Leaf, key
}

func (k *DecryptionKey) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain DecryptionKey
	*k = DecryptionKey{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(k), &start)
}

// Requires reports whether the policy requires what (RequireTimestamp,
// RequireSignature or RequireUsernameToken).
func (s *Security) Requires(what string) bool { return slices.Contains(s.Require, what) }

// SignedPart is a part of the message a signature must cover: the Body,
// the Security header's Timestamp, or a header by its namespace and local
// name.
type SignedPart struct {
	Kind      string // PartBody, PartTimestamp or PartHeader
	Namespace string // PartHeader only: an absolute URI
	Local     string // PartHeader only: an NCName
}

// String returns the part as written in the configuration: "Body",
// "Timestamp" or "{namespace}Local".
func (p SignedPart) String() string {
	if p.Kind == PartHeader {
		return "{" + p.Namespace + "}" + p.Local
	}
	return p.Kind
}

// parseSignedPart parses a signedParts token; the schema has checked its
// lexical form.
func parseSignedPart(tok string) (SignedPart, error) {
	switch tok {
	case PartBody, PartTimestamp:
		return SignedPart{Kind: tok}, nil
	}
	rest, ok := strings.CutPrefix(tok, "{")
	ns, local, ok2 := strings.Cut(rest, "}")
	if !ok || !ok2 {
		return SignedPart{}, fmt.Errorf("signedParts: %q is not Body, Timestamp or {namespace}LocalName", tok)
	}
	if u, err := url.Parse(ns); err != nil || !u.IsAbs() {
		return SignedPart{}, fmt.Errorf("signedParts: %q: namespace %q is not an absolute URI", tok, ns)
	}
	if !isNCName(local) {
		return SignedPart{}, fmt.Errorf("signedParts: %q: %q is not an XML local name (NCName)", tok, local)
	}
	return SignedPart{Kind: PartHeader, Namespace: ns, Local: local}, nil
}

func (s *Security) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Trust             string          `xml:"trust,attr"`
		Require           string          `xml:"require,attr"`
		SignedParts       string          `xml:"signedParts,attr"`
		Actor             string          `xml:"actor,attr"`
		MaxSkew           string          `xml:"maxSkew,attr"`
		MaxAge            string          `xml:"maxAge,attr"`
		InsecureAllowSHA1 bool            `xml:"insecureAllowSHA1,attr"`
		InsecureNoTS      bool            `xml:"insecureNoTimestamp,attr"`
		InsecureNonBSP    bool            `xml:"insecureAllowNonBSP,attr"`
		InsecureCBC       bool            `xml:"insecureAllowCBC,attr"`
		EncryptResponses  bool            `xml:"encryptResponses,attr"`
		EncryptedParts    string          `xml:"encryptedParts,attr"`
		DecryptionKeys    []DecryptionKey `xml:"decryptionKey"`
	}
	*s = Security{Pos: Pos{Line: startLine(d)}, MaxSkew: DefaultMaxSkew, MaxAge: DefaultMaxAge}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	s.Trust = raw.Trust
	s.Require = strings.Fields(raw.Require)
	s.rawSignedParts = strings.Fields(raw.SignedParts)
	s.Actor = strings.TrimSpace(raw.Actor)
	s.InsecureAllowSHA1 = raw.InsecureAllowSHA1
	s.InsecureNoTimestamp = raw.InsecureNoTS
	s.InsecureAllowNonBSP = raw.InsecureNonBSP
	s.InsecureAllowCBC = raw.InsecureCBC
	s.EncryptResponses = raw.EncryptResponses
	if raw.EncryptedParts != "" {
		s.rawEncryptedParts = strings.Fields(raw.EncryptedParts)
	}
	s.DecryptionKeys = raw.DecryptionKeys
	return firstErr(
		parseDuration(&s.MaxSkew, raw.MaxSkew, s.Line, "maxSkew"),
		parseDuration(&s.MaxAge, raw.MaxAge, s.Line, "maxAge"),
	)
}

// Checks.

// checkSecurity checks a service's policy against the trust stores and
// the user store, and fills in SignedParts.
func (c *checker) checkSecurity(cfg *Config, s *Security, el string) {
	if v, dup := firstDuplicate(s.Require); dup {
		c.errorf(s.Pos, el, "require lists %s twice", v)
	}
	signature := s.Requires(RequireSignature)
	switch {
	case s.Trust != "" && cfg.TrustStore(s.Trust) == nil:
		c.errorf(s.Pos, el, "unknown trust store %q (%s)", s.Trust, trustStoreNames(cfg))
	case signature && s.Trust == "":
		c.errorf(s.Pos, el, "require lists signature: the trust attribute must name the trust store the signing keys come from")
	}
	switch timestamp := s.Requires(RequireTimestamp); {
	case signature && !timestamp && !s.InsecureNoTimestamp:
		c.errorf(s.Pos, el, `require lists signature without timestamp: a signed message without a Timestamp never expires and can be replayed once its replay entry is gone; add timestamp to require, or set insecureNoTimestamp="true"`)
	case s.InsecureNoTimestamp && (timestamp || !signature):
		c.errorf(s.Pos, el, `insecureNoTimestamp="true" applies only when require lists signature and not timestamp`)
	case s.InsecureNoTimestamp:
		c.warnf(s.Pos, el, `insecureNoTimestamp="true": signed messages need no Timestamp; such a message can be replayed once its replay entry (maxAge+maxSkew) is gone`)
	}
	if s.Requires(RequireUsernameToken) && cfg.Users == nil {
		c.errorf(s.Pos, el, "require lists usernameToken, but there is no users element (user store)")
	}

	var parts []SignedPart
	for _, tok := range s.rawSignedParts {
		p, err := parseSignedPart(tok)
		switch {
		case err != nil:
			c.errorf(s.Pos, el, "%v", err)
		case slices.Contains(parts, p):
			c.errorf(s.Pos, el, "signedParts lists %s twice", p)
		default:
			parts = append(parts, p)
		}
	}
	switch {
	case len(s.rawSignedParts) > 0 && !signature:
		c.errorf(s.Pos, el, "signedParts needs signature in require")
	case len(s.rawSignedParts) == 0 && signature:
		parts = []SignedPart{{Kind: PartBody}}
		if s.Requires(RequireTimestamp) {
			parts = append(parts, SignedPart{Kind: PartTimestamp})
		}
	}
	if signature && slices.Contains(parts, SignedPart{Kind: PartTimestamp}) && !s.Requires(RequireTimestamp) {
		c.errorf(s.Pos, el, "signedParts lists Timestamp: require must list timestamp too")
	}
	if signature && len(parts) > 0 && !slices.Contains(parts, SignedPart{Kind: PartBody}) {
		c.errorf(s.Pos, el, "signedParts must list Body: the signature over the Body is the message's signer, and every signed part must be covered by it")
	}
	s.SignedParts = parts

	c.checkDecryption(s, el)

	if s.Actor != "" {
		if u, err := url.Parse(s.Actor); err != nil || !u.IsAbs() {
			c.errorf(s.Pos, el, "actor %q is not an absolute URI", s.Actor)
		}
	}
	c.checkDuration(s.Pos, el, "maxSkew", s.MaxSkew)
	if s.MaxSkew > maxMaxSkew {
		c.errorf(s.Pos, el, "maxSkew %s is above the maximum of %s", s.MaxSkew, maxMaxSkew)
	}
	c.checkDuration(s.Pos, el, "maxAge", s.MaxAge)
	if s.MaxAge > maxMaxAge {
		c.errorf(s.Pos, el, "maxAge %s is above the maximum of %s", s.MaxAge, maxMaxAge)
	}
	if s.InsecureAllowSHA1 {
		c.warnf(s.Pos, el, `insecureAllowSHA1="true": SHA-1 signatures and digests are accepted; SHA-1 collisions are practical`)
	}
	if s.InsecureAllowNonBSP {
		c.warnf(s.Pos, el, `insecureAllowNonBSP="true": WS-I Basic Security Profile 1.1 is relaxed (inclusive C14N, References without Transforms, Timestamps not in UTC "Z")`)
	}
}

// isNCName reports whether s is an XML name without a colon (Namespaces in
// XML 1.0, production NCName; names as in XML 1.0 fifth edition).
func isNCName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		if r == ':' || !isNameChar(r) || (i == 0 && !isNameStartChar(r)) {
			return false
		}
	}
	return true
}

func isNameStartChar(r rune) bool {
	switch {
	case r == ':' || r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z':
		return true
	case r < 0xC0:
		return false
	}
	for _, rg := range [][2]rune{
		{0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x2FF}, {0x370, 0x37D}, {0x37F, 0x1FFF},
		{0x200C, 0x200D}, {0x2070, 0x218F}, {0x2C00, 0x2FEF}, {0x3001, 0xD7FF},
		{0xF900, 0xFDCF}, {0xFDF0, 0xFFFD}, {0x10000, 0xEFFFF},
	} {
		if rg[0] <= r && r <= rg[1] {
			return true
		}
	}
	return false
}

func isNameChar(r rune) bool {
	return isNameStartChar(r) || r == '-' || r == '.' || '0' <= r && r <= '9' || r == 0xB7 ||
		0x300 <= r && r <= 0x36F || r == 0x203F || r == 0x2040
}

// checkDecryption loads the decryption key pairs (RSA, key matching its
// certificate) and checks encryptedParts.
func (c *checker) checkDecryption(s *Security, el string) {
	for i := range s.DecryptionKeys {
		k := &s.DecryptionKeys[i]
		k.Certificate, k.Key = c.resolve(k.Certificate), c.resolve(k.Key)
		pair, ok := c.keyPair(k.Pos, el+"/decryptionKey", k.Certificate, k.Key)
		if !ok {
			continue
		}
		if _, isRSA := pair.PrivateKey.(*rsa.PrivateKey); !isRSA {
			c.errorf(k.Pos, el+"/decryptionKey", "key %s is not an RSA key: XML Encryption key transport is RSA-OAEP", k.Key)
			continue
		}
		k.pair = &pair
	}
	var parts []SignedPart
	for _, tok := range s.rawEncryptedParts {
		p, err := parseSignedPart(tok)
		switch {
		case err != nil:
			c.errorf(s.Pos, el, "encryptedParts: %v", strings.TrimPrefix(err.Error(), "signedParts: "))
		case p.Kind == PartTimestamp:
			c.errorf(s.Pos, el, "encryptedParts: the Timestamp is not encrypted (list Body or {namespace}Header)")
		case slices.Contains(parts, p):
			c.errorf(s.Pos, el, "encryptedParts lists %s twice", p)
		default:
			parts = append(parts, p)
		}
	}
	s.EncryptedParts = parts
	if len(parts) > 0 && len(s.DecryptionKeys) == 0 {
		c.errorf(s.Pos, el, "encryptedParts needs at least one decryptionKey")
	}
	if s.InsecureAllowCBC {
		c.warnf(s.Pos, el, `insecureAllowCBC="true": AES-CBC content encryption is accepted; padding oracle attacks on XML Encryption recover CBC plaintext`)
	}
}
