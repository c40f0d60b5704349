package gateway_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"text/template"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

// env is a running gateway in front of a real demo backend, with a canary
// server that hostile payloads point at: any request it sees is a failure.
type env struct {
	t        testing.TB
	dir      string
	gw       *gateway.Gateway
	base     string // https://127.0.0.1:PORT
	backend  *demo.Accounts
	canary   *httptest.Server
	canaryN  atomic.Int64
	client   *http.Client
	auditLog string
}

type envOptions struct {
	// Extra configuration sections, inserted verbatim where the schema
	// wants them: store, lockout, trust and users before the services, and
	// the accounts service's <security> element.
	store, lockout, trust, users, security string
	// SAML: issuers, the STS, and the two services' <saml> elements.
	samlIssuers, sts, saml, saml11 string
	// credMaps are <credentialMap> sections; credentials is the accounts
	// service's <credentials> element.
	credMaps, credentials string
	// addressing and propagate are the accounts service's <addressing>
	// and <propagate> elements.
	addressing, propagate string
	// extraServices are more <service> elements, after the two.
	extraServices string
	// rateLimits is the <rateLimits> section.
	rateLimits string
	// tracing is the <tracing> section.
	tracing string
	// policy replaces the default test policy (every demo workload may
	// call every operation of both services).
	policy string
	// backendTLS is the accounts backend's <tls> element.
	backendTLS string
	// backendServer, when set, is started by newEnv (for a TLS backend that
	// needs the PKI newEnv generates).
	backendServer func(dir string, h http.Handler) *httptest.Server
	// dir, when set, is used instead of a new temporary directory (two
	// gateways sharing one PKI).
	dir            string
	backendURL     string       // default: the demo accounts backend
	backendTimeout string       // default 2s
	serviceLimits  string       // extra attributes for <limits> of the service
	backendHandler http.Handler // replaces the demo backend
}

const configTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:0">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <admin address="127.0.0.1:0"/>
  <audit><file path="{{.Audit}}"/></audit>
  {{.Store}}{{.Lockout}}{{.RateLimits}}{{.Tracing}}{{.Trust}}{{.Users}}{{.SAMLIssuers}}{{.STS}}{{.Policy}}{{.CredMaps}}
  <service name="accounts" path="/services/accounts" soapVersions="1.1 1.2">
    <backend url="{{.Backend}}"{{.Plaintext}} connectTimeout="1s" timeout="{{.Timeout}}" maxResponseBytes="65536">{{.BackendTLS}}</backend>
    {{.Security}}{{.SAML}}{{.Credentials}}{{.Addressing}}{{.Propagate}}
    <schema file="accounts.xsd"/>
    <limits maxBytes="65536" {{.Limits}}/>
  </service>
  <service name="accounts11" path="/services/accounts11" soapVersions="1.1">
    <backend url="{{.Backend}}"{{.Plaintext}} timeout="{{.Timeout}}"/>
    {{.SAML11}}
    <schema file="accounts.xsd"/>
  </service>
  {{.ExtraServices}}
