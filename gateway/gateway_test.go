package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

func TestRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		version, body, wantNS string
	}{
		{"1.1", envelope11(getBalance), "http://schemas.xmlsoap.org/soap/envelope/"},
		{"1.2", envelope12(getBalance), "http://www.w3.org/2003/05/soap-envelope"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			before := e.backend.Calls()
			resp := e.post(t, "/services/accounts", tc.body, tc.version)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if !strings.Contains(body, "GetBalanceResponse") || !strings.Contains(body, tc.wantNS) {
				t.Errorf("unexpected answer: %s", body)
			}
			if e.backend.Calls() != before+1 {
				t.Errorf("backend calls = %d, want %d", e.backend.Calls(), before+1)
			}
			id := resp.Header.Get("X-Correlation-ID")
			if id == "" || e.backend.LastCorrelationID() != id {
				t.Errorf("correlation id %q, backend saw %q", id, e.backend.LastCorrelationID())
			}
			rec := e.record(t, id)
			if rec.Outcome != "ok" || rec.Service != "accounts" || rec.Caller != demopki.ConsumerSPIFFEID ||
				rec.Operation != "{urn:gatehouse:demo:accounts}GetBalance" || rec.SOAPVersion != tc.version || rec.BackendStatus != 200 {
				t.Errorf("audit record %+v", rec)
			}
		})
	}
}

func TestMessageIDBecomesCorrelationID(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header><wsa:MessageID>urn:uuid:7d1e-test</wsa:MessageID></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
	resp := e.post(t, "/services/accounts", body, "1.1")
	readAll(t, resp)
	if got := resp.Header.Get("X-Correlation-ID"); got != "urn:uuid:7d1e-test" {
		t.Errorf("correlation id %q", got)
	}
	if e.backend.LastCorrelationID() != "urn:uuid:7d1e-test" {
		t.Errorf("backend saw %q", e.backend.LastCorrelationID())
	}
	e.record(t, "urn:uuid:7d1e-test")
}

// TestUpstreamCorrelationID: a correlation id that comes with the request
// (from the edge Gatehouse in front of an enforcement point, or from a
// consumer) is kept over the WS-Addressing MessageID, so one id follows a
// chain; one that cannot serve as an id is replaced by a fresh one.
func TestUpstreamCorrelationID(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header><wsa:MessageID>urn:uuid:7d1e-test</wsa:MessageID></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
	send := func(id string) string {
		req, err := http.NewRequest(http.MethodPost, e.base+"/services/accounts", strings.NewReader(body))
		must(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		req.Header.Set("X-Correlation-ID", id)
		resp, err := e.client.Do(req)
		must(t, err)
		readAll(t, resp)
		return resp.Header.Get("X-Correlation-ID")
	}
	if got := send("chain-4711"); got != "chain-4711" || e.backend.LastCorrelationID() != "chain-4711" {
		t.Errorf("correlation id %q, backend saw %q", got, e.backend.LastCorrelationID())
	}
	if rec := e.record(t, "chain-4711"); rec.MessageID != "urn:uuid:7d1e-test" {
		t.Errorf("message id %q", rec.MessageID)
	}
	// Not an id: with spaces, falls back to the MessageID.
	if got := send("two words"); got != "urn:uuid:7d1e-test" {
		t.Errorf("unusable upstream id: correlation id %q", got)
	}
}

// TestTLSClientAuthentication: no certificate or one from another CA fails
// the handshake; nothing reaches the backend.
func TestTLSClientAuthentication(t *testing.T) {
	e := newEnv(t, envOptions{})
	for name, c := range map[string]*http.Client{
		"no client certificate":        e.clientWith("", ""),
		"untrusted client certificate": e.clientWith(demopki.UntrustedCert, demopki.UntrustedKey),
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.base+"/services/accounts", strings.NewReader(envelope11(getBalance)))
			req.Header.Set("Content-Type", "text/xml")
			req.Header.Set("SOAPAction", `""`)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("request succeeded with status %d", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), "tls") && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("error is not a TLS failure: %v", err)
			}
		})
	}
	if e.backend.Calls() != 0 {
		t.Errorf("backend was called %d times", e.backend.Calls())
	}
}

