package conf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
)

// Namespace is the XML namespace of a Gatehouse configuration file.
const Namespace = "urn:gatehouse:config:1"

// SchemaName is the embedded XSD (schemas/std) a configuration is validated against.
const SchemaName = "gatehouse-config.xsd"

// Defaults for what a configuration may leave out.
const (
	DefaultAdminAddress   = "127.0.0.1:9090"
	DefaultSOAPVersions   = "1.1 1.2"
	DefaultConnectTimeout = 2 * time.Second
	// DefaultBackendTimeout is well above a legacy backend's usual answer
	// (tens to hundreds of milliseconds) and below a consumer's own
	// timeout (commonly 30s or more), so that the consumer gets the
	// gateway's fault rather than its own timeout. A hung backend opens
	// the breaker after slowCall (half of it), not after it.
	DefaultBackendTimeout   = 10 * time.Second
	DefaultMaxResponseBytes = 4 << 20

	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// DefaultLimits returns the message limits that apply when the
// configuration does not set them.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:      1 << 20,
		MaxDepth:      64,
		MaxAttributes: 32,
		MaxNameLength: 256,
		MaxNamespaces: 16,
		MaxTextBytes:  256 << 10,
		MaxElements:   20000,
	}
}

// Pos is where an element starts in the configuration: the line on which
// its start tag ends, which is also the line libxml2 reports.
type Pos struct {
	File string `xml:"-"` // the configuration file, as given to Load
	Line int    `xml:"-"`
}

// Config is a loaded, checked configuration. Its exported fields mirror the
// XML; after Load, relative file paths are absolute, defaults are filled in,
// and the values the gateway needs at run time (TLS configurations,
// compiled payload schemas) are built and reached through methods.
type Config struct {
	Path        string        `xml:"-"` // absolute path of the configuration file
	Listeners   []*Listener   `xml:"listener"`
	Admin       Admin         `xml:"admin"`
	Audit       Audit         `xml:"audit"`
	Store       *Store        `xml:"store"`      // nil: in memory, one instance only
	Lockout     Lockout       `xml:"lockout"`    // defaults filled in
	RateLimits  *RateLimits   `xml:"rateLimits"` // nil: no rate limits
	Tracing     *Tracing      `xml:"tracing"`    // nil: tracing off
	Trust       []*Trust      `xml:"trust"`
	Users       *Users        `xml:"users"`      // nil: no UsernameToken user store
	SAMLIssuers []*SAMLIssuer `xml:"samlIssuer"` // the issuers services may trust (SAML.Issuers)
	STS         *STS          `xml:"sts"`        // nil: no built-in STS
	Policy      *Policy       `xml:"policy"`     // nil: no policy section, which authorizes no service call (default deny)
	// CredentialMaps map principals to users of legacy security domains.
	CredentialMaps []*CredentialMap `xml:"credentialMap"`
	Limits         Limits           `xml:"limits"` // global defaults, fully resolved
	Services       []*Service       `xml:"service"`

	// Warnings lists settings that weaken a check (named insecure…), one
	// "FILE:LINE: element: message" string each, for logging at start-up.
	Warnings []string `xml:"-"`
}

// Listener is a TLS listener for SOAP traffic.
type Listener struct {
	Pos
	Name     string      `xml:"name,attr"`
	Address  string      `xml:"address,attr"`
	TLS      ListenerTLS `xml:"tls"`
	Timeouts Timeouts    `xml:"timeouts"`
	// Connections are the listener's connection limits (connections.go).
	Connections Connections `xml:"connections"`

	serverTLS *tls.Config
}

// ServerTLSConfig returns a new copy of the listener's TLS configuration:
// TLS 1.2 or later, the configured certificate, and client certificates
// required and verified against clientCA unless clientAuth is insecure-none.
func (l *Listener) ServerTLSConfig() *tls.Config {
	if l.serverTLS == nil {
		return nil
	}
	return l.serverTLS.Clone()
}