</gatehouse>
`

const defaultTestPolicy = `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <flow from="demo-workloads" to="accounts"/>
    <flow from="demo-workloads" to="accounts11"/>
    <rule id="tests-accounts" effect="allow" service="accounts" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
    <rule id="tests-accounts11" effect="allow" service="accounts11" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
  </policy>`

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, dir: o.dir, backend: &demo.Accounts{}}
	shared := e.dir != ""
	if !shared {
		e.dir = t.TempDir()
	}
	e.canary = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.canaryN.Add(1)
		_, _ = w.Write([]byte("<!ENTITY leaked 'canary'>"))
	}))
	t.Cleanup(e.canary.Close)

	if !shared {
		if err := demopki.Generate(filepath.Join(e.dir, "pki")); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler = e.backend
	if o.backendHandler != nil {
		h = o.backendHandler
	}
	var backend *httptest.Server
	if o.backendServer != nil {
		backend = o.backendServer(e.dir, h)
	} else {
		backend = httptest.NewServer(h)
	}
	t.Cleanup(backend.Close)
	if o.backendURL == "" {
		o.backendURL = backend.URL + "/accounts"
	}
	if o.backendTimeout == "" {
		o.backendTimeout = "2s"
	}
	// The test backends are plaintext (httptest.NewServer) unless a test
	// starts a TLS one.
	plaintext := ""
	if strings.HasPrefix(o.backendURL, "http://") {
		plaintext = ` insecurePlaintext="true"`
	}
	auditName := "audit-" + rand.Text()[:8] + ".log"
	xsd, err := os.ReadFile("../conf/demo/schemas/accounts.xsd")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(e.dir, "accounts.xsd"), xsd, 0o644))
	var cfg bytes.Buffer
	must(t, template.Must(template.New("c").Parse(configTemplate)).Execute(&cfg, map[string]string{
		"Backend": o.backendURL, "Plaintext": plaintext, "Timeout": o.backendTimeout, "Limits": o.serviceLimits, "Audit": auditName,
		"Store": o.store, "Lockout": o.lockout, "Trust": o.trust, "Users": o.users, "Security": o.security,
		"BackendTLS": o.backendTLS, "SAMLIssuers": o.samlIssuers, "STS": o.sts, "SAML": o.saml, "SAML11": o.saml11,
		"Policy": cmp.Or(o.policy, defaultTestPolicy), "RateLimits": o.rateLimits, "Tracing": o.tracing,
		"CredMaps": o.credMaps, "Credentials": o.credentials, "ExtraServices": o.extraServices,
		"Addressing": o.addressing, "Propagate": o.propagate,
	}))
	cfgPath := filepath.Join(e.dir, "gatehouse-"+auditName+".xml")
	must(t, os.WriteFile(cfgPath, cfg.Bytes(), 0o644))
	e.auditLog = filepath.Join(e.dir, auditName)

	c, err := conf.Load(cfgPath)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	t.Cleanup(c.Close)
	gw, err := gateway.New(c, gateway.Options{Logger: slog.New(slog.NewTextHandler(testLogWriter(t), nil))})
	if err != nil {
		t.Fatal(err)
	}
	must(t, gw.Start())
	e.gw = gw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	e.base = "https://" + gw.Addr("edge").String()
	e.client = e.clientWith(demopki.ConsumerCert, demopki.ConsumerKey)
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// clientWith returns an HTTPS client presenting the named certificate (none
// when cert is empty) and trusting the demo CA.
func (e *env) clientWith(cert, key string) *http.Client {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(e.dir, "pki", demopki.CACert))
	must(e.t, err)
	pool.AppendCertsFromPEM(ca)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", cert), filepath.Join(e.dir, "pki", key))
		must(e.t, err)
		cfg.Certificates = []tls.Certificate{kp}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// post sends a SOAP request; version 1.1 uses text/xml + SOAPAction.
func (e *env) post(t *testing.T, path, body string, v string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	must(t, err)
	if v == "1.2" {
		req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="urn:gatehouse:demo:accounts:GetBalance"`)
	} else {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	}
	resp, err := e.client.Do(req)
	must(t, err)
	return resp
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	must(t, err)
	return string(b)
}

// records returns the audit records written so far.
func (e *env) records(t *testing.T) []audit.Record {
	t.Helper()
	recs, err := audit.ReadFile(e.auditLog)
	if os.IsNotExist(err) {
		return nil
	}
	must(t, err)
	return recs
}

// record returns the one audit record with the correlation id; the record is
// written after the response, so it waits briefly for it.
func (e *env) record(t *testing.T, correlationID string) audit.Record {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var found []audit.Record
		for _, r := range e.records(t) {
			if r.CorrelationID == correlationID {
				found = append(found, r)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		if len(found) > 1 || time.Now().After(deadline) {
			t.Fatalf("%d audit records for correlation id %q, want 1", len(found), correlationID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func envelope11(payload string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + payload + `</soap:Body></soap:Envelope>`
}

func envelope12(payload string) string {
	return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` + payload + `</env:Body></env:Envelope>`
}

const getBalance = `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId></a:GetBalance>`

// testLogWriter sends the gateway's operational log to the test log, so a
// failing test shows what the gateway said.
func testLogWriter(t testing.TB) io.Writer { return tLogWriter{t} }

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