// TestHostileMessages: every XXE/DTD family, every limit and every structure
// violation gets a Sender fault of the request's version, the backend gets
// nothing, the canary server named in the payloads gets nothing, and the
// audit record keeps the reason.
func TestHostileMessages(t *testing.T) {
	e := newEnv(t, envOptions{serviceLimits: `maxDepth="20" maxAttributes="8" maxNamespaces="4" maxNameLength="64" maxTextBytes="4096" maxElements="200"`})
	canary := e.canary.URL
	deep := strings.Repeat("<x>", 25) + strings.Repeat("</x>", 25)
	bigEntity := strings.Repeat("x", 10000)
	quadratic := strings.Repeat("&big;", 2000)
	tests := []struct {
		name, body, version string
		status              int
		reason              string
	}{
		{"external entity to a local file",
			`<!DOCTYPE soap:Envelope [<!ENTITY s SYSTEM "file:///etc/passwd">]>` + envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>&s;</a:AccountId></a:GetBalance>`),
			"1.1", 500, "markup declaration"},
		{"external entity to an http URL",
			`<!DOCTYPE soap:Envelope [<!ENTITY s SYSTEM "` + canary + `/xxe">]>` + envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>&s;</a:AccountId></a:GetBalance>`),
			"1.1", 500, "markup declaration"},
		{"parameter entity",
			`<!DOCTYPE soap:Envelope [<!ENTITY % p SYSTEM "` + canary + `/p.dtd"> %p;]>` + envelope12(getBalance),
			"1.2", 400, "markup declaration"},
		{"billion laughs",
			`<!DOCTYPE soap:Envelope [<!ENTITY l0 "lol"><!ENTITY l1 "&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;"><!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;"><!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]>` + envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>&l3;</a:AccountId></a:GetBalance>`),
			"1.1", 500, "markup declaration"},
		{"quadratic blowup",
			`<!DOCTYPE soap:Envelope [<!ENTITY big "` + bigEntity + `">]>` + envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>`+quadratic+`</a:AccountId></a:GetBalance>`),
			"1.1", 500, "markup declaration"},
		{"xinclude",
			envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="` + canary + `/xi"/></a:GetBalance>`),
			"1.1", 500, "XInclude"},
		{"remote xsi:schemaLocation",
			envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:gatehouse:demo:accounts ` + canary + `/evil.xsd"><a:AccountId>1</a:AccountId></a:GetBalance>`),
			"1.1", 500, "schemaLocation"},
		{"depth limit", envelope11(deep), "1.1", 500, "depth"},
		{"attribute limit", envelope11(`<x a="1" b="1" c="1" d="1" e="1" f="1" g="1" h="1" i="1"/>`), "1.1", 500, "attributes"},
		{"namespace limit", envelope11(`<x xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" xmlns:d="urn:d" xmlns:e="urn:e"/>`), "1.1", 500, "namespaces"},
		{"name length limit", envelope11(`<` + strings.Repeat("n", 80) + `/>`), "1.1", 500, "name"},
		{"text limit", envelope11(`<x>` + strings.Repeat("t", 5000) + `</x>`), "1.1", 500, "text"},
		{"element limit", envelope11(strings.Repeat("<y/>", 201)), "1.1", 500, "elements"},
		{"size limit", envelope11(`<x>` + strings.Repeat("<y>t</y>", 10000) + `</x>`), "1.1", 413, "65536"},
		{"duplicate attribute (etree/libxml2 differential)", envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts" xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2"><a:AccountId>1</a:AccountId></a:GetBalance>`), "1.1", 500, "duplicate attribute"},
		{"schema-invalid body", envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts">` + "\n" + `<a:AccountId>not-a-number</a:AccountId></a:GetBalance>`), "1.1", 500, "line 2"},
		{"schema-invalid body 1.2", envelope12(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:Unknown/></a:GetBalance>`), "1.2", 400, "Unknown"},
		{"operation not in the payload schema", envelope11(`<a:DeleteAll xmlns:a="urn:gatehouse:demo:accounts"/>`), "1.1", 500, "DeleteAll"},
		{"two bodies", `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/><soap:Body/></soap:Envelope>`, "1.1", 500, "out of place"},
		{"envelope 1.1 sent as 1.2", envelope11(getBalance), "1.2", 500, "content type says SOAP 1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.post(t, "/services/accounts", tt.body, tt.version)
			body := readAll(t, resp)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			wantNS := "http://schemas.xmlsoap.org/soap/envelope/"
			if tt.version == "1.2" {
				wantNS = "http://www.w3.org/2003/05/soap-envelope"
			}
			if !strings.Contains(body, "Fault") || !strings.Contains(body, wantNS) {
				t.Errorf("not a SOAP %s fault: %s", tt.version, body)
			}
			if strings.Contains(body, "root:") || strings.Contains(body, "lollol") || strings.Contains(body, tt.reason) {
				t.Errorf("fault leaks content or detail: %s", body)
			}
			rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
			if rec.Outcome != "fault" || !strings.Contains(rec.Reason, tt.reason) {
				t.Errorf("audit outcome %q reason %q, want it to mention %q", rec.Outcome, rec.Reason, tt.reason)
			}
		})
	}
	if n := e.backend.Calls(); n != 0 {
		t.Errorf("backend was called %d times", n)
	}
	if n := e.canaryN.Load(); n != 0 {
		t.Errorf("canary server received %d requests: something was fetched", n)
	}
}

// TestLongInvalidValue is the regression for lestrrat-go/libxml2's crash on
// long validation messages: a 50 KB value in an xs:int element gets a fault
// and the gateway keeps serving.
func TestLongInvalidValue(t *testing.T) {
	e := newEnv(t, envOptions{serviceLimits: `maxTextBytes="200000"`})
	for _, n := range []int{20 << 10, 50 << 10} {
		body := envelope11(`<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>` + strings.Repeat("9", n) + `</a:AccountId></a:GetBalance>`)
		resp := e.post(t, "/services/accounts", body, "1.1")
		out := readAll(t, resp)
		if resp.StatusCode != 500 || !strings.Contains(out, "soap:Client") {
			t.Fatalf("%d bytes: status %d: %s", n, resp.StatusCode, out)
		}
	}
	resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
	if out := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("gateway unhealthy after long values: %d %s", resp.StatusCode, out)
	}
}

func TestTransportErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	send := func(method, path, ct string, soapAction []string, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for _, a := range soapAction {
			req.Header.Add("SOAPAction", a)
		}
		resp, err := e.client.Do(req)
		must(t, err)
		return resp, readAll(t, resp)
	}
	tests := []struct {
		name, method, path, ct string
		action                 []string
		body                   string
		status                 int
		contains               string
	}{
		{"unknown path", "POST", "/services/nope", "text/xml", []string{`""`}, envelope11(getBalance), 404, "soap:Client"},
		{"GET", "GET", "/services/accounts", "", nil, "", 405, "Fault"},
		{"json", "POST", "/services/accounts", "application/json", nil, "{}", 415, "Fault"},
		{"1.1 without SOAPAction", "POST", "/services/accounts", "text/xml", nil, envelope11(getBalance), 415, "Fault"},
		{"latin-1 charset", "POST", "/services/accounts", "text/xml; charset=iso-8859-1", []string{`""`}, envelope11(getBalance), 415, "Fault"},
		{"1.2 to a 1.1-only service", "POST", "/services/accounts11", "application/soap+xml", nil, envelope12(getBalance), 500, "VersionMismatch"},
		{"SOAPAction spoofing another operation", "POST", "/services/accounts", "text/xml", []string{`"urn:gatehouse:demo:accounts:Transfer"`}, envelope11(getBalance), 500, "soap:Client"},
		{"1.2 action parameter spoofing", "POST", "/services/accounts", `application/soap+xml; action="urn:gatehouse:demo:accounts:Transfer"`, nil, envelope12(getBalance), 400, "env:Sender"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(tt.method, tt.path, tt.ct, tt.action, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.contains) {
				t.Errorf("status %d body %s", resp.StatusCode, body)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			e.record(t, resp.Header.Get("X-Correlation-ID"))
		})
	}
	if e.backend.Calls() != 0 {
		t.Errorf("backend called %d times", e.backend.Calls())
	}
}

func TestBackendFailures(t *testing.T) {
	t.Run("down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		e := newEnv(t, envOptions{backendURL: "http://" + addr + "/accounts"})
		start := time.Now()
		resp := e.post(t, "/services/accounts", envelope12(getBalance), "1.2")
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "env:Receiver") {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %v", time.Since(start))
		}
		rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
		if rec.FaultCode != "Receiver" || !strings.Contains(rec.Reason, "backend") {
			t.Errorf("audit %+v", rec)
		}
	})
	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		e := newEnv(t, envOptions{backendTimeout: "300ms", backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})})
		defer close(release)
		start := time.Now()
		resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "soap:Server") {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("answer took %v with a 300ms backend timeout", d)
		}
	})
	t.Run("answers garbage", func(t *testing.T) {
		e := newEnv(t, envOptions{backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`)
		})})
		resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "DOCTYPE") {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// TestDrain: Shutdown lets an in-flight request finish.
func TestDrain(t *testing.T) {
	entered := make(chan struct{})
	e := newEnv(t, envOptions{backendHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, envelope11(`<a:GetBalanceResponse xmlns:a="urn:gatehouse:demo:accounts"/>`))
	})})
	var wg sync.WaitGroup
	var status int
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
		readAll(t, resp)
		status = resp.StatusCode
	}()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, e.gw.Shutdown(ctx))
	wg.Wait()
	if status != http.StatusOK {
		t.Errorf("in-flight request ended with %d", status)
	}
}

