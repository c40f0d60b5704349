package conf

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults for a service's SAML policy.
const (
	DefaultConfirmation     = "bearer holderOfKey"
	DefaultSAMLMaxClockSkew = 2 * time.Minute
	// DefaultSAMLVersions: SAML 1.1 is accepted only where a service says
	// so (versions="1.1 2.0").
	DefaultSAMLVersions = "2.0"
	// DefaultAssertionCache is samlsts.DefaultAssertionCacheSize.
	DefaultAssertionCache = 10000
)

// maxSAMLClockSkew bounds saml/@maxClockSkew: a wider window keeps an
// expired assertion usable for longer than any clock drift explains.
const maxSAMLClockSkew = 10 * time.Minute

// Subject confirmation methods, as saml/@confirmation lists them.
const (
	ConfirmationBearer        = "bearer"
	ConfirmationHolderOfKey   = "holderOfKey"
	ConfirmationSenderVouches = "senderVouches"
)

// confirmationMethods maps the SAML 2.0 and SAML 1.1 subject confirmation
// method URIs to the names the configuration uses.
var confirmationMethods = map[string]string{
	"urn:oasis:names:tc:SAML:2.0:cm:bearer":         ConfirmationBearer,
	"urn:oasis:names:tc:SAML:2.0:cm:holder-of-key":  ConfirmationHolderOfKey,
	"urn:oasis:names:tc:SAML:2.0:cm:sender-vouches": ConfirmationSenderVouches,
	"urn:oasis:names:tc:SAML:1.0:cm:bearer":         ConfirmationBearer,
	"urn:oasis:names:tc:SAML:1.0:cm:holder-of-key":  ConfirmationHolderOfKey,
	"urn:oasis:names:tc:SAML:1.0:cm:sender-vouches": ConfirmationSenderVouches,
}

// SAMLIssuer is a SAML issuer services may trust, and the trust store
// that pins its signing certificates. Load checks that the store exists
// and pins at least one certificate: an assertion is trusted only if it is
// signed with one of them (several during a key rollover), never because
// a CA issued the signer's certificate.
type SAMLIssuer struct {
	Pos
	EntityID string `xml:"entityID,attr"` // an absolute URI, unique
	Trust    string `xml:"trust,attr"`    // a trust store with pinned certificates
}

// SAMLIssuer returns the SAML issuer of that entity ID, or nil.
func (c *Config) SAMLIssuer(entityID string) *SAMLIssuer {
	for _, i := range c.SAMLIssuers {
		if i.EntityID == entityID {
			return i
		}
	}
	return nil
}

// UnmarshalXML trims entityID, as the schema does before checking it
// (xs:anyURI collapses white space).
func (i *SAMLIssuer) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain SAMLIssuer
	*i = SAMLIssuer{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement((*plain)(i), &start); err != nil {
		return err
	}
	i.EntityID = strings.TrimSpace(i.EntityID)
	return nil
}

// SAML is a service's SAML policy: which assertions a request may carry.
type SAML struct {
	Pos
	// Audience is what the assertion's AudienceRestriction must name: an
	// absolute URI, unique among the services, so that an assertion issued
	// for one service is refused by every other.
	Audience string
	// Confirmation lists the subject confirmation methods accepted, each
	// once: ConfirmationBearer, ConfirmationHolderOfKey,
	// ConfirmationSenderVouches. Default: bearer and holderOfKey.
	Confirmation []string
	Required     bool          // a request without an assertion is refused; default true
	MaxClockSkew time.Duration // for NotBefore and NotOnOrAfter; default 2m, at most 10m
	// Issuers are the entity IDs of the issuers accepted, each a
	// Config.SAMLIssuer; at least one.
	Issuers []string
	// AttestingEntities are the workloads (SPIFFE ID or certificate DN)
	// trusted to vouch for a subject with sender-vouches; at least one when
	// Confirmation lists it.
	AttestingEntities []string
	// Recipients are the endpoint URLs a SubjectConfirmationData Recipient
	// may name (absolute http or https URLs, each once); nil when the
	// recipient attribute is absent, and the gateway then uses the
	// service's own URL (listener and path). A confirmation naming another
	// Recipient is not satisfied.
	Recipients []string
	// RequireRecipient refuses a bearer confirmation without a Recipient;
	// default false.
	RequireRecipient bool
	// Versions are the SAML versions accepted, "2.0" and "1.1", each once;
	// default "2.0" only. An assertion of another version is refused with
	// wsse:UnsupportedSecurityToken.
	Versions []string
	// AssertionCache is how many verified holder-of-key and sender-vouches
	// assertions the service keeps (samlsts.AssertionCache); 0 turns the
	// cache off. Default DefaultAssertionCache.
	AssertionCache int

	// The lines of the issuer and attestingEntity elements, for messages.
	issuerLines, attestingLines []int
}