// ClientAuth is how a listener treats client certificates.
type ClientAuth string

const (
	ClientAuthRequire      ClientAuth = "require"
	ClientAuthInsecureNone ClientAuth = "insecure-none"
)

// ListenerTLS is the listener's certificate, key and client CA bundle.
type ListenerTLS struct {
	Pos
	Certificate string     `xml:"certificate,attr"`
	Key         string     `xml:"key,attr"`
	ClientCA    string     `xml:"clientCA,attr"`
	ClientAuth  ClientAuth `xml:"clientAuth,attr"` // ClientAuthRequire unless written otherwise
}

// Timeouts are the HTTP server timeouts of a listener.
type Timeouts struct {
	Pos
	ReadHeader, Read, Write, Idle time.Duration
}

// Admin is the admin listener (health, readiness, metrics).
type Admin struct {
	Pos
	Address             string `xml:"address,attr"`
	InsecureNonLoopback bool   `xml:"insecureNonLoopback,attr"`
}

// Limits bound what the hardened parser accepts. In the XML an attribute
// left out is 0 here (the schema allows only positive values); Load fills
// it from the global limits, and those from DefaultLimits.
type Limits struct {
	Pos
	MaxBytes      int64 `xml:"maxBytes,attr"`
	MaxDepth      int   `xml:"maxDepth,attr"`
	MaxAttributes int   `xml:"maxAttributes,attr"`
	MaxNameLength int   `xml:"maxNameLength,attr"`
	MaxNamespaces int   `xml:"maxNamespaces,attr"`
	MaxTextBytes  int64 `xml:"maxTextBytes,attr"`
	MaxElements   int   `xml:"maxElements,attr"`
}

// inherit returns l with every unset value taken from parent.
func (l Limits) inherit(parent Limits) Limits {
	if l.Line == 0 {
		l.Pos = parent.Pos
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = parent.MaxBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = parent.MaxDepth
	}
	if l.MaxAttributes == 0 {
		l.MaxAttributes = parent.MaxAttributes
	}
	if l.MaxNameLength == 0 {
		l.MaxNameLength = parent.MaxNameLength
	}
	if l.MaxNamespaces == 0 {
		l.MaxNamespaces = parent.MaxNamespaces
	}
	if l.MaxTextBytes == 0 {
		l.MaxTextBytes = parent.MaxTextBytes
	}
	if l.MaxElements == 0 {
		l.MaxElements = parent.MaxElements
	}
	return l
}

// Service is a SOAP service at a path on a listener, proxied to a backend.
type Service struct {
	Pos
	Name         string
	Path         string
	Listener     string   // the listener's name; filled in when there is only one
	SOAPVersions []string // "1.1", "1.2"
	Backend      Backend
	Security     *Security           // WS-Security policy; nil when not configured
	SAML         *SAML               // SAML policy; nil when not configured
	Credentials  *ServiceCredentials // legacy credentials for the backend; nil when none
	Addressing   *Addressing         // WS-Addressing policy; nil: the defaults
	Propagate    *Propagation        // identity propagation to the backend; nil: none
	// Composite, when set, makes the service a composite: the definition
	// runs instead of a backend (Backend is then unused).
	Composite *CompositeRef
	// WSDL, when set, is the service's contract: its operations, actions
	// and schemas (then Schemas is empty).
	WSDL    *WSDLRef
	Schemas []Schema // payload schemas; Load makes their paths absolute
	Limits  Limits   // resolved: service override ← global ← defaults

	payloadSchema   *schemas.Set
	soapVersionsSet bool // soapVersions was written, not defaulted
}

