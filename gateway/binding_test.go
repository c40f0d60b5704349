package gateway_test

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

// addressed is a GetBalance request with the WS-Addressing headers given.
func addressed(headers string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="` + soap.NSWSA + `"><soap:Header>` +
		`<wsa:Action>urn:gatehouse:demo:accounts:GetBalance</wsa:Action><wsa:MessageID>urn:uuid:` + randomID() + `</wsa:MessageID>` + headers +
		`</soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// TestAddressingEnforced (invariant 12): wsa:To must name this service, so
// that a message for one service is not accepted by another; ReplyTo and
// FaultTo must be anonymous (or none) unless the service allows others; the
// backend never learns the consumer's reply addresses, nor the gateway's To.
func TestAddressingEnforced(t *testing.T) {
	e := newEnv(t, envOptions{})
	own := e.base + accountsPath
	anon := `<wsa:ReplyTo><wsa:Address>` + soap.NSWSA + `/anonymous</wsa:Address></wsa:ReplyTo>`

	resp := e.post(t, accountsPath, addressed(`<wsa:To>`+own+`</wsa:To>`+anon), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("wsa:To of this service: %d %s", resp.StatusCode, body)
	}
	fwd := string(e.backend.LastRequest())
	if strings.Contains(fwd, "wsa:To") || strings.Contains(fwd, "ReplyTo") || !strings.Contains(fwd, "wsa:MessageID") || !strings.Contains(fwd, "wsa:Action") {
		t.Errorf("backend got the wrong addressing headers:\n%s", fwd)
	}
	// The certificate's DNS name is an endpoint too.
	localhost := strings.Replace(own, "127.0.0.1", "localhost", 1)
	if resp := e.post(t, accountsPath, addressed(`<wsa:To>`+localhost+`</wsa:To>`), "1.1"); resp.StatusCode != 200 {
		t.Errorf("wsa:To by the certificate's DNS name: %d %s", resp.StatusCode, readAll(t, resp))
	}

	calls := e.backend.Calls()
	for _, c := range []struct{ name, headers, code, reason string }{
		{"To of another service", `<wsa:To>` + e.base + `/services/accounts11</wsa:To>`, "DestinationUnreachable", "is not an endpoint of service accounts"},
		{"To of another host", `<wsa:To>https://elsewhere.example/services/accounts</wsa:To>`, "DestinationUnreachable", "is not an endpoint"},
		{"ReplyTo elsewhere", `<wsa:ReplyTo><wsa:Address>https://attacker.example/cb</wsa:Address></wsa:ReplyTo>`, "InvalidAddressingHeader", "wsa:ReplyTo"},
		{"FaultTo elsewhere", `<wsa:FaultTo><wsa:Address>https://attacker.example/cb</wsa:Address></wsa:FaultTo>`, "InvalidAddressingHeader", "wsa:FaultTo"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := expectFault(t, e.post(t, accountsPath, addressed(c.headers), "1.1"), 500, c.code)
			if r := e.record(t, id); !strings.Contains(r.Reason, c.reason) {
				t.Errorf("reason %q, want %q", r.Reason, c.reason)
			}
		})
	}
	if n := e.backend.Calls(); n != calls {
		t.Errorf("the backend was called %d times for refused requests", n-calls)
	}

	t.Run("replyTo allowed", func(t *testing.T) {
		e := newEnv(t, envOptions{addressing: `<addressing replyTo="allow" endpoint="https://gatehouse.example/accounts"/>`})
		resp := e.post(t, accountsPath, addressed(`<wsa:To>https://gatehouse.example/accounts</wsa:To><wsa:ReplyTo><wsa:Address>https://consumer.example/cb</wsa:Address></wsa:ReplyTo>`), "1.1")
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		// The configured endpoint replaces the defaults.
		expectFault(t, e.post(t, accountsPath, addressed(`<wsa:To>`+e.base+accountsPath+`</wsa:To>`), "1.1"), 500, "DestinationUnreachable")
	})
}