// Allows reports whether the policy accepts the subject confirmation
// method: a name as the configuration writes it ("bearer",
// "holderOfKey", "senderVouches") or a SAML 2.0 or 1.1 method URI
// ("urn:oasis:names:tc:SAML:2.0:cm:bearer" and so on). A nil policy
// allows none.
func (s *SAML) Allows(method string) bool {
	if s == nil {
		return false
	}
	if name, ok := confirmationMethods[method]; ok {
		method = name
	}
	return slices.Contains(s.Confirmation, method)
}

func (s *SAML) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Audience          string             `xml:"audience,attr"`
		Confirmation      string             `xml:"confirmation,attr"`
		Required          string             `xml:"required,attr"`
		MaxClockSkew      string             `xml:"maxClockSkew,attr"`
		Recipient         string             `xml:"recipient,attr"`
		RequireRecipient  string             `xml:"requireRecipient,attr"`
		Versions          string             `xml:"versions,attr"`
		AssertionCache    string             `xml:"assertionCache,attr"`
		Issuers           []issuerElement    `xml:"issuer"`
		AttestingEntities []attestingElement `xml:"attestingEntity"`
	}
	*s = SAML{Pos: Pos{Line: startLine(d)}, Required: true, MaxClockSkew: DefaultSAMLMaxClockSkew, AssertionCache: DefaultAssertionCache}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	s.Audience = strings.TrimSpace(raw.Audience)
	if raw.Confirmation == "" {
		raw.Confirmation = DefaultConfirmation
	}
	s.Confirmation = strings.Fields(raw.Confirmation)
	if raw.Versions == "" {
		raw.Versions = DefaultSAMLVersions
	}
	s.Versions = strings.Fields(raw.Versions)
	if r := strings.Fields(raw.Recipient); len(r) > 0 {
		s.Recipients = r
	}
	for _, i := range raw.Issuers {
		s.Issuers = append(s.Issuers, strings.TrimSpace(i.EntityID))
		s.issuerLines = append(s.issuerLines, i.Line)
	}
	for _, a := range raw.AttestingEntities {
		s.AttestingEntities = append(s.AttestingEntities, a.Workload)
		s.attestingLines = append(s.attestingLines, a.Line)
	}
	if raw.Required != "" {
		v, err := strconv.ParseBool(strings.TrimSpace(raw.Required))
		if err != nil {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("required: %q is not a boolean", raw.Required)}
		}
		s.Required = v
	}
	if raw.RequireRecipient != "" {
		v, err := strconv.ParseBool(strings.TrimSpace(raw.RequireRecipient))
		if err != nil {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("requireRecipient: %q is not a boolean", raw.RequireRecipient)}
		}
		s.RequireRecipient = v
	}
	if raw.AssertionCache != "" {
		n, err := strconv.Atoi(strings.TrimSpace(raw.AssertionCache))
		if err != nil || n < 0 {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("assertionCache: %q is not a non-negative integer", raw.AssertionCache)}
		}
		s.AssertionCache = n
	}
	return parseDuration(&s.MaxClockSkew, raw.MaxClockSkew, s.Line, "maxClockSkew")
}

// issuerElement and attestingElement are the children of saml, which the
// model keeps as strings; their lines are kept for messages.
type issuerElement struct {
	Line     int
	EntityID string `xml:"entityID,attr"`
}

type attestingElement struct {
	Line     int
	Workload string `xml:"workload,attr"`
}

func (e *issuerElement) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain issuerElement
	*e = issuerElement{Line: startLine(d)}
	return d.DecodeElement((*plain)(e), &start)
}

func (e *attestingElement) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain attestingElement
	*e = attestingElement{Line: startLine(d)}
	return d.DecodeElement((*plain)(e), &start)
}

// Checks.

// isAbsoluteURI reports whether s parses as a URI with a scheme.
func isAbsoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}

