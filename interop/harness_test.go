package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway"
)

const (
	consumerID = "spiffe://interop.test/consumer"
	nsSOAP11   = "http://schemas.xmlsoap.org/soap/envelope/"
	getBalance = `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId></a:GetBalance>`
	// accountsPath is a service that requires a Timestamp and a signature
	// over Body and Timestamp from a key of the interop trust store;
	// outboundPath is one without inbound WS-Security whose backend calls
	// Gatehouse signs (<backend><sign>).
	accountsPath = "/services/accounts"
	outboundPath = "/services/outbound"
)

func envelope(payload string) string {
	return `<soap:Envelope xmlns:soap="` + nsSOAP11 + `"><soap:Header/><soap:Body>` + payload + `</soap:Body></soap:Envelope>`
}

// pki is the interop PKI: a CA whose name Go writes in its usual order
// (C, O, CN), one whose name is in another order (CN, OU, O, C, as
// openssl writes "/CN=.../OU=.../O=.../C=..."), the gateway's TLS and
// outbound-signing certificates, the mTLS consumer, and message signers.
type pki struct {
	ca, otherOrderCA           *ca
	server, consumer, outbound keyPair
	// signer is issued by ca, otherOrderSigner by otherOrderCA; both are
	// pinned in the trust store (a KeyIdentifier or IssuerSerial only
	// selects a pinned certificate today).
	signer, otherOrderSigner keyPair
	// unpinnedSigner is issued by ca and not pinned.
	unpinnedSigner keyPair
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{
		ca: newCA(t, pkix.RDNSequence{attr(oidC, "DE"), attr(oidO, "Gatehouse Interop"), attr(oidCN, "Interop CA")}),
		otherOrderCA: newCA(t, pkix.RDNSequence{attr(oidCN, "Interop Partner CA"), attr(oidOU, "Partners"),
			attr(oidO, "Gatehouse Interop"), attr(oidC, "DE")}),
	}
	p.server = p.ca.issue(t, leaf{subject: pkix.Name{CommonName: "localhost"}, dns: []string{"localhost"}, server: true})
	p.consumer = p.ca.issue(t, leaf{subject: pkix.Name{CommonName: "interop consumer", Organization: []string{"Gatehouse Interop"}}, uri: consumerID})
	p.outbound = p.ca.issue(t, leaf{subject: pkix.Name{CommonName: "gatehouse outbound", Organization: []string{"Gatehouse Interop"}}})
	p.signer = p.ca.issue(t, leaf{subject: pkix.Name{CommonName: "wss4j client", Organization: []string{"Gatehouse Interop"}, Country: []string{"DE"}}})
	p.unpinnedSigner = p.ca.issue(t, leaf{subject: pkix.Name{CommonName: "unpinned client", Organization: []string{"Gatehouse Interop"}}})
	p.otherOrderSigner = p.otherOrderCA.issue(t, leaf{subject: pkix.Name{CommonName: "partner client", Organization: []string{"Gatehouse Interop"}}})
	return p
}

// capture is the backend: it records each request body by path and
// answers GetBalance.
type capture struct {
	mu   sync.Mutex
	last map[string][]byte
	// answers are the Body payloads to answer with by path (default: a
	// GetBalanceResponse).
	answers map[string]string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.last[r.URL.Path] = body
	answer, ok := c.answers[r.URL.Path]
	c.mu.Unlock()
	if !ok {
		answer = `<a:GetBalanceResponse xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId>` +
			`<a:Balance>100.00</a:Balance><a:Currency>EUR</a:Currency></a:GetBalanceResponse>`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/soap+xml") {
		w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
		fmt.Fprint(w, `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>`+answer+`</env:Body></env:Envelope>`)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, envelope(answer))
}

// take returns and forgets the last request the backend got on path.
func (c *capture) take(path string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.last[path]
	delete(c.last, path)
	return b
}

// gatehouse is a running gateway of the interop configuration.
type gatehouse struct {
	dir     string
	pki     *pki
	base    string // https://127.0.0.1:PORT
	backend *capture
	client  *http.Client // the mTLS consumer
	caFile  string       // the CA bundle of the listener (PEM)
}

const configTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:0">
    <tls certificate="server.crt" key="server.key" clientCA="ca.crt"/>
  </listener>
  <admin address="127.0.0.1:0"/>
  <audit><file path="audit.log"/></audit>
  <trust name="interop">
    <ca file="ca.crt"/>
    <ca file="other-order-ca.crt"/>
    <certificate file="signer.crt"/>
    <certificate file="other-order-signer.crt"/>
    <signers file="unpinned-signer.crt"/>
  </trust>
  <policy>
    <consumer name="interop" prefix="spiffe://interop.test/"/>
    <flow from="interop" to="accounts"/>
    <flow from="interop" to="outbound"/>
    <flow from="interop" to="contract"/>
    EXTRA_FLOWS
    <rule id="interop-accounts" effect="allow" service="accounts" operation="*"><caller prefix="spiffe://interop.test/"/></rule>
    <rule id="interop-outbound" effect="allow" service="outbound" operation="*"><caller prefix="spiffe://interop.test/"/></rule>
    <rule id="interop-contract" effect="allow" service="contract" operation="{urn:gatehouse:demo:accounts}GetBalance"><caller prefix="spiffe://interop.test/"/></rule>
    EXTRA_RULES
  </policy>
  <service name="accounts" path="/services/accounts" soapVersions="1.1">
    <backend url="BACKEND/accounts"/>
    <security trust="interop" require="timestamp signature" signedParts="Body Timestamp"/>
    <schema file="accounts.xsd"/>
  </service>
  <service name="outbound" path="/services/outbound" soapVersions="1.1">
    <backend url="BACKEND/outbound"><sign certificate="outbound.crt" key="outbound.key"/></backend>
    <schema file="accounts.xsd"/>
  </service>
  <service name="contract" path="/services/contract">
    <backend url="BACKEND/contract"/>
    <wsdl file="wsdl/accounts.wsdl"/>
  </service>
  EXTRA_SERVICES
</gatehouse>
`

// startGatehouse writes the interop PKI and configuration and starts a
// gateway with them, in front of a capturing backend.
func startGatehouse(t *testing.T) *gatehouse { return startGatehouseWith(t, extraConfig{}) }

// extraConfig adds services to the interop configuration: flows and rules
// of the policy, services (BACKEND stands for the capturing backend's URL),
// files to copy into the configuration's directory (destination → source)
// and the backend's answers by path.
type extraConfig struct {
	flows, rules, services string
	files                  map[string]string
	answers                map[string]string
}

func startGatehouseWith(t *testing.T, x extraConfig) *gatehouse {
	t.Helper()
	g := &gatehouse{dir: t.TempDir(), pki: newPKI(t), backend: &capture{last: map[string][]byte{}, answers: x.answers}}
	for dst, src := range x.files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(g.dir, dst), data)
	}
	p := g.pki
	g.caFile, _ = writePEM(t, g.dir, "ca", p.ca.cert, nil)
	writePEM(t, g.dir, "other-order-ca", p.otherOrderCA.cert, nil)
	writePEM(t, g.dir, "server", p.server.cert, p.server.key)
	writePEM(t, g.dir, "outbound", p.outbound.cert, p.outbound.key)
	writePEM(t, g.dir, "signer", p.signer.cert, nil)
	writePEM(t, g.dir, "other-order-signer", p.otherOrderSigner.cert, nil)
	writePEM(t, g.dir, "unpinned-signer", p.unpinnedSigner.cert, nil)
	xsd, err := os.ReadFile("../conf/demo/schemas/accounts.xsd")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(g.dir, "accounts.xsd"), xsd)
	writeFile(t, filepath.Join(g.dir, "wsdl", "schemas", "accounts.xsd"), xsd)
	wsdl, err := os.ReadFile("../conf/demo/accounts.wsdl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(g.dir, "wsdl", "accounts.wsdl"), wsdl)

	backend := httptest.NewServer(g.backend)
	t.Cleanup(backend.Close)
	cfgPath := filepath.Join(g.dir, "gatehouse.xml")
	cfg := strings.NewReplacer("EXTRA_FLOWS", x.flows, "EXTRA_RULES", x.rules, "EXTRA_SERVICES", x.services).Replace(configTemplate)
	writeFile(t, cfgPath, []byte(strings.ReplaceAll(cfg, "BACKEND", backend.URL)))
	loaded, err := conf.Load(cfgPath)
	if err != nil {
		t.Fatalf("load the interop configuration: %v", err)
	}
	t.Cleanup(loaded.Close)
	gw, err := gateway.New(loaded, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	g.base = "https://" + gw.Addr("edge").String()

	roots := x509.NewCertPool()
	roots.AddCert(p.ca.cert)
	g.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{p.consumer.cert.Raw}, PrivateKey: p.consumer.key}},
	}}}
	return g
}

// post sends a SOAP 1.1 GetBalance request over mTLS and returns the
// status and the answer.
func (g *gatehouse) post(t *testing.T, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// run runs a peer with a bounded time and returns its stdout, stderr and
// whether it exited 0.
func run(t *testing.T, dir string, name string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, exited := err.(*exec.ExitError); !exited || ctx.Err() != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
		}
	}
	return out.String(), errb.String(), err == nil
}

func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is not installed: run ./build.sh deps (Debian package %s)", tool, pkg)
	}
	return path
}