// WSDLRef names a port of a WSDL service as a service's contract.
type WSDLRef struct {
	Pos
	Path string // Load makes it absolute
	// Service is the wsdl:service, {namespace}local or local, empty when
	// the WSDL has only one. Ports are its wsdl:ports the service takes,
	// at most one per SOAP version; none: every SOAP port of the service.
	Service xml.Name
	Ports   []string
	// PublicURL is the address ?wsdl publishes for the service; empty:
	// the endpoint the request came to.
	PublicURL string
	// ValidateResponses holds the backend's answers to the contract: an
	// operation's output, or a fault it declares.
	ValidateResponses bool

	contracts []*wsdl.Contract
}

// Contracts returns the WSDL ports Load read (one per SOAP version), nil
// when the service has no WSDL.
func (s *Service) Contracts() []*wsdl.Contract {
	if s.WSDL == nil {
		return nil
	}
	return s.WSDL.contracts
}

func (w *WSDLRef) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		File      string `xml:"file,attr"`
		Service   string `xml:"service,attr"`
		Port      string `xml:"port,attr"`
		PublicURL string `xml:"publicURL,attr"`
		Validate  bool   `xml:"validateResponses,attr"`
	}
	line := startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	*w = WSDLRef{Pos: Pos{Line: line}, Path: raw.File, Ports: strings.Fields(raw.Port), PublicURL: raw.PublicURL, ValidateResponses: raw.Validate}
	name := strings.TrimSpace(raw.Service)
	if ns, local, ok := strings.Cut(strings.TrimPrefix(name, "{"), "}"); ok && strings.HasPrefix(name, "{") {
		w.Service = xml.Name{Space: ns, Local: local}
	} else if name != "" {
		w.Service = xml.Name{Local: name}
	}
	return nil
}

// PayloadSchema returns the service's payload schemas, compiled by Load
// into one set. It stays valid until Config.Close.
func (s *Service) PayloadSchema() *schemas.Set { return s.payloadSchema }

// SchemaFiles returns the absolute paths of the service's payload schemas.
func (s *Service) SchemaFiles() []string {
	files := make([]string, len(s.Schemas))
	for i, sc := range s.Schemas {
		files[i] = sc.Path
	}
	return files
}

// Schema is one payload schema of a service.
type Schema struct {
	Pos
	Path string `xml:"file,attr"`
}

// Backend is where a service's requests are forwarded.
type Backend struct {
	Pos
	URL              *url.URL // set by Load; absolute http or https
	ConnectTimeout   time.Duration
	Timeout          time.Duration
	MaxResponseBytes int64
	TLS              *BackendTLS // nil when not configured
	// Sign, when set, makes the gateway sign each outbound request
	// (Timestamp, BinarySecurityToken, signature over Body and Timestamp)
	// for backends that require WS-Security signatures.
	Sign *BackendSign
	// Encrypt, when set, encrypts the Body content of outbound requests
	// to the backend's certificate (XML Encryption in WS-Security).
	Encrypt *BackendEncrypt
	// MaxConcurrent bounds the calls in flight to the backend (a
	// bulkhead): DefaultMaxConcurrent unless written, 1 to 100000.
	MaxConcurrent int
	// Breaker is the backend's circuit breaker, defaults filled in: every
	// backend has one.
	Breaker Breaker
	// InsecurePlaintext allows an http backend to receive secrets: the
	// mapped credentials, the bearer assertion of a composite's hop, and
	// (later) identity headers. Without it such a backend is a load error;
	// with it Load adds a warning. Never true for an https backend.
	InsecurePlaintext bool

	rawURL    string
	clientTLS *tls.Config
	signing   *tls.Certificate
}

// CompositeRef names a composite service's orchestration definition
// (absolute after Load).
type CompositeRef struct {
	Pos
	Definition string `xml:"definition,attr"`
}

func (c *CompositeRef) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain CompositeRef
	*c = CompositeRef{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(c), &start)
}