func (c *checker) checkSAMLIssuers(cfg *Config) {
	ids := map[string]*SAMLIssuer{}
	for _, i := range cfg.SAMLIssuers {
		el := fmt.Sprintf("samlIssuer entityID=%q", i.EntityID)
		if prev, dup := ids[i.EntityID]; dup {
			c.errorf(i.Pos, el, "duplicate entityID (first at line %d)", prev.Line)
		} else {
			ids[i.EntityID] = i
		}
		if !isAbsoluteURI(i.EntityID) {
			c.errorf(i.Pos, el, "entityID %q is not an absolute URI", i.EntityID)
		}
		switch t := cfg.TrustStore(i.Trust); {
		case t == nil:
			c.errorf(i.Pos, el, "unknown trust store %q (%s)", i.Trust, trustStoreNames(cfg))
		case len(t.Certificates) == 0:
			c.errorf(i.Pos, el, "trust store %q pins no certificate: an issuer's signing certificate must be pinned (a certificate element), "+
				"because with a ca alone any certificate that CA issued could sign assertions as this issuer", i.Trust)
		}
	}
}

// trustStoreNames lists the trust stores for a message about an unknown one.
func trustStoreNames(cfg *Config) string {
	var names []string
	for _, t := range cfg.Trust {
		names = append(names, t.Name)
	}
	if len(names) == 0 {
		return "there are no trust stores"
	}
	return "trust stores: " + strings.Join(names, ", ")
}

// checkSAML checks a service's SAML policy against the SAML issuers and
// the audiences of the services checked before it.
func (c *checker) checkSAML(cfg *Config, svc *Service, audiences map[string]*Service, el string) {
	s := svc.SAML
	switch prev, dup := audiences[s.Audience]; {
	case !isAbsoluteURI(s.Audience):
		c.errorf(s.Pos, el, "audience %q is not an absolute URI", s.Audience)
	case dup:
		c.errorf(s.Pos, el, "audience %q is already the audience of service %q (line %d): an assertion issued for one of them would be accepted by the other",
			s.Audience, prev.Name, prev.Line)
	default:
		audiences[s.Audience] = svc
	}
	if v, dup := firstDuplicate(s.Confirmation); dup {
		c.errorf(s.Pos, el, "confirmation lists %s twice", v)
	}
	if v, dup := firstDuplicate(s.Versions); dup {
		c.errorf(s.Pos, el, "versions lists %s twice", v)
	}
	for i, r := range s.Recipients {
		if u, err := url.Parse(r); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			c.errorf(s.Pos, el, "recipient %q is not an absolute http or https URL without a fragment", r)
		} else if slices.Contains(s.Recipients[:i], r) {
			c.errorf(s.Pos, el, "recipient lists %s twice", r)
		}
	}
	if s.RequireRecipient && !s.Allows(ConfirmationBearer) {
		c.warnf(s.Pos, el, `requireRecipient="true" is not used: confirmation does not list bearer`)
	}
	c.checkDuration(s.Pos, el, "maxClockSkew", s.MaxClockSkew)
	if s.MaxClockSkew > maxSAMLClockSkew {
		c.errorf(s.Pos, el, "maxClockSkew %s is above the maximum of %s", s.MaxClockSkew, maxSAMLClockSkew)
	}

	for i, id := range s.Issuers {
		p := Pos{Line: s.issuerLines[i]}
		switch {
		case slices.Contains(s.Issuers[:i], id):
			c.errorf(p, el+"/issuer", "entityID %q is listed twice", id)
		case cfg.SAMLIssuer(id) == nil:
			var ids []string
			for _, i := range cfg.SAMLIssuers {
				ids = append(ids, i.EntityID)
			}
			known := "there are no samlIssuer elements"
			if len(ids) > 0 {
				known = "SAML issuers: " + strings.Join(ids, ", ")
			}
			c.errorf(p, el+"/issuer", "unknown SAML issuer %q (%s)", id, known)
		}
	}

	senderVouches := s.Allows(ConfirmationSenderVouches)
	for i, w := range s.AttestingEntities {
		p := Pos{Line: s.attestingLines[i]}
		switch {
		case w == "":
			c.errorf(p, el+"/attestingEntity", "workload is empty")
		case workloadIDError(w) != nil:
			c.errorf(p, el+"/attestingEntity", "%v", workloadIDError(w))
		case slices.ContainsFunc(s.AttestingEntities[:i], func(o string) bool { return sameWorkload(o, w) }):
			c.errorf(p, el+"/attestingEntity", "workload %q is listed twice", w)
		case !senderVouches:
			c.warnf(p, el+"/attestingEntity", "workload %q is not used: confirmation does not list senderVouches", w)
		}
	}
	if senderVouches && len(s.AttestingEntities) == 0 {
		c.errorf(s.Pos, el, "confirmation lists senderVouches: at least one attestingEntity must name the workload trusted to vouch for a subject")
	}
}
