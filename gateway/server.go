package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/authz"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/orchestration"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// Options are what the caller of New supplies besides the configuration.
type Options struct {
	// Logger receives operational logs; slog.Default() when nil.
	Logger *slog.Logger
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
}

// Gateway is a running Gatehouse built from one configuration.
type Gateway struct {
	cfg     *conf.Config
	log     *slog.Logger
	now     func() time.Time
	audit   *audit.Log
	metrics *metrics
	tracing *tracing // nil: tracing off (tracing.go)

	store          store.Store
	policy         *authz.Policy
	rates          *rateLimits
	refusals       *refusalMemo // recent store refusals: load shedding before the body
	credMaps       map[string]*credentialMap
	services       map[string]*service // by name, for composite hops
	hopIssuer      *samlsts.Issuer     // the STS's issuer, for per-hop assertions; nil without an STS
	auditSinks     []audit.Sink
	envelopeSchema map[soap.Version]*schemas.Set
	// identityHeaders are removed from every inbound request.
	identityHeaders []string
	ownSchemas      []*schemas.Set // compiled here (not by conf), closed at shutdown
	listeners       []*listener
	admin           *http.Server
	adminLn         net.Listener
	ready           atomic.Bool
	// closing is set by BeginShutdown: responses close their connections.
	closing  atomic.Bool
	drain    drain // the transactions in flight (shutdown.go)
	serveErr chan error
	wg       sync.WaitGroup
	// stopWatch ends the certificate file watch (rotation.go); nil: none.
	stopWatch func()
}

// listener is one compiled SOAP listener with its routing table.
type listener struct {
	name     string
	cfg      *conf.Listener
	services map[string]*service // by exact path
	// metadataPath serves the STS's SAML metadata (GET) when set.
	metadataPath string
	metadata     []byte
	server       *http.Server
	ln           net.Listener
	gw           *Gateway
	// certs serves the listener's certificate and client CAs and reloads
	// them (rotation.go); nil without TLS.
	certs *certReloader
}

// service is the compiled runtime form of a conf.Service.
type service struct {
	name        string
	limits      soap.Limits
	versions    map[soap.Version]bool
	versionList []string
	payload     *schemas.Set
	backend     *backend
	guard       *guard
	creds       *serviceCredentials // nil: no legacy credentials
	anonymousOK bool
	// contracts are the service's WSDL ports by SOAP version, nil when it
	// has no WSDL; publicURL the address its published copy names (empty:
	// endpoints[0]).
	// decrypter decrypts what consumers encrypted (nil: the service has
	// no decryption key); encryptedParts must have arrived encrypted.
	decrypter         *xmlenc.Decrypter
	encryptedParts    []conf.SignedPart
	encryptResponses  bool
	contracts         map[soap.Version]*wsdl.Contract
	publicURL         string
	validateResponses bool
	published         published
	// endpoints are the URLs a request's wsa:To may name (and a bearer
	// assertion's Recipient); allowReplyTo lets ReplyTo/FaultTo name
	// other than the anonymous and none URIs.
	endpoints    []string
	allowReplyTo bool
	// propagate says how the backend learns the identity; nil: it does not.
	propagate *conf.Propagation
	// actor is the actor/role URI of Gatehouse's Security header.
	actor string
	// verifier is nil for a service without a <security> or <saml> policy.
	verifier *wssec.Verifier
	// saml is nil for a service without a <saml> policy.
	saml         *samlsts.Verifier
	samlRequired bool
	// sts is set for the STS endpoint, which answers itself (no backend).
	sts *samlsts.STS
	// composite is set for a composite service, which runs its definition
	// instead of calling one backend.
	composite *orchestration.Composite
}