func TestAdmin(t *testing.T) {
	e := newEnv(t, envOptions{})
	readAll(t, e.post(t, "/services/accounts", envelope11(getBalance), "1.1"))
	admin := "http://" + e.gw.AdminAddr().String()
	for path, want := range map[string]string{
		"/healthz":  "ok",
		"/readyz":   "ready",
		"/metrics":  `gatehouse_requests_total{outcome="ok",service="accounts"} 1`,
		"/metrics?": `gatehouse_backend_in_flight{service="accounts"} 0`,
	} {
		resp, err := http.Get(admin + strings.TrimSuffix(path, "?"))
		must(t, err)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, truncate(body))
		}
	}
}

func truncate(s string) string {
	if len(s) > 500 {
		return s[:500] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// TestHTTPSBackendWithClientCertificate: the gateway calls an https backend
// that requires a client certificate, verifying the backend against the
// configured CA and presenting its own certificate.
func TestHTTPSBackendWithClientCertificate(t *testing.T) {
	var sawClient atomic.Value
	e := newEnv(t, envOptions{
		backendTLS: `<tls ca="pki/ca.crt" certificate="pki/server.crt" key="pki/server.key" serverName="localhost"/>`,
		backendServer: func(dir string, h http.Handler) *httptest.Server {
			kp, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", demopki.ServerCert), filepath.Join(dir, "pki", demopki.ServerKey))
			must(t, err)
			ca, err := os.ReadFile(filepath.Join(dir, "pki", demopki.CACert))
			must(t, err)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawClient.Store(r.TLS.VerifiedChains[0][0].Subject.CommonName)
				h.ServeHTTP(w, r)
			}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
			srv.StartTLS()
			return srv
		},
	})
	resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got, _ := sawClient.Load().(string); !strings.HasPrefix(got, "gatehouse.") {
		t.Errorf("backend saw client certificate %q", got)
	}
}

// TestBackendConnectionReuseAndTLSResumption: calls to an https backend
// share one kept-alive connection, and a new connection (after the backend
// closed the old one) resumes the TLS session instead of a full handshake.
func TestBackendConnectionReuseAndTLSResumption(t *testing.T) {
	var (
		mu       sync.Mutex
		conns    int    // connections the backend accepted
		resumed  []bool // per request: was its connection's handshake a resumption
		closeNow atomic.Bool
	)
	e := newEnv(t, envOptions{
		backendTLS: `<tls ca="pki/ca.crt" certificate="pki/server.crt" key="pki/server.key" serverName="localhost"/>`,
		backendServer: func(dir string, h http.Handler) *httptest.Server {
			kp, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", demopki.ServerCert), filepath.Join(dir, "pki", demopki.ServerKey))
			must(t, err)
			ca, err := os.ReadFile(filepath.Join(dir, "pki", demopki.CACert))
			must(t, err)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				resumed = append(resumed, r.TLS.DidResume)
				mu.Unlock()
				if closeNow.Swap(false) {
					w.Header().Set("Connection", "close") // the server closes after this answer
				}
				h.ServeHTTP(w, r)
			}))
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					mu.Lock()
					conns++
					mu.Unlock()
				}
			}
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
			srv.StartTLS()
			return srv
		},
	})
	call := func() {
		t.Helper()
		resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	}
	for range 3 {
		call()
	}
	mu.Lock()
	if conns != 1 || len(resumed) != 3 || resumed[0] {
		t.Fatalf("3 sequential calls: %d backend connections, resumed %v; want 1 connection, a full first handshake", conns, resumed)
	}
	mu.Unlock()

	closeNow.Store(true)
	call() // answered with Connection: close
	call() // a new connection
	call() // kept alive again
	mu.Lock()
	defer mu.Unlock()
	if conns != 2 {
		t.Errorf("after the backend closed its connection: %d connections, want 2", conns)
	}
	if len(resumed) != 6 || !resumed[4] || !resumed[5] {
		t.Errorf("resumed per call %v: the second connection should resume the TLS session", resumed)
	}
}

