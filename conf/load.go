package conf

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
)

// Load reads the configuration at path, validates it against the
// configuration schema, decodes it, and checks its meaning. On failure the
// error is Errors, listing every problem found with its file and line; on
// success the Config holds compiled schemas and must be closed.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return load(path, data)
}

func load(file string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, Errors{{File: file, Msg: err.Error()}}
	}
	set, err := schemas.CompileEmbedded(SchemaName)
	if err != nil {
		return nil, fmt.Errorf("conf: compile %s: %w", SchemaName, err)
	}
	err = set.Validate(data)
	set.Close()
	if err != nil {
		return nil, schemaErrors(file, Namespace, err)
	}

	cfg, err := decode(file, data)
	if err != nil {
		return nil, err
	}
	cfg.Path = abs
	c := &checker{file: file, dir: filepath.Dir(abs), now: time.Now()}
	c.check(cfg)
	c.sort(c.warnings)
	for _, w := range c.warnings {
		cfg.Warnings = append(cfg.Warnings, w.Error())
	}
	if len(c.errs) > 0 {
		cfg.Close()
		c.sort(c.errs)
		return nil, c.errs
	}
	return cfg, nil
}

// schemaErrors turns a schema validation failure of a document in
// namespace ns into Errors.
func schemaErrors(file, ns string, err error) error {
	var pe *schemas.ParseError
	if errors.As(err, &pe) {
		return Errors{{File: file, Line: pe.Line, Msg: "not well-formed XML: " + strings.TrimSuffix(pe.Message, ".")}}
	}
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("conf: validate %s: %w", file, err)
	}
	errs := make(Errors, 0, len(ve.Problems)+1)
	for _, p := range ve.Problems {
		msg := strings.TrimSuffix(localNames(ns, p.Message), ".")
		errs = append(errs, &Error{File: file, Line: p.Line, Element: localName(ns, p.Element), Msg: msg})
	}
	if ve.Truncated {
		errs = append(errs, &Error{File: file, Msg: "further schema problems not shown"})
	}
	return errs
}

// localName and localNames drop the document's namespace ns from element
// names in libxml2's messages ("{urn:gatehouse:config:1}service" becomes
// "service"); names in any other namespace keep theirs.
func localName(ns, name string) string { return strings.TrimPrefix(name, "{"+ns+"}") }
func localNames(ns, msg string) string { return strings.ReplaceAll(msg, "{"+ns+"}", "") }