// TestInboundSecurityNotForwarded (invariant 11): every Security header for
// Gatehouse, of every WS-Security namespace, is removed before the backend
// call, not only the WSS 1.0 one; one for another actor stays.
func TestInboundSecurityNotForwarded(t *testing.T) {
	e := newEnv(t, envOptions{})
	drafts := []string{"http://schemas.xmlsoap.org/ws/2002/07/secext", "http://schemas.xmlsoap.org/ws/2002/12/secext", "http://schemas.xmlsoap.org/ws/2003/06/secext"}
	for _, ns := range drafts {
		msg := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
			`<old:Security xmlns:old="` + ns + `"><old:UsernameToken><old:Username>teller</old:Username><old:Password>s3cret-` + ns[30:37] + `</old:Password></old:UsernameToken></old:Security>` +
			`<old:Security xmlns:old="` + ns + `" soap:actor="urn:example:backend"><old:Marker>for-the-backend</old:Marker></old:Security>` +
			`</soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
		resp := e.post(t, accountsPath, msg, "1.1")
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", ns, resp.StatusCode, body)
		}
		fwd := string(e.backend.LastRequest())
		if strings.Contains(fwd, "s3cret") || strings.Count(fwd, ns) != 1 || !strings.Contains(fwd, "for-the-backend") {
			t.Errorf("%s: the backend got\n%s", ns, fwd)
		}
	}
}

// headerBackend is the demo accounts backend that also keeps the headers
// of the last request.
type headerBackend struct {
	demo.Accounts
	mu   sync.Mutex
	last http.Header
}

func (b *headerBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.last = r.Header.Clone()
	b.mu.Unlock()
	b.Accounts.ServeHTTP(w, r)
}

func (b *headerBackend) header() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// TestPropagateHeaders: the backend learns the identity from headers the
// gateway sets; a client that sends them itself does not get them through.
func TestPropagateHeaders(t *testing.T) {
	b := &headerBackend{}
	e := samlEnv(t, "1s", func(o *envOptions) {
		o.backendHandler = b
		o.propagate = `<propagate as="headers" rolesHeader="X-Legacy-Roles"/>`
	})
	token := mustToken(t, e, audAccounts)
	req, err := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(withToken(token)))
	must(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	req.Header.Set("X-Gatehouse-Subject", "root@evil.example")
	req.Header.Set("X-Legacy-Roles", "admin")
	resp, err := e.client.Do(req)
	must(t, err)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	h := b.header()
	if got := h.Values("X-Gatehouse-Subject"); len(got) != 1 || got[0] != "alice@example.com" {
		t.Errorf("subject header %q", got)
	}
	if got := h.Get("X-Gatehouse-Issuer"); got != stsEntity {
		t.Errorf("issuer header %q", got)
	}
	if got := h.Values("X-Legacy-Roles"); len(got) != 1 || got[0] != "teller" {
		t.Errorf("roles header %q", got)
	}

	// The plain service propagates nothing, and passes on no injected header.
	req, err = http.NewRequest(http.MethodPost, e.base+"/services/accounts11", strings.NewReader(withToken(mustToken(t, e, audAccounts11))))
	must(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
	req.Header.Set("X-Gatehouse-Subject", "root@evil.example")
	resp, err = e.client.Do(req)
	must(t, err)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := b.header().Get("X-Gatehouse-Subject"); got != "" {
		t.Errorf("an injected identity header reached the backend: %q", got)
	}
}

// TestPropagateAssertion: the backend gets a fresh assertion from the STS
// for its own audience, with the consumer's subject and roles, which it can
// verify with the STS's certificate; the consumer's assertion stays behind.
func TestPropagateAssertion(t *testing.T) {
	const backendAudience = "urn:example:backend:accounts"
	e := samlEnv(t, "1s", func(o *envOptions) {
		o.propagate = `<propagate as="assertion" audience="` + backendAudience + `"/>`
	})
	token := mustToken(t, e, audAccounts)
	resp := e.post(t, accountsPath, withToken(token), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	fwd := e.backend.LastRequest()
	env, err := soap.Parse(fwd, soap.DefaultLimits())
	must(t, err)
	var assertions int
	for _, h := range env.HeaderBlocks() {
		if !soap.IsSecurityHeader(h) {
			continue
		}
		for _, a := range h.ChildElements() {
			if a.Tag != "Assertion" {
				continue
			}
			assertions++
			if strings.Contains(token, `ID="`+a.SelectAttrValue("ID", "")+`"`) {
				t.Error("the consumer's own assertion was forwarded")
			}
			v := &samlsts.Verifier{Audience: backendAudience, Issuers: stsIssuers(t, e), Clock: timeNow}
			got, err := v.VerifyAssertion(a)
			if err != nil {
				t.Fatalf("the backend cannot verify its assertion: %v\n%s", err, fwd)
			}
			if p := got.Principal; p.Subject != "alice@example.com" || p.Issuer != stsEntity || len(p.Roles) != 1 || p.Roles[0] != "teller" {
				t.Errorf("propagated principal %+v", p)
			}
		}
	}
	if assertions != 1 {
		t.Errorf("%d assertions reached the backend, want 1:\n%s", assertions, fwd)
	}
}

// randomID is a fresh MessageID suffix.
func randomID() string { return rand.Text() }

func timeNow() time.Time { return time.Now() }

// stsIssuers is the STS's entity ID with the certificate it signs with.
func stsIssuers(t *testing.T, e *env) map[string][]*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.dir, "pki", "sts.crt"))
	must(t, err)
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("pki/sts.crt: no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	must(t, err)
	return map[string][]*x509.Certificate{stsEntity: {cert}}
}

// TestSTSWithAddressing: a WS-Trust RST with the WS-Addressing headers that
// CXF, WCF and Metro clients always send gets a token (it used to get 503:
// the MessageID replay key had no lifetime), and the same MessageID again
// is a replay.
func TestSTSWithAddressing(t *testing.T) {
	e := samlEnv(t, "1s")
	msgID := "urn:uuid:" + randomID()
	rst := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="` + soap.NSWSA + `"><soap:Header>` +
		`<wsa:Action>` + samlsts.NSTrust + `/RST/Issue</wsa:Action><wsa:MessageID>` + msgID + `</wsa:MessageID>` +
		`<wsa:To>` + e.base + `/sts</wsa:To><wsa:ReplyTo><wsa:Address>` + soap.NSWSA + `/anonymous</wsa:Address></wsa:ReplyTo>` +
		`<wsse:Security xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken><wsse:Username>teller</wsse:Username>` +
		`<wsse:Password>` + tellerSecret + `</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>` +
		`<wst:RequestSecurityToken xmlns:wst="` + samlsts.NSTrust + `"><wst:RequestType>` + samlsts.RequestIssue + `</wst:RequestType>` +
		`<wsp:AppliesTo xmlns:wsp="` + samlsts.NSPolicy + `"><wsa:EndpointReference><wsa:Address>` + audAccounts +
		`</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken></soap:Body></soap:Envelope>`
	resp := e.post(t, "/sts", rst, "1.1")
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "RequestedSecurityToken") || !strings.Contains(body, msgID) {
		t.Fatalf("RST with WS-Addressing: %d %s", resp.StatusCode, body)
	}
	expectFault(t, e.post(t, "/sts", rst, "1.1"), 500, "InvalidSecurity")
	// The MessageID is both requests' correlation id: the replay is the
	// second record.
	time.Sleep(100 * time.Millisecond)
	recs := e.records(t)
	if r := recs[len(recs)-1]; r.CorrelationID != msgID || !strings.Contains(r.Reason, "replay: msgid") {
		t.Errorf("last record %+v", r)
	}
}

