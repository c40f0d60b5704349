package conf

import (
	"encoding/xml"
	"net/url"
	"strings"
)

// Addressing is a service's WS-Addressing policy (invariant 12).
type Addressing struct {
	Pos
	// Endpoints are the URLs a request's wsa:To may name. Empty: the
	// gateway's default, https:// with the listener's address and each DNS
	// name of its certificate, and the service's path.
	Endpoints []string
	// AllowReplyTo lets wsa:ReplyTo and wsa:FaultTo name addresses other
	// than the anonymous and none URIs (replyTo="allow").
	AllowReplyTo bool
}

func (a *Addressing) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Endpoint string `xml:"endpoint,attr"`
		ReplyTo  string `xml:"replyTo,attr"`
	}
	*a = Addressing{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	a.Endpoints = strings.Fields(raw.Endpoint)
	a.AllowReplyTo = strings.TrimSpace(raw.ReplyTo) == "allow"
	return nil
}

// Propagation kinds.
const (
	PropagateAssertion = "assertion"
	PropagateHeaders   = "headers"
)

// Default names of the identity headers.
const (
	DefaultSubjectHeader = "X-Gatehouse-Subject"
	DefaultIssuerHeader  = "X-Gatehouse-Issuer"
	DefaultRolesHeader   = "X-Gatehouse-Roles"
)

// Propagation says how a proxied backend learns who a transaction is for:
// a fresh audience-scoped assertion from the STS (As PropagateAssertion),
// or identity headers (As PropagateHeaders), which the gateway removes
// from every inbound request so that no client can set them.
type Propagation struct {
	Pos
	As       string
	Audience string // PropagateAssertion: the backend's audience URI
	// Header names, PropagateHeaders only; defaults filled in by Load.
	SubjectHeader, IssuerHeader, RolesHeader string
}

func (p *Propagation) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		As            string `xml:"as,attr"`
		Audience      string `xml:"audience,attr"`
		SubjectHeader string `xml:"subjectHeader,attr"`
		IssuerHeader  string `xml:"issuerHeader,attr"`
		RolesHeader   string `xml:"rolesHeader,attr"`
	}
	*p = Propagation{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	p.As, p.Audience = strings.TrimSpace(raw.As), strings.TrimSpace(raw.Audience)
	p.SubjectHeader, p.IssuerHeader, p.RolesHeader = strings.TrimSpace(raw.SubjectHeader), strings.TrimSpace(raw.IssuerHeader), strings.TrimSpace(raw.RolesHeader)
	return nil
}

// IdentityHeaders returns the names of every identity header any service
// propagates, and the default names: the headers the gateway removes from
// each inbound request.
func (c *Config) IdentityHeaders() []string {
	names := []string{DefaultSubjectHeader, DefaultIssuerHeader, DefaultRolesHeader}
	for _, s := range c.Services {
		if p := s.Propagate; p != nil && p.As == PropagateHeaders {
			names = append(names, p.SubjectHeader, p.IssuerHeader, p.RolesHeader)
		}
	}
	return names
}

// checkAddressing checks a service's WS-Addressing policy.
func (c *checker) checkAddressing(a *Addressing, el string) {
	for _, e := range a.Endpoints {
		if u, err := url.Parse(e); err != nil || !u.IsAbs() || u.Host == "" {
			c.errorf(a.Pos, el, "endpoint %q is not an absolute URL", e)
		}
	}
	if a.AllowReplyTo {
		c.warnf(a.Pos, el, `replyTo="allow": the backend may be told to send replies and faults to a consumer-chosen address`)
	}
}

// checkPropagation checks how a service propagates the identity: an
// assertion needs the STS and an audience that no service of this gateway
// has (it is the backend's, not a Gatehouse service's); headers get their
// default names. The identity goes only to TLS backends unless the backend
// says insecurePlaintext (checked with the backend).
func (c *checker) checkPropagation(cfg *Config, s *Service, el string) {
	p := s.Propagate
	if s.Composite != nil {
		c.errorf(p.Pos, el, "a composite has no backend of its own to propagate the identity to (its steps' services do)")
		return
	}
	switch p.As {
	case PropagateAssertion:
		switch u, err := url.Parse(p.Audience); {
		case p.Audience == "":
			c.errorf(p.Pos, el, `as="assertion" needs the backend's audience`)
		case err != nil || !u.IsAbs():
			c.errorf(p.Pos, el, "audience %q is not an absolute URI", p.Audience)
		}
		for _, o := range cfg.Services {
			if o.SAML != nil && o.SAML.Audience == p.Audience {
				c.errorf(p.Pos, el, "audience %q is service %q's: an assertion for the backend must not be accepted by a Gatehouse service", p.Audience, o.Name)
			}
		}
		if cfg.STS == nil {
			c.errorf(p.Pos, el, `as="assertion" needs the <sts> to issue the assertions`)
		}
		if p.SubjectHeader != "" || p.IssuerHeader != "" || p.RolesHeader != "" {
			c.errorf(p.Pos, el, `header names are for as="headers"`)
		}
	case PropagateHeaders:
		if p.Audience != "" {
			c.errorf(p.Pos, el, `audience is for as="assertion"`)
		}
		if p.SubjectHeader == "" {
			p.SubjectHeader = DefaultSubjectHeader
		}
		if p.IssuerHeader == "" {
			p.IssuerHeader = DefaultIssuerHeader
		}
		if p.RolesHeader == "" {
			p.RolesHeader = DefaultRolesHeader
		}
		if strings.EqualFold(p.SubjectHeader, p.IssuerHeader) || strings.EqualFold(p.SubjectHeader, p.RolesHeader) || strings.EqualFold(p.IssuerHeader, p.RolesHeader) {
			c.errorf(p.Pos, el, "the subject, issuer and roles headers need three different names")
		}
		if s.Credentials != nil && (s.Credentials.Render == "basic" || s.Credentials.Render == "header") && strings.EqualFold(s.Credentials.Header, p.SubjectHeader) {
			c.errorf(p.Pos, el, "header %s carries the credential already", p.SubjectHeader)
		}
	default:
		c.errorf(p.Pos, el, "as %q is not assertion or headers", p.As)
	}
}