// decode reads the validated document into a Config holding the defaults
// for everything the document leaves out.
func decode(file string, data []byte) (*Config, error) {
	cfg := &Config{
		Admin:   Admin{Address: DefaultAdminAddress},
		Audit:   Audit{Stdout: true},
		Lockout: DefaultLockout(),
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(cfg); err != nil {
		var e *Error
		var se *xml.SyntaxError
		switch {
		case errors.As(err, &e):
		case errors.As(err, &se):
			e = &Error{Line: se.Line, Msg: se.Msg}
		default:
			e = &Error{Line: startLine(d), Msg: err.Error()}
		}
		e.File = file
		return nil, Errors{e}
	}
	cfg.setFile(file)
	return cfg, nil
}

// maxResponseBytesMax bounds backend/@maxResponseBytes; the message limits
// have their bounds in checkLimits. Above these a value is more likely a
// typo than a need, and would let one message exhaust the gateway.
const maxResponseBytesMax = 256 << 20

// checker collects every problem in a decoded configuration, and fills in
// what Load resolves: absolute paths, listener references, limits, TLS
// configurations and compiled payload schemas.
type checker struct {
	file     string    // as given to Load, for messages
	dir      string    // absolute directory of the configuration file
	now      time.Time // for certificate expiry
	errs     Errors
	warnings Errors // settings that weaken a check, for Config.Warnings
}

func (c *checker) errorf(p Pos, element, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: p.Line, Element: element, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(p Pos, element, format string, args ...any) {
	c.warnings = append(c.warnings, &Error{File: c.file, Line: p.Line, Element: element, Msg: fmt.Sprintf(format, args...)})
}

// sort orders problems by line: the configuration's first, then those of
// the files it names (the user store, the directory), by file name.
func (c *checker) sort(es Errors) {
	other := func(e *Error) int {
		if e.File == c.file {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(other(a), other(b)), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// resolve makes a path from the configuration absolute, relative to the
// configuration's directory.
func (c *checker) resolve(p string) string {
	switch {
	case p == "":
		return ""
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	}
	return filepath.Join(c.dir, p)
}

func (c *checker) check(cfg *Config) {
	c.checkListeners(cfg.Listeners)
	c.checkAdmin(&cfg.Admin, cfg.Listeners)
	c.checkAudit(cfg)
	c.checkStore(cfg.Store)
	c.checkLockout(&cfg.Lockout)
	c.checkRateLimits(cfg.RateLimits)
	c.checkTracing(cfg.Tracing)
	c.checkTrust(cfg.Trust)
	c.checkUsers(cfg.Users)
	c.checkSAMLIssuers(cfg)
	c.checkLimits(cfg.Limits, "limits")
	cfg.Limits = cfg.Limits.inherit(DefaultLimits())
	c.checkServices(cfg)
	c.checkCredentialMaps(cfg)
	// After the services: the STS's paths must not be theirs, and its
	// delegations name their audiences.
	c.checkSTS(cfg)
	// After the services too: their names are parties of the flow graph.
	c.checkPolicy(cfg)
}

func (c *checker) checkListeners(listeners []*Listener) {
	names := map[string]*Listener{}
	addrs := map[string]*Listener{}
	for _, l := range listeners {
		el := fmt.Sprintf("listener name=%q", l.Name)
		if prev, dup := names[l.Name]; dup {
			c.errorf(l.Pos, el, "duplicate listener name (first at line %d)", prev.Line)
		} else {
			names[l.Name] = l
		}
		if _, err := splitAddress(l.Address); err != nil {
			c.errorf(l.Pos, el, "address %q: %v", l.Address, err)
		} else if prev, dup := addrs[l.Address]; dup && !ephemeralPort(l.Address) {
			c.errorf(l.Pos, el, "address %s is already used by listener %q", l.Address, prev.Name)
		} else {
			addrs[l.Address] = l
		}
		c.checkListenerTLS(l, el+"/tls")
		t := &l.Timeouts
		c.checkDuration(t.Pos, el+"/timeouts", "readHeader", t.ReadHeader)
		c.checkDuration(t.Pos, el+"/timeouts", "read", t.Read)
		c.checkDuration(t.Pos, el+"/timeouts", "write", t.Write)
		c.checkDuration(t.Pos, el+"/timeouts", "idle", t.Idle)
		c.checkConnections(&l.Connections, el+"/connections")
	}
}

func (c *checker) checkListenerTLS(l *Listener, el string) {
	t := &l.TLS
	t.Certificate, t.Key, t.ClientCA = c.resolve(t.Certificate), c.resolve(t.Key), c.resolve(t.ClientCA)
	if t.ClientAuth == "" {
		t.ClientAuth = ClientAuthRequire
	}
	cert, certOK := c.keyPair(t.Pos, el, t.Certificate, t.Key)
	var pool *x509.CertPool
	poolOK := true
	if t.ClientCA != "" {
		pool, poolOK = c.certPool(t.Pos, el, "clientCA", t.ClientCA)
	}
	clientAuth := tls.RequireAndVerifyClientCert
	switch t.ClientAuth {
	case ClientAuthRequire:
		if t.ClientCA == "" {
			c.errorf(t.Pos, el, `clientCA is required unless clientAuth is "insecure-none"`)
			poolOK = false
		}
	case ClientAuthInsecureNone:
		clientAuth = tls.NoClientCert
		c.warnf(t.Pos, el, `clientAuth="insecure-none": clients are not asked for a certificate and are not authenticated by TLS`)
	}
	if certOK && poolOK {
		l.serverTLS = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   clientAuth,
		}
	}
}

// keyPair loads a certificate chain and its private key, reporting
// problems with either file and a key that does not belong to the
// certificate.
func (c *checker) keyPair(p Pos, el, certFile, keyFile string) (tls.Certificate, bool) {
	data, err := readFile(certFile)
	var chain []*x509.Certificate
	if err == nil {
		chain, err = parseCertificates(data)
	}
	if err != nil {
		c.errorf(p, el, "certificate %s: %v", certFile, err)
	}
	data, err = readFile(keyFile)
	var key crypto.Signer
	if err == nil {
		key, err = parsePrivateKey(data)
	}
	if err != nil {
		c.errorf(p, el, "key %s: %v", keyFile, err)
	}
	if chain == nil || key == nil {
		return tls.Certificate{}, false
	}
	if !keysMatch(chain[0], key) {
		c.errorf(p, el, "key %s does not match certificate %s", keyFile, certFile)
		return tls.Certificate{}, false
	}
	return tlsCertificate(chain, key), true
}

// certPool loads a CA bundle; it must hold at least one certificate.
func (c *checker) certPool(p Pos, el, attr, file string) (*x509.CertPool, bool) {
	data, err := readFile(file)
	var certs []*x509.Certificate
	if err == nil {
		certs, err = parseCertificates(data)
	}
	if err != nil {
		c.errorf(p, el, "%s %s: %v", attr, file, err)
		return nil, false
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, true
}

func (c *checker) checkDuration(p Pos, el, attr string, d time.Duration) {
	if d <= 0 {
		c.errorf(p, el, "%s must be greater than 0", attr)
	}
}

func (c *checker) checkAdmin(a *Admin, listeners []*Listener) {
	host, err := splitAddress(a.Address)
	if err != nil {
		c.errorf(a.Pos, "admin", "address %q: %v", a.Address, err)
		return
	}
	for _, l := range listeners {
		if l.Address == a.Address && !ephemeralPort(a.Address) {
			c.errorf(a.Pos, "admin", "address %s is already used by listener %q", a.Address, l.Name)
		}
	}
	if isLoopback(host) {
		return
	}
	if !a.InsecureNonLoopback {
		c.errorf(a.Pos, "admin", `address %s is not a loopback address; set insecureNonLoopback="true" to serve health and metrics beyond this host`, a.Address)
		return
	}
	c.warnf(a.Pos, "admin", `insecureNonLoopback="true": the admin listener on %s is reachable beyond this host`, a.Address)
}

// isLoopback reports whether a listen host is certainly local: a loopback
// IP literal or "localhost". The empty host means every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkLimits checks the values a limits element sets (0 = not set).
func (c *checker) checkLimits(l Limits, el string) {
	for _, v := range []struct {
		attr string
		val  int64
		max  int64
	}{
		{"maxBytes", l.MaxBytes, 64 << 20},
		{"maxDepth", int64(l.MaxDepth), 1024},
		{"maxAttributes", int64(l.MaxAttributes), 1024},
		{"maxNameLength", int64(l.MaxNameLength), 4096},
		{"maxNamespaces", int64(l.MaxNamespaces), 1024},
		{"maxTextBytes", l.MaxTextBytes, 64 << 20},
		{"maxElements", int64(l.MaxElements), 1 << 20},
	} {
		switch {
		case v.val < 0:
			c.errorf(l.Pos, el, "%s must be greater than 0", v.attr)
		case v.val > v.max:
			c.errorf(l.Pos, el, "%s %d is above the maximum of %d", v.attr, v.val, v.max)
		}
	}
}

// resolveListener checks the listener an element names, or fills it in
// when there is only one listener.
func (c *checker) resolveListener(cfg *Config, p Pos, el string, name *string) bool {
	switch {
	case *name != "":
		var names []string
		for _, l := range cfg.Listeners {
			if l.Name == *name {
				return true
			}
			if !slices.Contains(names, l.Name) {
				names = append(names, l.Name)
			}
		}
		c.errorf(p, el, "unknown listener %q (listeners: %s)", *name, strings.Join(names, ", "))
		return false
	case len(cfg.Listeners) == 1:
		*name = cfg.Listeners[0].Name
		return true
	}
	c.errorf(p, el, "listener attribute is required when there is more than one listener")
	return false
}

func (c *checker) checkServices(cfg *Config) {
	type route struct{ listener, path string }
	routes := map[route]*Service{}
	names := map[string]*Service{}
	audiences := map[string]*Service{}
	for _, s := range cfg.Services {
		el := fmt.Sprintf("service name=%q", s.Name)
		if prev, dup := names[s.Name]; dup {
			c.errorf(s.Pos, el, "duplicate service name (first at line %d)", prev.Line)
		} else {
			names[s.Name] = s
		}

		pathOK := c.checkURLPath(s.Pos, el, "path", s.Path)
		listenerOK := c.resolveListener(cfg, s.Pos, el, &s.Listener)
		if pathOK && listenerOK {
			r := route{s.Listener, s.Path}
			if prev, dup := routes[r]; dup {
				c.errorf(s.Pos, el, "path %s on listener %q is already served by service %q (line %d)", s.Path, s.Listener, prev.Name, prev.Line)
			} else {
				routes[r] = s
			}
		}

		for i, v := range s.SOAPVersions {
			if slices.Contains(s.SOAPVersions[:i], v) {
				c.errorf(s.Pos, el, "soapVersions lists %s twice", v)
			}
		}

		if s.Composite != nil {
			s.Composite.Definition = c.resolve(s.Composite.Definition)
			if err := checkReadable(s.Composite.Definition); err != nil {
				c.errorf(s.Composite.Pos, el+"/composite", "%v", err)
			}
			if s.Credentials != nil {
				c.errorf(s.Credentials.Pos, el+"/credentials", "a composite has no backend of its own to present credentials to (its steps' services do)")
			}
		} else {
			c.checkBackend(&s.Backend, el+"/backend")
			c.checkPlaintext(s, el+"/backend")
		}
		if s.Security != nil {
			c.checkSecurity(cfg, s.Security, el+"/security")
		}
		if s.SAML != nil {
			c.checkSAML(cfg, s, audiences, el+"/saml")
		}
		if s.Addressing != nil {
			c.checkAddressing(s.Addressing, el+"/addressing")
		}
		if s.Propagate != nil {
			c.checkPropagation(cfg, s, el+"/propagate")
		}
		c.checkLimits(s.Limits, el+"/limits")
		s.Limits = s.Limits.inherit(cfg.Limits)
		if s.WSDL != nil {
			c.loadWSDL(cfg, s, el+"/wsdl")
		} else {
			c.compileSchemas(s, el+"/schema")
		}
	}
}

// loadWSDL reads a service's WSDL port and compiles its schemas. The
// WSDL and everything it imports must be inside the configuration's
// directory tree; a problem is reported at its file and line in the WSDL.
func (c *checker) loadWSDL(cfg *Config, s *Service, el string) {
	w := s.WSDL
	w.Path = c.resolve(w.Path)
	switch err := checkReadable(w.Path); {
	case !within(c.dir, w.Path):
		c.errorf(w.Pos, el, "file %s is outside the configuration directory %s", w.Path, c.dir)
		return
	case err != nil:
		c.errorf(w.Pos, el, "file %s: %v", w.Path, err)
		return
	}
	if w.PublicURL != "" {
		u, err := url.Parse(w.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			c.errorf(w.Pos, el, "publicURL %q is not an absolute http(s) URL without user information, query or fragment", w.PublicURL)
		}
	}
	contracts, err := wsdl.LoadPorts(w.Path, w.Service, w.Ports)
	if err != nil {
		var we *wsdl.Error
		if errors.As(err, &we) {
			c.errs = append(c.errs, &Error{File: we.File, Line: we.Line, Element: el, Msg: we.Msg})
		} else {
			c.errorf(w.Pos, el, "%v", err)
		}
		return
	}
	// The WSDL's ports say which SOAP versions the service speaks.
	var have []string
	for _, ct := range contracts {
		have = append(have, ct.Version.String())
	}
	if !s.soapVersionsSet {
		s.SOAPVersions = have
	} else {
		for _, v := range s.SOAPVersions {
			if !slices.Contains(have, v) {
				c.errorf(s.Pos, strings.TrimSuffix(el, "/wsdl"), "soapVersions lists %s, but the service's WSDL ports are bound to SOAP %s only", v, strings.Join(have, " and "))
			}
		}
	}
	set, err := wsdl.Schemas(contracts...)
	if err != nil {
		var ce *schemas.CompileError
		if !errors.As(err, &ce) {
			c.errorf(w.Pos, el, "%v", err)
			return
		}
		for _, p := range ce.Problems {
			file := strings.TrimPrefix(p.File, "file://")
			if i := strings.Index(file, "?schema="); i >= 0 {
				file = file[:i] // an inline schema: its line is the WSDL's
			}
			if file == "" {
				file = w.Path
			}
			c.errs = append(c.errs, &Error{File: file, Line: p.Line, Element: el, Msg: p.Message})
		}
		return
	}
	w.contracts, s.payloadSchema = contracts, set
	// Operations with the same policy (most share their binding's) are
	// checked, and reported, together.
	type policyOf struct {
		ops []string
		p   *wsdl.SecurityPolicy
	}
	var policies []*policyOf
	byKey := map[string]*policyOf{}
	for _, ct := range contracts {
		for _, op := range ct.Operations {
			if op.Policy == nil {
				continue
			}
			key := fmt.Sprintf("%s:%d %s", op.Policy.File, op.Policy.Line, op.Policy)
			if byKey[key] == nil {
				byKey[key] = &policyOf{p: op.Policy}
				policies = append(policies, byKey[key])
			}
			if po := byKey[key]; !slices.Contains(po.ops, op.Name) {
				po.ops = append(po.ops, op.Name)
			}
		}
	}
	for _, po := range policies {
		c.checkWSDLPolicy(cfg, s, strings.Join(po.ops, ", "), po.p, el)
	}
}

// checkWSDLPolicy refuses a service whose configuration cannot meet the
// WS-SecurityPolicy its WSDL attaches to an operation (the gateway checks
// each request against the policy; this makes sure the keys, users and
// token policies it needs are there and no weaker setting is implied).
func (c *checker) checkWSDLPolicy(cfg *Config, s *Service, ops string, p *wsdl.SecurityPolicy, el string) {
	at := fmt.Sprintf("the policy of %s (%s:%d)", ops, p.File, p.Line)
	sec := s.Security
	signed := p.Binding == "AsymmetricBinding" || p.SignBody || len(p.SignedHeaders) > 0
	endorsingSAML := false
	for _, t := range p.Tokens {
		signed = signed || t.Signed || t.Kind == "X509Token"
		endorsingSAML = endorsingSAML || (t.Kind == "SamlToken" && t.Endorsing)
	}
	if (p.EncryptBody || len(p.EncryptedHeaders) > 0) && (sec == nil || len(sec.DecryptionKeys) == 0) {
		c.errorf(s.WSDL.Pos, el, "%s requires encrypted parts (EncryptedParts): add <decryptionKey certificate=\"…\" key=\"…\"/> to <security>", at)
	}
	message := signed || p.Timestamp || len(p.Tokens) > 0 || p.Layout != ""
	if message && sec == nil && s.SAML == nil {
		c.errorf(s.WSDL.Pos, el, "%s needs the Security header processed: add <security>", at)
		return
	}
	if signed && (sec == nil || sec.Trust == "") && !endorsingSAML {
		c.errorf(s.WSDL.Pos, el, "%s requires an X.509 signature: add <security trust=\"…\"> naming the signers' trust store", at)
	}
	if p.SHA1 && (sec == nil || !sec.InsecureAllowSHA1) {
		c.errorf(s.WSDL.Pos, el, "%s: algorithm suite %s signs and digests with SHA-1, which Gatehouse refuses unless <security insecureAllowSHA1=\"true\">", at, p.AlgorithmSuite)
	}
	if p.InclusiveC14N && (sec == nil || !sec.InsecureAllowNonBSP) {
		c.errorf(s.WSDL.Pos, el, "%s: the algorithm suite asks for inclusive C14N, which WS-I BSP forbids: Gatehouse refuses it unless <security insecureAllowNonBSP=\"true\">", at)
	}
	if p.ClientCertificate {
		for _, l := range cfg.Listeners {
			if l.Name == s.Listener && l.TLS.ClientAuth == ClientAuthInsecureNone {
				c.errorf(s.WSDL.Pos, el, "%s requires a client certificate (HttpsToken RequireClientCertificate), but listener %q has clientAuth=\"insecure-none\"", at, l.Name)
			}
		}
	}
	for _, t := range p.Tokens {
		switch t.Kind {
		case "SamlToken":
			if s.SAML == nil {
				c.errorf(s.WSDL.Pos, el, "%s requires a SAML token: add <saml>", at)
				continue
			}
			if !s.SAML.Required {
				c.errorf(s.WSDL.Pos, el, "%s requires a SAML token, but <saml required=\"false\">", at)
			}
			if t.SAMLVersion != "" && !slices.Contains(s.SAML.Versions, t.SAMLVersion) {
				c.errorf(s.WSDL.Pos, el, "%s requires a SAML %s token, but <saml versions=%q>", at, t.SAMLVersion, strings.Join(s.SAML.Versions, " "))
			}
			if t.Endorsing && !slices.Contains(s.SAML.Confirmation, ConfirmationHolderOfKey) {
				c.errorf(s.WSDL.Pos, el, "%s requires an endorsing SAML token (holder-of-key), but <saml confirmation> does not accept holderOfKey", at)
			}
		case "UsernameToken":
			if sec == nil || cfg.Users == nil {
				c.errorf(s.WSDL.Pos, el, "%s requires a UsernameToken: add <security> and a <users> store", at)
			}
		}
	}
}

// checkURLPath checks that a path attribute (a service's or the STS's) is
// an absolute, clean URL path.
func (c *checker) checkURLPath(p Pos, el, attr, v string) bool {
	switch {
	case !strings.HasPrefix(v, "/"):
		c.errorf(p, el, "%s %q must start with /", attr, v)
	case strings.ContainsAny(v, "?#"):
		c.errorf(p, el, "%s %q must not contain a query or fragment", attr, v)
	case path.Clean(v) != v:
		c.errorf(p, el, "%s %q is not clean (want %q)", attr, v, path.Clean(v))
	default:
		return true
	}
	return false
}

func (c *checker) checkBackend(b *Backend, el string) {
	u, err := url.Parse(b.rawURL)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.errorf(b.Pos, el, "url is not a valid URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(b.Pos, el, "url %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		c.errorf(b.Pos, el, "url %q has no host", u.Redacted())
	case u.User != nil:
		// Credentials for a backend come from a credential map, never
		// from a URL that ends up in logs.
		c.errorf(b.Pos, el, "url %q must not contain user information", u.Redacted())
	case u.Fragment != "":
		c.errorf(b.Pos, el, "url %q must not have a fragment", u.Redacted())
	default:
		b.URL = u
	}
	c.checkDuration(b.Pos, el, "connectTimeout", b.ConnectTimeout)
	c.checkDuration(b.Pos, el, "timeout", b.Timeout)
	if b.MaxResponseBytes > maxResponseBytesMax {
		c.errorf(b.Pos, el, "maxResponseBytes %d is above the maximum of %d", b.MaxResponseBytes, maxResponseBytesMax)
	}
	c.checkBulkhead(b, el)

	https := b.URL != nil && b.URL.Scheme == "https"
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	ok := true
	if t := b.TLS; t != nil {
		tel := el + "/tls"
		if b.URL != nil && !https {
			c.errorf(t.Pos, tel, "tls is only allowed with an https url")
		}
		t.CA, t.Certificate, t.Key = c.resolve(t.CA), c.resolve(t.Certificate), c.resolve(t.Key)
		if t.CA != "" {
			// Without a ca the system roots apply (RootCAs nil).
			cfg.RootCAs, ok = c.certPool(t.Pos, tel, "ca", t.CA)
		}
		switch {
		case t.Certificate != "" && t.Key != "":
			cert, certOK := c.keyPair(t.Pos, tel, t.Certificate, t.Key)
			cfg.Certificates = []tls.Certificate{cert}
			ok = ok && certOK
		case t.Certificate != "" || t.Key != "":
			c.errorf(t.Pos, tel, "certificate and key must be given together")
		}
		cfg.ServerName = t.ServerName
	}
	if https && ok {
		b.clientTLS = cfg
	}
	if sg := b.Sign; sg != nil {
		sg.Certificate, sg.Key = c.resolve(sg.Certificate), c.resolve(sg.Key)
		if cert, ok := c.keyPair(sg.Pos, el+"/sign", sg.Certificate, sg.Key); ok {
			b.signing = &cert
		}
	}
	if e := b.Encrypt; e != nil {
		e.Certificate = c.resolve(e.Certificate)
		eel := el + "/encrypt"
		data, err := readFile(e.Certificate)
		var certs []*x509.Certificate
		if err == nil {
			certs, err = parseCertificates(data)
		}
		switch {
		case err != nil:
			c.errorf(e.Pos, eel, "certificate %s: %v", e.Certificate, err)
		case len(certs) != 1:
			c.errorf(e.Pos, eel, "certificate %s holds %d certificates: name the backend's one", e.Certificate, len(certs))
		default:
			if _, isRSA := certs[0].PublicKey.(*rsa.PublicKey); !isRSA {
				c.errorf(e.Pos, eel, "certificate %s has a %T key: key transport is RSA-OAEP", e.Certificate, certs[0].PublicKey)
			} else {
				e.cert = certs[0]
			}
		}
	}
	c.checkBreaker(&b.Breaker, b.Timeout, el+"/breaker")
}

// checkPlaintext refuses an http backend that would receive secrets: the
// service's mapped credentials (passwords, PassTickets), or, for a SAML
// service, the bearer assertion a composite's hop to it carries. Anyone on
// the path could read and replay them. insecurePlaintext="true" allows it,
// with a warning.
func (c *checker) checkPlaintext(s *Service, el string) {
	b := &s.Backend
	if b.URL == nil { // refused by checkBackend
		return
	}
	if b.URL.Scheme != "http" {
		if b.InsecurePlaintext {
			c.errorf(b.Pos, el, `insecurePlaintext="true" is only for an http url, not %q`, b.URL.Redacted())
		}
		return
	}
	var secrets string
	switch {
	case s.Credentials != nil:
		secrets = "calls to it carry mapped credentials (passwords or PassTickets)"
	case s.Propagate != nil && s.Propagate.As == PropagateAssertion:
		secrets = "calls to it carry a bearer assertion (propagate)"
	case s.Propagate != nil:
		secrets = "calls to it carry the caller's identity in headers (propagate)"
	case s.SAML != nil:
		secrets = "a composite's hop to this SAML service carries a bearer assertion"
	}
	switch {
	case secrets != "" && !b.InsecurePlaintext:
		c.errorf(b.Pos, el, `url %q is plaintext http, and %s; use https, or set insecurePlaintext="true"`, b.URL.Redacted(), secrets)
	case secrets != "":
		c.warnf(b.Pos, el, `insecurePlaintext="true": url %q is plaintext http, and %s`, b.URL.Redacted(), secrets)
	case b.InsecurePlaintext:
		c.warnf(b.Pos, el, `insecurePlaintext="true": calls to %s go in plaintext`, b.URL.Redacted())
	}
}

// compileSchemas checks a service's payload schema files and compiles
// them into one set. Imports and includes may reach only files inside the
// configuration's directory tree.
func (c *checker) compileSchemas(s *Service, el string) {
	ok := true
	seen := map[string]bool{}
	for i := range s.Schemas {
		sc := &s.Schemas[i]
		sc.Path = c.resolve(sc.Path)
		switch err := checkReadable(sc.Path); {
		case !within(c.dir, sc.Path):
			c.errorf(sc.Pos, el, "file %s is outside the configuration directory %s", sc.Path, c.dir)
		case err != nil:
			c.errorf(sc.Pos, el, "file %s: %v", sc.Path, err)
		case seen[sc.Path]:
			c.errorf(sc.Pos, el, "file %s is listed twice", sc.Path)
		default:
			seen[sc.Path] = true
			continue
		}
		ok = false
	}
	if !ok || len(s.Schemas) == 0 {
		return
	}
	set, err := schemas.CompileFiles(s.SchemaFiles(), schemas.CompileOptions{AllowedDirs: []string{c.dir}})
	if err == nil {
		s.payloadSchema = set
		return
	}
	var ce *schemas.CompileError
	if !errors.As(err, &ce) {
		c.errorf(s.Schemas[0].Pos, el, "%v", err)
		return
	}
	// Each problem names the schema document it is in: report it at that
	// document's <schema> element, or at the first one when the document is
	// reached through an import or include.
	for _, p := range ce.Problems {
		at := s.Schemas[0].Pos
		for _, sc := range s.Schemas {
			if sameFile(p.File, sc.Path) {
				at = sc.Pos
				break
			}
		}
		c.errorf(at, el, "%s", p)
	}
	if ce.Truncated {
		c.errorf(s.Schemas[0].Pos, el, "further schema compilation problems not shown")
	}
}

// sameFile reports whether a path from the schemas package names the
// configured file path, which may differ by symbolic links.
func sameFile(reported, configured string) bool {
	if reported == configured {
		return true
	}
	resolved, err := filepath.EvalSymlinks(configured)
	return err == nil && reported == resolved
}

// within reports whether path lies inside dir (both absolute and clean).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// splitAddress checks a host:port address with a numeric port and returns
// its host.
// ephemeralPort reports whether addr asks the kernel for a free port (port
// 0, as tests do); two such addresses never collide.
func ephemeralPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

func splitAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", errors.New("want host:port")
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return host, nil
}

// Close releases the compiled payload schemas. The Config must not be used
// for validation afterwards.
func (c *Config) Close() {
	for _, s := range c.Services {
		if s.payloadSchema != nil {
			s.payloadSchema.Close()
			s.payloadSchema = nil
		}
	}
}

// Summary is the one line `gatehouse check-config` prints for a valid
// configuration.
func (c *Config) Summary() string {
	sum := fmt.Sprintf("config OK: %s, %s, admin %s, %s, %s, %s, %s",
		plural(len(c.Listeners), "listener"), plural(len(c.Services), "service"), c.Admin.Address,
		storeSummary(c.Store), plural(len(c.Trust), "trust store"), plural(len(c.Users.entries()), "user"),
		plural(len(c.SAMLIssuers), "SAML issuer"))
	if c.STS != nil {
		sum += fmt.Sprintf(", STS at %s (%s)", c.STS.Path, plural(len(c.STS.Directory.entries()), "subject"))
	}
	if p := c.Policy; p != nil {
		sum += fmt.Sprintf(", policy (%s, %s, %s, %s)", plural(len(p.Consumers), "consumer"), plural(len(p.Composites), "composite"),
			plural(len(p.Flows), "flow"), plural(len(p.Rules), "rule"))
	}
	for _, s := range c.Services {
		for _, ct := range s.Contracts() {
			var ops []string
			for _, op := range ct.Operations {
				ops = append(ops, op.Name)
			}
			sum += fmt.Sprintf("\nservice %s: WSDL %s port %s (SOAP %v): %s", s.Name, filepath.Base(ct.File), ct.Port, ct.Version, strings.Join(ops, ", "))
			for _, op := range ct.Operations {
				if op.Policy != nil {
					sum += fmt.Sprintf("\n  %s: policy %s", op.Name, op.Policy)
				}
			}
		}
	}
	return sum
}

func plural(n int, noun string) string {
	switch {
	case n == 1:
		return "1 " + noun
	case strings.HasSuffix(noun, "s"):
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