// New compiles cfg into a gateway. It does not listen yet; see Start.
func New(cfg *conf.Config, opts Options) (*Gateway, error) {
	g := &Gateway{
		cfg:      cfg,
		log:      opts.Logger,
		now:      opts.Clock,
		metrics:  newMetrics(),
		serveErr: make(chan error, 8),
		drain:    drain{txs: map[*transaction]struct{}{}},
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	for _, w := range cfg.Warnings {
		g.log.Warn("insecure setting", "where", w)
	}
	tr, err := newTracing(cfg.Tracing)
	if err != nil {
		return nil, err
	}
	g.tracing = tr
	if tr != nil {
		g.log.Info("tracing", "endpoint", cfg.Tracing.Endpoint, "sampling", cfg.Tracing.Sampling)
	}

	// The envelope schema of each version, with the schemas of the header
	// blocks Gatehouse processes, so that their content (laxly reached
	// from the envelope's open Header) is validated too, xsi:type values
	// included.
	headers := []string{schemas.WSSecext10, schemas.WSUtility10, schemas.WSSecext11, schemas.XMLDSig, schemas.XMLEnc11,
		schemas.SAML20, schemas.SAMLDelegation, schemas.SAML11, schemas.WSAddressing}
	g.envelopeSchema = map[soap.Version]*schemas.Set{}
	for v, name := range map[soap.Version]string{soap.V11: schemas.SOAP11Envelope, soap.V12: schemas.SOAP12Envelope} {
		set, err := schemas.CompileEmbedded(append([]string{name}, headers...)...)
		if err != nil {
			return g.fail(fmt.Errorf("gateway: compile %s: %w", name, err))
		}
		g.envelopeSchema[v] = set
	}

	var sinks []audit.Sink
	if cfg.Audit.Stdout {
		sinks = append(sinks, audit.Stdout())
	}
	for _, f := range cfg.Audit.Files {
		s, err := audit.FileWithOptions(f.Path, audit.FileOptions{
			SyncEvery: f.SyncEvery, SyncInterval: f.SyncInterval, MaxBytes: f.MaxBytes, MaxBackups: f.MaxBackups,
		})
		if err != nil {
			g.auditSinks = sinks
			return g.fail(err)
		}
		sinks = append(sinks, s)
	}
	g.auditSinks = sinks

	policy, err := authz.Compile(cfg.Policy)
	if err != nil {
		return g.fail(fmt.Errorf("gateway: policy: %w", err))
	}
	g.policy = policy
	if cfg.Policy == nil {
		g.log.Warn("no <policy> configured: every service call is denied (default deny)")
	}
	users, err := newUsers(cfg)
	if err != nil {
		return g.fail(err)
	}
	if g.store, err = newStore(cfg, g.log, g.now, g.metrics); err != nil {
		return g.fail(err)
	}
	// The Redis stream sink needs the store's client.
	if rs := cfg.Audit.RedisStream; rs != nil {
		c := g.redisClient()
		if c == nil {
			return g.fail(errors.New("gateway: audit redisStream needs a Redis store"))
		}
		g.auditSinks = append(g.auditSinks, audit.RedisStream(c, rs.Stream, rs.MaxLen, cfg.Store.Redis.Timeout))
	}
	g.audit = audit.New(g.auditSinks...)
	g.audit.OnError = func(err error) {
		g.metrics.auditErrors.Inc()
		g.log.Error("audit write failed", "err", err)
	}

	g.rates = g.newRateLimits(cfg)
	g.refusals = newRefusalMemo()
	cmaps, err := newCredentialMaps(cfg)
	if err != nil {
		return g.fail(err)
	}
	g.credMaps = cmaps
	g.identityHeaders = cfg.IdentityHeaders()
	g.services = map[string]*service{}

	byName := map[string]*listener{}
	for _, lc := range cfg.Listeners {
		l := &listener{name: lc.Name, cfg: lc, services: map[string]*service{}, gw: g}
		byName[lc.Name] = l
		g.listeners = append(g.listeners, l)
	}
	for _, h := range heldCertificates(cfg) {
		g.metrics.certNotAfter.WithLabelValues(h.kind, h.name, subjectOf(h.cert)).Set(float64(h.cert.NotAfter.Unix()))
	}
	for _, sc := range cfg.Services {
		l := byName[sc.Listener]
		if l == nil {
			return g.fail(fmt.Errorf("gateway: service %s names unknown listener %q", sc.Name, sc.Listener))
		}
		s := &service{
			name:        sc.Name,
			limits:      soapLimits(sc.Limits),
			versions:    map[soap.Version]bool{},
			versionList: sc.SOAPVersions,
			payload:     sc.PayloadSchema(),
			contracts:   contractsByVersion(sc.Contracts()),
			anonymousOK: l.cfg.TLS.ClientAuth == conf.ClientAuthInsecureNone,
			propagate:   sc.Propagate,
		}
		if sc.WSDL != nil {
			s.publicURL, s.validateResponses = sc.WSDL.PublicURL, sc.WSDL.ValidateResponses
		}
		if a := sc.Addressing; a != nil {
			s.allowReplyTo = a.AllowReplyTo
			if len(a.Endpoints) > 0 {
				s.endpoints = a.Endpoints
			}
		}
		if sc.Propagate != nil && sc.Propagate.As == conf.PropagateAssertion && cfg.STS == nil {
			return g.fail(fmt.Errorf("gateway: service %s: propagating the identity as an assertion needs <sts>", sc.Name))
		}
		if sc.Composite == nil {
			s.backend = newBackend(&sc.Backend, g.now)
			if s.guard, err = g.newGuard(sc.Name, &sc.Backend); err != nil {
				return g.fail(err)
			}
		}
		g.services[sc.Name] = s
		if c := sc.Credentials; c != nil {
			s.creds = &serviceCredentials{cm: cmaps[c.Map], render: c.Render, header: c.Header}
			if c.Render == "usernameToken" && s.backend != nil && s.backend.signer != nil {
				return g.fail(fmt.Errorf("gateway: service %s: a UsernameToken credential and backend signing in one Security header are not supported yet", sc.Name))
			}
		}
		if sc.Security != nil {
			s.actor = sc.Security.Actor
			s.verifier = newVerifier(cfg, sc.Security, users, g.now)
			s.encryptResponses = sc.Security.EncryptResponses
			if len(sc.Security.DecryptionKeys) > 0 {
				d := &xmlenc.Decrypter{AllowCBC: sc.Security.InsecureAllowCBC, Limits: s.limits}
				for i := range sc.Security.DecryptionKeys {
					cert, key := sc.Security.DecryptionKeys[i].KeyPair()
					d.Keys = append(d.Keys, xmlenc.KeyPair{Certificate: cert, Key: key})
				}
				s.decrypter, s.encryptedParts = d, sc.Security.EncryptedParts
			}
		}
		if sc.SAML != nil {
			s.saml, s.samlRequired = newSAMLVerifier(cfg, sc.SAML, s.endpoints, g.now), sc.SAML.Required
			if c := s.saml.Cache; c != nil {
				hits := g.metrics.assertionCache.WithLabelValues(sc.Name, "hit")
				misses := g.metrics.assertionCache.WithLabelValues(sc.Name, "miss")
				c.Observe = func(hit bool) {
					if hit {
						hits.Inc()
					} else {
						misses.Inc()
					}
				}
			}
			if s.verifier == nil {
				// No WS-Security policy: still read the Security header
				// that carries the assertion (and check what it holds).
				s.verifier = &wssec.Verifier{Users: users, Clock: g.now}
			}
			// A signature may name its key through the service's SAML
			// assertion (holder-of-key, STR #SAMLID): samlsts verifies it.
			s.verifier.TokenKeys = s.saml
		}
		for _, vs := range sc.SOAPVersions {
			v, err := soap.ParseVersion(vs)
			if err != nil {
				return nil, fmt.Errorf("gateway: service %s: %w", sc.Name, err)
			}
			s.versions[v] = true
		}
		l.services[sc.Path] = s
	}
	// Composites last: their definitions name the other services.
	for _, sc := range cfg.Services {
		if sc.Composite == nil {
			continue
		}
		c, err := orchestration.Load(sc.Composite.Definition, catalog{g.services})
		if err != nil {
			return g.fail(fmt.Errorf("gateway: service %s: %w", sc.Name, err))
		}
		g.metrics.observe(c)
		g.services[sc.Name].composite = c
	}
	if cfg.STS != nil {
		if err := g.addSTS(cfg, byName, users); err != nil {
			return g.fail(err)
		}
	}
	// A hop to a SAML-protected service (one whose credentials are not
	// mapped here) carries an assertion the STS mints.
	for _, sc := range cfg.Services {
		c := g.services[sc.Name].composite
		if c == nil || g.hopIssuer != nil {
			continue
		}
		for _, cs := range c.Calls() {
			if g.services[cs.Service].wantsHopAssertion() {
				return g.fail(fmt.Errorf("gateway: service %s: composite %s calls %s, which wants a SAML assertion; configure <sts> to issue the hops' assertions", sc.Name, c.Name(), cs.Service))
			}
		}
	}
	return g, nil
}

func contractsByVersion(cs []*wsdl.Contract) map[soap.Version]*wsdl.Contract {
	if cs == nil {
		return nil
	}
	m := map[soap.Version]*wsdl.Contract{}
	for _, c := range cs {
		m[c.Version] = c
	}
	return m
}

// endpoints are the default URLs of a service at path on this listener,
// bound to addr: https:// with the configured and the bound address, and
// with each DNS name of the listener's certificate and the port (the names
// a client that verifies the certificate can use), then path.
func (l *listener) endpoints(path string, addr net.Addr) []string {
	tc := l.cfg.ServerTLSConfig()
	scheme := "https"
	if tc == nil {
		scheme = "http"
	}
	var urls []string
	add := func(hostport string) {
		if u := scheme + "://" + hostport + path; !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if _, port, err := net.SplitHostPort(l.cfg.Address); err == nil && port != "0" {
		add(l.cfg.Address)
	}
	add(addr.String())
	_, port, err := net.SplitHostPort(addr.String())
	if err == nil && tc != nil && len(tc.Certificates) > 0 && tc.Certificates[0].Leaf != nil {
		for _, name := range tc.Certificates[0].Leaf.DNSNames {
			add(net.JoinHostPort(name, port))
		}
	}
	return urls
}

// addSTS routes the STS endpoint and its metadata on their listener.
func (g *Gateway) addSTS(cfg *conf.Config, byName map[string]*listener, users *wssec.Users) error {
	sc := cfg.STS
	l := byName[sc.Listener]
	if l == nil {
		return fmt.Errorf("gateway: sts names unknown listener %q", sc.Listener)
	}
	sts, md, err := newSTS(cfg, g.store, g.now)
	if err != nil {
		return err
	}
	g.hopIssuer = sts.Issuer
	payload, err := schemas.CompileEmbedded(schemas.WSTrust13)
	if err != nil {
		return fmt.Errorf("gateway: compile WS-Trust schema: %w", err)
	}
	g.ownSchemas = append(g.ownSchemas, payload)
	vr := &wssec.Verifier{Clock: g.now}
	if sc.Authentication.UsernameToken {
		vr.Users = users
	}
	l.services[sc.Path] = &service{
		name:        "sts",
		limits:      soapLimits(cfg.Limits),
		versions:    map[soap.Version]bool{soap.V11: true, soap.V12: true},
		versionList: []string{"1.1", "1.2"},
		payload:     payload,
		anonymousOK: false,
		verifier:    vr,
		sts:         sts,
	}
	l.metadataPath, l.metadata = sc.MetadataPath, md
	return nil
}

func soapLimits(l conf.Limits) soap.Limits {
	return soap.Limits{
		MaxBytes:      l.MaxBytes,
		MaxDepth:      l.MaxDepth,
		MaxElements:   l.MaxElements,
		MaxAttributes: l.MaxAttributes,
		MaxNamespaces: l.MaxNamespaces,
		MaxNameLength: l.MaxNameLength,
		MaxTextBytes:  l.MaxTextBytes,
	}
}

// fail releases what New built so far and returns err.
func (g *Gateway) fail(err error) (*Gateway, error) {
	if g.audit != nil {
		_ = g.audit.Close()
	} else {
		_ = audit.New(g.auditSinks...).Close()
	}
	if g.store != nil {
		_ = g.store.Close()
	}
	g.closeSchemas()
	_ = g.tracing.shutdown()
	return nil, err
}

func (g *Gateway) closeSchemas() {
	for _, s := range g.envelopeSchema {
		s.Close()
	}
	for _, s := range g.ownSchemas {
		s.Close()
	}
}

// ServeHTTP routes a request on this listener by exact path. Unknown paths
// get a 404 SOAP fault; everything is audited.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A bug must not take the connection down silently: log it with the
		// stack and let net/http close the connection.
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			l.gw.log.Error("panic in request handler", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			panic(http.ErrAbortHandler)
		}
	}()
	if l.gw.closing.Load() {
		// Shutting down: the client reconnects, after the load balancer
		// took this instance out.
		w.Header().Set("Connection", "close")
	}
	if l.metadataPath != "" && r.URL.Path == l.metadataPath && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = w.Write(l.metadata)
		return
	}
	svc := l.services[r.URL.Path]
	if svc == nil {
		l.gw.handle(w, r, l, nil, soap.SenderFault("no such service", fmt.Errorf("no service at path %q", r.URL.Path)).WithStatus(http.StatusNotFound))
		return
	}
	l.gw.handle(w, r, l, svc, nil)
}