// TestAuthorization: default deny per operation, and the flow graph: a rule
// that would allow a call is not enough without a flow edge.
func TestAuthorization(t *testing.T) {
	e := newEnv(t, envOptions{policy: `<policy>
    <consumer name="tellers" prefix="spiffe://demo.gatehouse.internal/retail/"/>
    <flow from="tellers" to="accounts"/>
    <rule id="balance-only" effect="allow" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance"><caller prefix="spiffe://demo.gatehouse.internal/retail/"/></rule>
    <rule id="no-edge" effect="allow" service="accounts11" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/retail/"/></rule>
  </policy>`})
	resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
	readAll(t, resp)
	if rec := e.record(t, resp.Header.Get("X-Correlation-ID")); resp.StatusCode != 200 || rec.Decision != "allow" || rec.Rule != "balance-only" {
		t.Fatalf("allowed call: %d %+v", resp.StatusCode, rec)
	}
	transfer := `<a:Transfer xmlns:a="urn:gatehouse:demo:accounts"><a:FromAccount>1</a:FromAccount><a:ToAccount>2</a:ToAccount><a:Amount>1.00</a:Amount><a:Currency>EUR</a:Currency><a:Reference>r1</a:Reference></a:Transfer>`
	req, _ := http.NewRequest("POST", e.base+"/services/accounts", strings.NewReader(envelope11(transfer)))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("SOAPAction", `""`)
	resp, err := e.client.Do(req)
	must(t, err)
	id := expectFault(t, resp, http.StatusForbidden, "not authorized")
	if rec := e.record(t, id); rec.Decision != "deny" || rec.Rule != "" || !strings.Contains(rec.Reason, "no rule allows") {
		t.Errorf("transfer: %+v", rec)
	}
	id = expectFault(t, e.post(t, "/services/accounts11", envelope11(getBalance), "1.1"), http.StatusForbidden, "not authorized")
	if rec := e.record(t, id); rec.Decision != "deny" || !strings.Contains(rec.Reason, "no flow edge") {
		t.Errorf("call without a flow edge: %+v", rec)
	}
	if n := e.backend.Calls(); n != 1 {
		t.Errorf("backend calls = %d, want 1", n)
	}
	// The admin endpoint replays the decision.
	areq, _ := http.NewRequest("POST", "http://"+e.gw.AdminAddr().String()+"/explain?service=accounts&caller="+demopki.ConsumerSPIFFEID, strings.NewReader(envelope11(transfer)))
	aresp, err := http.DefaultClient.Do(areq)
	must(t, err)
	if out := readAll(t, aresp); !strings.Contains(out, "flow: passed") || !strings.Contains(out, "decision: deny: no rule allows") || strings.Contains(out, "actors") {
		t.Errorf("admin explain:\n%s", out)
	}
	// actors=a,b is the delegation chain, oldest first.
	areq, _ = http.NewRequest("POST", "http://"+e.gw.AdminAddr().String()+"/explain?service=accounts&actors=user:teller,composite:open-account&caller="+demopki.ConsumerSPIFFEID, strings.NewReader(envelope11(transfer)))
	aresp, err = http.DefaultClient.Do(areq)
	must(t, err)
	if out := readAll(t, aresp); !strings.Contains(out, `, actors ["user:teller" "composite:open-account"]`+"\n") {
		t.Errorf("admin explain with actors:\n%s", out)
	}
}