// BackendEncrypt names the backend's certificate (an RSA key) that the
// Body content of outbound requests is encrypted to: a fresh AES-256-GCM
// key per message, RSA-OAEP key transport (SHA256: xenc11 rsa-oaep with
// SHA-256 and MGF1-SHA256, else rsa-oaep-mgf1p). EncryptBeforeSigning
// (order="encrypt-then-sign") signs the encrypted message; the default
// signs, then encrypts (WS-SecurityPolicy's default protection order).
type BackendEncrypt struct {
	Pos
	Certificate          string
	SHA256               bool
	EncryptBeforeSigning bool

	cert *x509.Certificate
}

// Recipient is the loaded certificate (nil until Load checked it).
func (e *BackendEncrypt) Recipient() *x509.Certificate { return e.cert }

func (e *BackendEncrypt) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Certificate string `xml:"certificate,attr"`
		Parts       string `xml:"parts,attr"`
		OAEP        string `xml:"oaep,attr"`
		Order       string `xml:"order,attr"`
	}
	*e = BackendEncrypt{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	e.Certificate = raw.Certificate
	switch raw.Parts {
	case "", "Body":
	default:
		return fmt.Errorf("line %d: encrypt parts %q: only Body is encrypted", e.Line, raw.Parts)
	}
	switch raw.OAEP {
	case "", "sha1":
	case "sha256":
		e.SHA256 = true
	default:
		return fmt.Errorf("line %d: encrypt oaep %q: sha1 or sha256", e.Line, raw.OAEP)
	}
	switch raw.Order {
	case "", "sign-then-encrypt":
	case "encrypt-then-sign":
		e.EncryptBeforeSigning = true
	default:
		return fmt.Errorf("line %d: encrypt order %q: sign-then-encrypt or encrypt-then-sign", e.Line, raw.Order)
	}
	return nil
}

// BackendSign names the certificate and key the gateway signs outbound
// requests with; Load checks that they belong together.
type BackendSign struct {
	Pos
	Certificate string `xml:"certificate,attr"`
	Key         string `xml:"key,attr"`
}

// SigningKey returns the key and certificate for outbound signatures, or
// nils when the backend does not ask for signed requests. Never log them.
func (b *Backend) SigningKey() (crypto.Signer, *x509.Certificate) {
	if b.signing == nil {
		return nil, nil
	}
	return b.signing.PrivateKey.(crypto.Signer), b.signing.Leaf
}

// ClientTLSConfig returns a new copy of the TLS configuration for calls to
// the backend, or nil for an http backend: TLS 1.2 or later, the roots from
// tls/@ca (the system roots when not given), the client certificate when
// given, and tls/@serverName.
func (b *Backend) ClientTLSConfig() *tls.Config {
	if b.clientTLS == nil {
		return nil
	}
	return b.clientTLS.Clone()
}

// BackendTLS is the TLS configuration for an https backend.
type BackendTLS struct {
	Pos
	CA          string `xml:"ca,attr"`
	Certificate string `xml:"certificate,attr"`
	Key         string `xml:"key,attr"`
	ServerName  string `xml:"serverName,attr"`
}

// Decoding. Each positioned element notes the line of its start tag and
// decodes itself; the schema has already checked every lexical form, so
// the conversions below fail only on input the schema would have refused.

func startLine(d *xml.Decoder) int {
	line, _ := d.InputPos()
	return line
}

func (l *Listener) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Listener
	*l = Listener{Pos: Pos{Line: startLine(d)}, Timeouts: Timeouts{
		ReadHeader: DefaultReadHeaderTimeout,
		Read:       DefaultReadTimeout,
		Write:      DefaultWriteTimeout,
		Idle:       DefaultIdleTimeout,
	}, Connections: Connections{HandshakeTimeout: DefaultHandshakeTimeout}}
	return d.DecodeElement((*plain)(l), &start)
}

func (t *ListenerTLS) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain ListenerTLS
	*t = ListenerTLS{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(t), &start)
}