// Start binds every listener and the admin listener and serves in the
// background. A bind failure stops everything already started.
func (g *Gateway) Start() error {
	for _, l := range g.listeners {
		tlsCfg := l.cfg.ServerTLSConfig()
		if tlsCfg != nil {
			l.certs = newCertReloader(l.cfg, tlsCfg, g.now, g.log, g.metrics)
			tlsCfg = l.certs.serverConfig()
		}
		ln, err := net.Listen("tcp", l.cfg.Address)
		if err != nil {
			g.closeListeners()
			return fmt.Errorf("gateway: listener %s: %w", l.name, err)
		}
		l.ln = ln
		// A service's default endpoints name the address bound (a
		// configured port 0 becomes the port the system chose).
		for path, s := range l.services {
			if s.endpoints == nil {
				s.endpoints = l.endpoints(path, ln.Addr())
				if s.saml != nil && s.saml.Recipients == nil {
					s.saml.Recipients = s.endpoints // a bearer Recipient names this endpoint
				}
			}
		}
		t := l.cfg.Timeouts
		l.server = &http.Server{
			Handler:           l,
			TLSConfig:         tlsCfg,
			ReadHeaderTimeout: t.ReadHeader,
			ReadTimeout:       t.Read,
			WriteTimeout:      t.Write,
			IdleTimeout:       t.Idle,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		}
	}
	adminLn, err := net.Listen("tcp", g.cfg.Admin.Address)
	if err != nil {
		g.closeListeners()
		return fmt.Errorf("gateway: admin listener: %w", err)
	}
	g.adminLn = adminLn
	g.admin = &http.Server{Handler: g.adminHandler(), ReadHeaderTimeout: 5 * time.Second}

	// Each listener's connections are limited (connlimit.go); the limiter
	// runs the TLS handshake under its timeout.
	limits, warnings := resolveConnLimits(g.cfg, fileLimit())
	for _, w := range warnings {
		g.log.Warn(w)
	}
	for _, l := range g.listeners {
		lim := limits[l.name]
		cl := newConnLimiter(l.name, l.ln, l.server.TLSConfig, lim, g.log, g.metrics)
		g.run(func() error { return l.server.Serve(cl) })
		g.log.Info("listening", "listener", l.name, "address", l.ln.Addr().String(),
			"services", slices.Sorted(maps.Keys(l.services)),
			"maxConnections", lim.max, "perClient", lim.perClient, "pendingHandshakes", lim.handshakes, "handshakeTimeout", lim.handshakeTimeout.String())
	}
	g.run(func() error { return g.admin.Serve(g.adminLn) })
	g.log.Info("admin listening", "address", g.adminLn.Addr().String())
	// Certificate rotation: a failed watch leaves SIGHUP.
	if stop, err := g.watchCertificates(); err != nil {
		g.log.Error("certificate files not watched: rotate them with SIGHUP", "err", err)
	} else {
		g.stopWatch = stop
	}
	g.ready.Store(true)
	return nil
}

func (g *Gateway) run(serve func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.serveErr <- err
		}
	}()
}

// Errors reports a listener that stopped serving on its own.
func (g *Gateway) Errors() <-chan error { return g.serveErr }

func (g *Gateway) closeListeners() {
	for _, l := range g.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
}

// Addr returns the bound address of the named listener (nil before Start).
func (g *Gateway) Addr(name string) net.Addr {
	for _, l := range g.listeners {
		if l.name == name && l.ln != nil {
			return l.ln.Addr()
		}
	}
	return nil
}

// AdminAddr returns the bound admin address (nil before Start).
func (g *Gateway) AdminAddr() net.Addr {
	if g.adminLn == nil {
		return nil
	}
	return g.adminLn.Addr()
}

// adminHandler serves /healthz (the process is alive), /readyz (the
// configuration is loaded, the listeners serve, the store answers),
// /metrics, and POST /explain (replay an authorization decision).
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !g.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			if g.closing.Load() {
				_, _ = w.Write([]byte("not ready: shutting down\n"))
			} else {
				_, _ = w.Write([]byte("not ready\n"))
			}
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := g.store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: shared store unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /explain", g.explainHandler)
	return mux
}

// newID returns a random correlation id in UUID form.
func (g *Gateway) newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
}