// TestAuditCountUnderLoad: with concurrent clients sending accepted,
// malformed, unauthorized and unrouted requests, the audit log holds
// exactly one record per request.
func TestAuditCountUnderLoad(t *testing.T) {
	e := newEnv(t, envOptions{})
	bodies := []struct{ path, body string }{
		{"/services/accounts", envelope11(getBalance)},
		{"/services/accounts", `<!DOCTYPE x []>` + envelope11(getBalance)},
		{"/services/accounts", envelope11(`<a:DeleteAll xmlns:a="urn:gatehouse:demo:accounts"/>`)},
		{"/services/nowhere", envelope11(getBalance)},
	}
	const workers, each = 8, 40
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := bodies[(w+i)%len(bodies)]
				req, _ := http.NewRequest(http.MethodPost, e.base+b.path, strings.NewReader(b.body))
				req.Header.Set("Content-Type", "text/xml")
				req.Header.Set("SOAPAction", `""`)
				resp, err := e.client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ids <- resp.Header.Get("X-Correlation-ID")
			}
		}()
	}
	wg.Wait()
	close(ids)
	sent := map[string]bool{}
	for id := range ids {
		sent[id] = true
	}
	must(t, e.gw.Shutdown(context.Background())) // flushes the audit sinks
	recs := e.records(t)
	if len(recs) != workers*each || len(sent) != workers*each {
		t.Fatalf("%d requests with %d distinct ids, %d audit records", workers*each, len(sent), len(recs))
	}
	for _, r := range recs {
		if !sent[r.CorrelationID] {
			t.Fatalf("audit record for an unknown request: %+v", r)
		}
	}
}