// UnmarshalXML keeps the defaults already in t for attributes left out.
func (t *Timeouts) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	t.Line = startLine(d)
	var raw struct {
		ReadHeader string `xml:"readHeader,attr"`
		Read       string `xml:"read,attr"`
		Write      string `xml:"write,attr"`
		Idle       string `xml:"idle,attr"`
	}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	return firstErr(
		parseDuration(&t.ReadHeader, raw.ReadHeader, t.Line, "readHeader"),
		parseDuration(&t.Read, raw.Read, t.Line, "read"),
		parseDuration(&t.Write, raw.Write, t.Line, "write"),
		parseDuration(&t.Idle, raw.Idle, t.Line, "idle"),
	)
}

// UnmarshalXML keeps the defaults already in a for attributes left out.
func (a *Admin) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Admin
	a.Line = startLine(d)
	return d.DecodeElement((*plain)(a), &start)
}

func (l *Limits) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Limits
	*l = Limits{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(l), &start)
}

func (s *Service) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Name         string              `xml:"name,attr"`
		Path         string              `xml:"path,attr"`
		Listener     string              `xml:"listener,attr"`
		SOAPVersions string              `xml:"soapVersions,attr"`
		Backend      Backend             `xml:"backend"`
		Security     *Security           `xml:"security"`
		SAML         *SAML               `xml:"saml"`
		Credentials  *ServiceCredentials `xml:"credentials"`
		Addressing   *Addressing         `xml:"addressing"`
		Propagate    *Propagation        `xml:"propagate"`
		Composite    *CompositeRef       `xml:"composite"`
		WSDL         *WSDLRef            `xml:"wsdl"`
		Schemas      []Schema            `xml:"schema"`
		Limits       Limits              `xml:"limits"`
	}
	line := startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	versionsSet := raw.SOAPVersions != ""
	if !versionsSet {
		raw.SOAPVersions = DefaultSOAPVersions
	}
	*s = Service{
		soapVersionsSet: versionsSet,
		Pos:             Pos{Line: line},
		Name:            raw.Name,
		Path:            raw.Path,
		Listener:        raw.Listener,
		SOAPVersions:    strings.Fields(raw.SOAPVersions),
		Backend:         raw.Backend,
		Security:        raw.Security,
		SAML:            raw.SAML,
		Credentials:     raw.Credentials,
		Addressing:      raw.Addressing,
		Propagate:       raw.Propagate,
		Composite:       raw.Composite,
		WSDL:            raw.WSDL,
		Schemas:         raw.Schemas,
		Limits:          raw.Limits,
	}
	return nil
}

func (s *Schema) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Schema
	*s = Schema{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(s), &start)
}

func (b *Backend) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		URL              string          `xml:"url,attr"`
		ConnectTimeout   string          `xml:"connectTimeout,attr"`
		Timeout          string          `xml:"timeout,attr"`
		MaxResponseBytes int64           `xml:"maxResponseBytes,attr"`
		MaxConcurrent    int             `xml:"maxConcurrent,attr"`
		Plaintext        bool            `xml:"insecurePlaintext,attr"`
		TLS              *BackendTLS     `xml:"tls"`
		Sign             *BackendSign    `xml:"sign"`
		Encrypt          *BackendEncrypt `xml:"encrypt"`
		Breaker          Breaker         `xml:"breaker"`
	}
	raw.Breaker = DefaultBreaker()
	raw.Breaker.SlowCall = slowCallUnset // its default depends on the timeout
	*b = Backend{
		Pos:              Pos{Line: startLine(d)},
		ConnectTimeout:   DefaultConnectTimeout,
		Timeout:          DefaultBackendTimeout,
		MaxResponseBytes: DefaultMaxResponseBytes,
		MaxConcurrent:    DefaultMaxConcurrent,
	}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	// The URL is parsed by the checks, so that a bad one is reported
	// together with every other problem.
	b.rawURL = raw.URL
	b.TLS, b.Sign, b.Encrypt, b.Breaker = raw.TLS, raw.Sign, raw.Encrypt, raw.Breaker
	b.InsecurePlaintext = raw.Plaintext
	if raw.MaxResponseBytes != 0 {
		b.MaxResponseBytes = raw.MaxResponseBytes
	}
	if raw.MaxConcurrent != 0 { // the schema refuses maxConcurrent="0"
		b.MaxConcurrent = raw.MaxConcurrent
	}
	if err := firstErr(
		parseDuration(&b.ConnectTimeout, raw.ConnectTimeout, b.Line, "connectTimeout"),
		parseDuration(&b.Timeout, raw.Timeout, b.Line, "timeout"),
	); err != nil {
		return err
	}
	b.Breaker.timed(b.Timeout)
	return nil
}