// TestIssuerTellsAlicesApart: with two trusted SAML issuers, a rule for the
// STS's alice@example.com does not let the other issuer's alice@example.com
// in; the audit record names each one's issuer.
func TestIssuerTellsAlicesApart(t *testing.T) {
	const otherIdP = "urn:example:partner-idp"
	var partner *samlsts.Issuer
	e := samlEnv(t, "1s", func(o *envOptions) {
		ca, err := demopki.NewCA(pkix.Name{CommonName: "Partner IdP CA"})
		must(t, err)
		cert, key, err := ca.Issue(demopki.Leaf{Subject: pkix.Name{CommonName: "Partner IdP"}})
		must(t, err)
		must(t, demopki.WriteCert(filepath.Join(o.dir, "pki", "partner-idp.crt"), cert))
		partner = &samlsts.Issuer{EntityID: otherIdP, Key: key, Cert: cert, Clock: time.Now}
		o.trust += `<trust name="partner-signing"><certificate file="pki/partner-idp.crt"/></trust>`
		o.samlIssuers += `<samlIssuer entityID="` + otherIdP + `" trust="partner-signing"/>`
		o.saml = `<saml audience="` + audAccounts + `" maxClockSkew="1s"><issuer entityID="` + stsEntity + `"/><issuer entityID="` + otherIdP + `"/></saml>`
		o.policy = `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <flow from="demo-workloads" to="accounts"/>
    <rule id="sts-alice" effect="allow" service="accounts" operation="*"><subject name="alice@example.com"/><issuer name="` + stsEntity + `"/></rule>
  </policy>`
	})
	resp := e.post(t, accountsPath, withToken(mustToken(t, e, audAccounts)), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("the STS's alice: %d %s", resp.StatusCode, body)
	}
	if r := e.record(t, resp.Header.Get("X-Correlation-ID")); r.Issuer != stsEntity || r.Rule != "sts-alice" {
		t.Errorf("record %+v", r)
	}

	a, err := partner.Issue(samlsts.IssueRequest{Subject: "alice@example.com", Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		Audience: audAccounts, Lifetime: time.Minute, Method: samlsts.CMBearer, AuthnInstant: time.Now(), Roles: []string{"teller"}})
	must(t, err)
	doc := etree.NewDocument()
	doc.SetRoot(a)
	token, err := doc.WriteToString()
	must(t, err)
	id := expectFault(t, e.post(t, accountsPath, withToken(token), "1.1"), 403, "not authorized")
	if r := e.record(t, id); r.Subject != "alice@example.com" || r.Issuer != otherIdP || r.Decision != "deny" {
		t.Errorf("the partner's alice: record %+v", r)
	}
}