func (s *BackendSign) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain BackendSign
	*s = BackendSign{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(s), &start)
}

func (t *BackendTLS) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain BackendTLS
	*t = BackendTLS{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(t), &start)
}

// parseDuration sets *dst from an attribute value, leaving it alone when
// the attribute was not written.
func parseDuration(dst *time.Duration, raw string, line int, attr string) error {
	if raw == "" {
		return nil
	}
	v, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		return &Error{Line: line, Msg: fmt.Sprintf("%s: %v", attr, err)}
	}
	*dst = v
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// setFile records the configuration file in the position of every element
// the file contains (Line > 0); elements left out keep a zero Pos.
func (c *Config) setFile(file string) {
	set := func(p *Pos) {
		if p.Line > 0 {
			p.File = file
		}
	}
	c.setCredentialFiles(set)
	for _, l := range c.Listeners {
		set(&l.Pos)
		set(&l.TLS.Pos)
		set(&l.Timeouts.Pos)
		set(&l.Connections.Pos)
	}
	set(&c.Admin.Pos)
	set(&c.Audit.Pos)
	set(&c.Lockout.Pos)
	if r := c.RateLimits; r != nil {
		set(&r.Pos)
		if r.Caller != nil {
			set(&r.Caller.Pos)
		}
		if r.Subject != nil {
			set(&r.Subject.Pos)
		}
	}
	set(&c.Limits.Pos)
	if c.Tracing != nil {
		c.Tracing.setFile(set)
	}
	if c.Store != nil {
		set(&c.Store.Pos)
		if c.Store.Redis != nil {
			set(&c.Store.Redis.Pos)
		}
	}
	for _, t := range c.Trust {
		set(&t.Pos)
		for i := range t.CAs {
			set(&t.CAs[i].Pos)
		}
		for i := range t.Certificates {
			set(&t.Certificates[i].Pos)
		}
	}
	if c.Users != nil {
		set(&c.Users.Pos)
	}
	for _, i := range c.SAMLIssuers {
		set(&i.Pos)
	}
	if s := c.STS; s != nil {
		set(&s.Pos)
		set(&s.Directory.Pos)
		set(&s.Authentication.Pos)
		for i := range s.Delegations {
			set(&s.Delegations[i].Pos)
		}
	}
	if c.Policy != nil {
		c.Policy.setFile(set)
	}
	for i := range c.Audit.Files {
		set(&c.Audit.Files[i].Pos)
	}
	if r := c.Audit.RedisStream; r != nil {
		set(&r.Pos)
	}
	for i := range c.Audit.dupStreams {
		set(&c.Audit.dupStreams[i])
	}
	for _, s := range c.Services {
		set(&s.Pos)
		set(&s.Backend.Pos)
		set(&s.Limits.Pos)
		if s.Security != nil {
			set(&s.Security.Pos)
		}
		if s.SAML != nil {
			set(&s.SAML.Pos)
		}
		if s.Backend.TLS != nil {
			set(&s.Backend.TLS.Pos)
		}
		if s.Backend.Sign != nil {
			set(&s.Backend.Sign.Pos)
		}
		set(&s.Backend.Breaker.Pos)
		for i := range s.Schemas {
			set(&s.Schemas[i].Pos)
		}
		if s.WSDL != nil {
			set(&s.WSDL.Pos)
		}
	}
}