// TestBearerRecipient: a bearer assertion that names a Recipient is accepted
// only at that endpoint: one minted for another service's URL (same
// audience, a second trusted consumer replaying it elsewhere) is refused.
func TestBearerRecipient(t *testing.T) {
	e := samlEnv(t, "1s")
	kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "pki", "sts.crt"), filepath.Join(e.dir, "pki", "sts.key"))
	must(t, err)
	sts := &samlsts.Issuer{EntityID: stsEntity, Key: kp.PrivateKey.(crypto.Signer), Cert: kp.Leaf, Clock: time.Now}
	token := func(recipient string) string {
		a, err := sts.Issue(samlsts.IssueRequest{Subject: "alice@example.com", Audience: audAccounts, Recipient: recipient,
			Lifetime: time.Minute, Method: samlsts.CMBearer, AuthnInstant: time.Now(), Roles: []string{"teller"}})
		must(t, err)
		doc := etree.NewDocument()
		doc.SetRoot(a)
		s, err := doc.WriteToString()
		must(t, err)
		return s
	}
	resp := e.post(t, accountsPath, withToken(token(e.base+accountsPath)), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("Recipient of this endpoint: %d %s", resp.StatusCode, body)
	}
	for _, other := range []string{e.base + "/services/accounts11", "https://elsewhere.example" + accountsPath} {
		id := expectFault(t, e.post(t, accountsPath, withToken(token(other)), "1.1"), 500, "InvalidSecurityToken")
		if r := e.record(t, id); !strings.Contains(r.Reason, "Recipient") {
			t.Errorf("Recipient %s: reason %q", other, r.Reason)
		}
	}
}
