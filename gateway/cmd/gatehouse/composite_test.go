package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/soap"
)

// recorder keeps every request the demo backends receive, by path.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs map[string][]string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	if rc.reqs == nil {
		rc.reqs = map[string][]string{}
	}
	rc.reqs[r.URL.Path] = append(rc.reqs[r.URL.Path], string(body))
	rc.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.next.ServeHTTP(w, r)
}

// bodies returns the requests received on path.
func (rc *recorder) bodies(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.reqs[path]...)
}

// compositeDemo is the demo's composite set-up on real binaries: the demo
// backends in the test (customers, KYC, CICS), the enforcement point in
// front of CICS, and edge gateways on the demo configuration or variants
// of it, all sharing one demo PKI.
type compositeDemo struct {
	t         *testing.T
	bin, dir  string
	pki       string
	backend   *httptest.Server
	recorded  *recorder
	customers *demo.Customers
	cics      *demo.CICS
	ep        string // the enforcement point's listener
	epProc    *running
	edges     map[string]*edgeProc
}

type edgeProc struct {
	addr, admin, auditLog string
	proc                  *running
}

// startCompositeDemo starts the backends and the enforcement point on the
// demo's enforcement.xml with the replacements made (old, new pairs).
func startCompositeDemo(t *testing.T, epReplace ...string) *compositeDemo {
	t.Helper()
	d := &compositeDemo{t: t, bin: buildBinary(t), dir: t.TempDir(), customers: &demo.Customers{}, edges: map[string]*edgeProc{}}
	d.pki = filepath.Join(d.dir, "pki")
	copyDemo(t, d.dir)
	keyHex, err := os.ReadFile(filepath.Join(d.pki, demopki.RACFKey))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(strings.TrimSpace(string(keyHex)))
	d.cics = &demo.CICS{Generator: credmap.Generator{Algorithm: credmap.Enhanced, Key: key}, Application: "CICSPROD", Users: map[string]bool{"ALICE01": true}}
	mux := http.NewServeMux()
	mux.Handle("POST /customers", d.customers)
	mux.Handle("POST /kyc", &demo.KYC{})
	mux.Handle("POST /cics", d.cics)
	d.recorded = &recorder{next: mux}
	d.backend = httptest.NewServer(d.recorded)
	t.Cleanup(d.backend.Close)

	d.ep = freeAddr(t)
	epAdmin := freeAddr(t)
	cfg := writeConfig(t, d.dir, "enforcement.xml", append(epReplace, "127.0.0.1:8444", d.ep, "127.0.0.1:9091", epAdmin,
		"http://127.0.0.1:8081/cics", d.backend.URL+"/cics")...)
	d.epProc = serveDemo(t, d.bin, cfg, epAdmin)
	return d
}

// startEdge starts an edge gateway on the demo configuration with the
// replacements made, its audit log run/audit-NAME.log.
func (d *compositeDemo) startEdge(name string, replace ...string) *edgeProc {
	t := d.t
	t.Helper()
	e := &edgeProc{addr: freeAddr(t), auditLog: filepath.Join(d.dir, "run", "audit-"+name+".log")}
	admin := freeAddr(t)
	e.admin = admin
	// The test's replacements first: they win over the standard ones where
	// they overlap.
	cfg := writeConfigAs(t, d.dir, "gatehouse.xml", "edge-"+name+".xml", append(replace, edgeReplacements(d.backend.URL+"/accounts", e.addr, admin,
		`<file path="run/audit.log"/>`, `<file path="run/audit-`+name+`.log"/>`,
		"http://127.0.0.1:8081/customers", d.backend.URL+"/customers",
		"http://127.0.0.1:8081/kyc", d.backend.URL+"/kyc",
		"https://localhost:8444", "https://localhost:"+portOf(d.ep))...)...)
	e.proc = serveDemo(t, d.bin, cfg, admin)
	d.edges[name] = e
	return e
}

// token gets the teller a bearer token for audience from edge e's STS.
func (d *compositeDemo) token(e *edgeProc, audience string) string {
	t := d.t
	t.Helper()
	args := append([]string{"token", "-sts", "https://" + e.addr + "/sts", "-audience", audience,
		"-user", "teller", "-password-file", filepath.Join(d.pki, demopki.TellerSecret)}, clientArgs(d.pki)...)
	out, err := exec.Command(d.bin, args...).Output()
	if err != nil {
		t.Fatalf("gatehouse token: %v\n%s", err, e.proc.stderr.String())
	}
	return d.writeFile("token.xml", out)
}

// writeFile writes a file into the test directory and returns its path.
func (d *compositeDemo) writeFile(name string, data []byte) string {
	d.t.Helper()
	f, err := os.CreateTemp(d.dir, "*-"+name)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		d.t.Fatal(err)
	}
	return f.Name()
}

// callResult is what gatehouse call printed.
type callResult struct {
	out           string
	ok            bool // exit status 0 (HTTP 200)
	correlationID string
}

// call runs gatehouse call against url with the request file and token,
// as the demo consumer unless certificate flags are given.
func (d *compositeDemo) call(url, file, token string, certArgs ...string) callResult {
	d.t.Helper()
	if certArgs == nil {
		certArgs = clientArgs(d.pki)
	}
	args := append([]string{"call", "-url", url, "-file", file, "-token", token}, certArgs...)
	out, err := exec.Command(d.bin, args...).Output()
	r := callResult{out: string(out), ok: err == nil}
	for _, l := range strings.Split(r.out, "\n") {
		if id, ok := strings.CutPrefix(l, "X-Correlation-ID: "); ok {
			r.correlationID = id
		}
	}
	if r.correlationID == "" {
		d.t.Fatalf("gatehouse call printed no correlation id: %v\n%s", err, out)
	}
	return r
}

// stop stops every gatehouse process with SIGTERM, so that their audit
// logs are complete. The edges go first: a connection an edge opened to
// the enforcement point but never used (its request was cancelled while
// dialling) would hold the enforcement point's shutdown for five seconds.
func (d *compositeDemo) stop() {
	var procs []*running
	for _, e := range d.edges {
		procs = append(procs, e.proc)
	}
	procs = append(procs, d.epProc)
	for _, p := range procs {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	}
}

// readAudit reads an audit log's records.
func readAudit(t *testing.T, path string) []audit.Record {
	t.Helper()
	recs, err := audit.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// chain returns the records of one correlation id: the invocation (hop 0)
// and its hops by number.
func chain(recs []audit.Record, id string) (invocation *audit.Record, hops map[int]audit.Record) {
	hops = map[int]audit.Record{}
	for i, r := range recs {
		switch {
		case r.CorrelationID != id:
		case r.Hop == 0:
			invocation = &recs[i]
		default:
			hops[r.Hop] = r
		}
	}
	return invocation, hops
}

// hopsByOperation indexes hop records by "service local-name".
func hopsByOperation(hops map[int]audit.Record) map[string]audit.Record {
	m := map[string]audit.Record{}
	for _, r := range hops {
		m[r.Service+" "+r.Operation[strings.Index(r.Operation, "}")+1:]] = r
	}
	return m
}

const (
	requests          = "../../../conf/demo/requests/"
	mainframeAudience = "urn:gatehouse:demo:mainframe-accounts"
)

// TestBinaryCompositeOpenAccount is the README's composite through the real
// binaries: the edge runs OpenAccount, the enforcement point in front of
// CICS verifies each hop's assertion, authorizes the teller again and signs
// on with a PassTicket; KYC refusing the customer closes the account again.
// One correlation id follows the chain into the enforcement point.
func TestBinaryCompositeOpenAccount(t *testing.T) {
	d := startCompositeDemo(t)
	edge := d.startEdge("demo")
	url := "https://" + edge.addr + "/services/onboarding"

	token := d.token(edge, "urn:gatehouse:demo:onboarding")
	ok := d.call(url, requests+"open-account-1001.xml", token)
	if !ok.ok || !strings.Contains(ok.out, "<b:AccountId>70000001</b:AccountId>") || !strings.Contains(ok.out, "<b:Holder>Ada Lovelace</b:Holder>") {
		t.Fatalf("OpenAccount 1001:\n%s\nedge: %s", ok.out, edge.proc.stderr.String())
	}
	if got := d.customers.Links(1001); len(got) != 1 || got[0] != "70000001" {
		t.Errorf("customer 1001 links %v", got)
	}
	if got := d.cics.SignOns(); len(got) != 1 || got[0] != "ALICE01" {
		t.Errorf("CICS sign-ons %v", got)
	}

	refused := d.call(url, requests+"open-account-6666.xml", d.token(edge, "urn:gatehouse:demo:onboarding"))
	if refused.ok || !strings.Contains(refused.out, "HTTP 500") || !strings.Contains(refused.out, "<faultstring>the customer did not pass the KYC check</faultstring>") {
		t.Errorf("OpenAccount 6666:\n%s", refused.out)
	}
	if got := d.cics.Ledger(); len(got) != 2 || got[70000001] != "open" || got[70000002] != "closed" {
		t.Errorf("ledger %v: 70000001 open, 70000002 opened and closed again", got)
	}
	if got := d.customers.Links(6666); len(got) != 0 {
		t.Errorf("a refused customer's account was linked: %v", got)
	}

	// The consumer's token reaches no backend; the customer register and
	// KYC get no token; CICS gets the PassTicket only.
	consumerToken, _ := os.ReadFile(token)
	tokenID := etreeAttr(t, consumerToken, "ID")
	for _, path := range []string{"/customers", "/kyc", "/cics"} {
		bodies := d.recorded.bodies(path)
		if len(bodies) == 0 {
			t.Errorf("%s was not called", path)
		}
		for _, b := range bodies {
			if strings.Contains(b, "Assertion") || strings.Contains(b, tokenID) {
				t.Errorf("%s received an assertion:\n%s", path, b)
			}
			if path != "/cics" && strings.Contains(b, "Security") {
				t.Errorf("%s received a Security header:\n%s", path, b)
			}
			if path == "/cics" && !strings.Contains(b, "<wsse:Username>ALICE01</wsse:Username>") {
				t.Errorf("CICS request without the mapped user:\n%s", b)
			}
		}
	}

	// The end-to-end view on the edge's /metrics: one run ok, one failed,
	// the account creation compensated once.
	resp, err := http.Get("http://" + edge.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{
		`gatehouse_composite_duration_seconds_count{composite="open-account",outcome="ok"} 1`,
		`gatehouse_composite_duration_seconds_count{composite="open-account",outcome="fault"} 1`,
		`gatehouse_composite_compensations_total{composite="open-account",outcome="ok",step="create"} 1`,
		`gatehouse_composite_step_duration_seconds_count{composite="open-account",outcome="ok",step="create"} 2`,
		// Hops are backend calls like any other: create, create, close.
		`gatehouse_backend_duration_seconds_count{service="mainframe-accounts"} 3`,
	} {
		if !strings.Contains(string(page), "\n"+series+"\n") {
			t.Errorf("metrics lack %s", series)
		}
	}

	d.stop()
	edgeRecs, epRecs := readAudit(t, edge.auditLog), readAudit(t, filepath.Join(d.dir, "run", "enforcement-audit.log"))

	// Edge: one record for the invocation and one per hop, one id.
	inv, hops := chain(edgeRecs, ok.correlationID)
	if inv == nil || inv.Outcome != audit.OutcomeOK || inv.Service != "onboarding" || inv.Rule != "teller-open-account" {
		t.Fatalf("invocation record %+v", inv)
	}
	byOp := hopsByOperation(hops)
	for op, rule := range map[string]string{
		"customers GetCustomer": "open-account-customers", "kyc Check": "open-account-kyc",
		"mainframe-accounts CreateAccount": "open-account-mainframe", "customers LinkAccount": "open-account-customers",
	} {
		if r, found := byOp[op]; !found || r.Decision != "allow" || r.Rule != rule || r.Outcome != audit.OutcomeOK || r.Subject != "alice@example.com" {
			t.Errorf("hop %s: %+v", op, r)
		}
	}
	if len(hops) != 4 {
		t.Errorf("%d hop records, want 4", len(hops))
	}
	create := byOp["mainframe-accounts CreateAccount"]
	if create.Audience != mainframeAudience || create.TokenID == "" || create.TokenID == tokenID {
		t.Errorf("the mainframe hop names audience %q, token %q", create.Audience, create.TokenID)
	}

	// Enforcement point: the same id, the hop's own assertion, verified,
	// authorized again and mapped.
	_, epHops := chain(epRecs, ok.correlationID)
	var epCreate *audit.Record
	for i, r := range epRecs {
		if r.CorrelationID == ok.correlationID {
			epCreate = &epRecs[i]
		}
	}
	if epCreate == nil || len(epHops) != 0 {
		t.Fatalf("enforcement point records for %s: %v", ok.correlationID, epRecs)
	}
	if epCreate.Caller != demopki.EdgeSPIFFEID || epCreate.Subject != "alice@example.com" || epCreate.Rule != "teller-accounts" ||
		epCreate.LegacyUser != "ALICE01" || epCreate.TokenID != create.TokenID || epCreate.Audience != mainframeAudience ||
		len(epCreate.Delegation) != 1 || epCreate.Delegation[0] != "composite:open-account" {
		t.Errorf("enforcement point record %+v", epCreate)
	}

	// KYC refused: the compensation is a hop of its own, authorized at the
	// edge and again at the enforcement point.
	inv, hops = chain(edgeRecs, refused.correlationID)
	byOp = hopsByOperation(hops)
	if inv == nil || inv.Outcome != audit.OutcomeFault || !strings.Contains(inv.Reason, "KYC") {
		t.Errorf("refused invocation %+v", inv)
	}
	if r := byOp["mainframe-accounts CloseAccount"]; r.Decision != "allow" || r.Outcome != audit.OutcomeOK || !r.Compensation || r.Hop <= byOp["mainframe-accounts CreateAccount"].Hop {
		t.Errorf("compensation hop %+v", r)
	}
	if byOp["mainframe-accounts CreateAccount"].Compensation {
		t.Error("the account creation is recorded as a compensation")
	}
	if _, linked := byOp["customers LinkAccount"]; linked {
		t.Error("LinkAccount ran for a refused customer")
	}
	rules := map[string]bool{}
	for _, r := range epRecs {
		if r.CorrelationID == refused.correlationID && r.Decision == "allow" {
			rules[r.Rule] = true
		}
	}
	if !rules["teller-accounts"] || !rules["teller-close"] {
		t.Errorf("enforcement point decisions for the refused customer: %v", rules)
	}
}

// TestBinaryCompositeLegacyHop: the edge may itself be the enforcement
// point of a legacy target (it maps the credential): the hop then carries
// the PassTicket and no assertion, and succeeds. (Its own test: two
// Gatehouses with separate in-memory stores could pick the same PassTicket
// second for one user, which CICS refuses as a reuse; in production they
// share Redis.)
func TestBinaryCompositeLegacyHop(t *testing.T) {
	d := startCompositeDemo(t)
	direct := d.startEdge("direct", `<backend url="https://localhost:8444/services/mainframe-accounts" connectTimeout="2s" timeout="10s">
      <tls ca="pki/ca.crt" certificate="pki/server.crt" key="pki/server.key"/>
    </backend>`, `<backend url="`+d.backend.URL+`/cics" insecurePlaintext="true" connectTimeout="2s" timeout="10s"/>`,
		`<saml audience="urn:gatehouse:demo:mainframe-accounts">
      <issuer entityID="urn:gatehouse:demo:sts"/>
    </saml>`, `<saml audience="urn:gatehouse:demo:mainframe-accounts"><issuer entityID="urn:gatehouse:demo:sts"/></saml>
    <credentials map="racf-prod" render="usernameToken"/>`)
	r := d.call("https://"+direct.addr+"/services/onboarding", requests+"open-account-1001.xml", d.token(direct, "urn:gatehouse:demo:onboarding"))
	if !r.ok || !strings.Contains(r.out, "<b:AccountId>70000001</b:AccountId>") {
		d.stop()
		a, _ := os.ReadFile(direct.auditLog)
		t.Fatalf("OpenAccount with the edge mapping to CICS itself:\n%s\n%s", r.out, a)
	}
	if got := d.cics.SignOns(); len(got) != 1 || got[0] != "ALICE01" {
		t.Errorf("CICS sign-ons %v", got)
	}

	for _, b := range d.recorded.bodies("/cics") {
		if strings.Contains(b, "Assertion") || !strings.Contains(b, "<wsse:Username>ALICE01</wsse:Username>") {
			t.Errorf("CICS request:\n%s", b)
		}
	}
}

// TestBinaryCompositeEnforcementPointAuthorizes: the enforcement point
// decides for itself. With no rule there for CreateAccount, the hop the
// edge allowed is denied at the enforcement point, CICS is never called,
// and the consumer gets one fault.
func TestBinaryCompositeEnforcementPointAuthorizes(t *testing.T) {
	d := startCompositeDemo(t, `operation="{urn:gatehouse:demo:accounts}CreateAccount"`, `operation="{urn:gatehouse:demo:accounts}GetBalance"`)
	edge := d.startEdge("demo")
	r := d.call("https://"+edge.addr+"/services/onboarding", requests+"open-account-1001.xml", d.token(edge, "urn:gatehouse:demo:onboarding"))
	if r.ok || !strings.Contains(r.out, "<faultstring>composite service failed</faultstring>") || strings.Contains(r.out, "mainframe") {
		t.Errorf("OpenAccount:\n%s", r.out)
	}
	if len(d.recorded.bodies("/cics")) != 0 || len(d.cics.Ledger()) != 0 {
		t.Error("CICS was called")
	}
	d.stop()
	_, hops := chain(readAudit(t, edge.auditLog), r.correlationID)
	if c := hopsByOperation(hops)["mainframe-accounts CreateAccount"]; c.Decision != "allow" || c.Outcome != audit.OutcomeFault || c.BackendStatus != http.StatusForbidden {
		t.Errorf("edge's record of the hop %+v", c)
	}
	var ep *audit.Record
	for _, rec := range readAudit(t, filepath.Join(d.dir, "run", "enforcement-audit.log")) {
		if rec.CorrelationID == r.correlationID {
			ep = &rec
		}
	}
	if ep == nil || ep.Decision != "deny" || ep.Subject != "alice@example.com" || ep.Rule != "" || !strings.Contains(ep.Reason, "no rule allows") {
		t.Errorf("enforcement point record %+v", ep)
	}
}

// etreeAttr returns an attribute of the root element of an XML document.
func etreeAttr(t *testing.T, doc []byte, name string) string {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil || d.Root() == nil {
		t.Fatalf("not XML: %v", err)
	}
	return d.Root().SelectAttrValue(name, "")
}

// capturedAssertion takes the SAML assertion out of a request a backend
// received, with the namespaces it uses declared on it, as a compromised
// backend would.
func capturedAssertion(t *testing.T, body string) []byte {
	t.Helper()
	env, err := soap.Parse([]byte(body), soap.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var a *etree.Element
	for _, h := range env.HeaderBlocks() {
		for _, c := range h.ChildElements() {
			if c.Tag == "Assertion" {
				a = c
			}
		}
	}
	if a == nil {
		t.Fatalf("no assertion in\n%s", body)
	}
	doc := etree.NewDocument()
	doc.SetRoot(soap.Detach(a))
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBinaryCompositeHopSecurity: the security tests of composite hops
// through the real binaries.
//   - A subject allowed on the composite but not on one of its steps is
//     denied at that step; the account created before is closed again.
//   - A hop whose flow edge is missing is denied although the consumer
//     may call the composite.
//   - A backend that received a hop assertion (here KYC, made
//     SAML-protected) cannot use it elsewhere: the mainframe's enforcement
//     point refuses it even from the edge's own workload, and so does the
//     edge's accounts-secure service. The assertion names the KYC
//     audience only.
func TestBinaryCompositeHopSecurity(t *testing.T) {
	d := startCompositeDemo(t)
	const kycAudience = "urn:gatehouse:demo:kyc"
	strict := d.startEdge("strict",
		// Tellers may look customers up in a composite, but not link accounts.
		`service="customers" operation="*"`, `service="customers" operation="{urn:gatehouse:demo:customers}GetCustomer"`,
		// KYC wants an assertion: the edge mints one per hop.
		`<schema file="schemas/kyc.xsd"/>`, `<saml audience="`+kycAudience+`"><issuer entityID="urn:gatehouse:demo:sts"/></saml><schema file="schemas/kyc.xsd"/>`,
		// The test's KYC backend is plaintext, and now gets assertions.
		`<backend url="http://127.0.0.1:8081/kyc"`, `<backend url="`+d.backend.URL+`/kyc" insecurePlaintext="true"`)
	noFlow := d.startEdge("noflow", `<flow from="open-account" to="kyc"/>`, "")

	// Denied step, compensation.
	r := d.call("https://"+strict.addr+"/services/onboarding", requests+"open-account-1001.xml", d.token(strict, "urn:gatehouse:demo:onboarding"))
	if r.ok || !strings.Contains(r.out, "HTTP 500") || !strings.Contains(r.out, "composite service refused the request") {
		t.Errorf("denied step:\n%s", r.out)
	}
	for _, secret := range []string{"LinkAccount", "customers", "authoriz", "open-account-customers"} {
		if strings.Contains(r.out, secret) {
			t.Errorf("the consumer's fault names %q:\n%s", secret, r.out)
		}
	}
	if got := d.cics.Ledger(); len(got) != 1 || got[70000001] != "closed" {
		t.Errorf("ledger %v: the account must be closed again", got)
	}
	if got := d.customers.Links(1001); len(got) != 0 {
		t.Errorf("links %v", got)
	}
	strictID := r.correlationID

	// No flow edge composite → kyc.
	kycCalls := len(d.recorded.bodies("/kyc"))
	r = d.call("https://"+noFlow.addr+"/services/onboarding", requests+"open-account-1001.xml", d.token(noFlow, "urn:gatehouse:demo:onboarding"))
	if r.ok || !strings.Contains(r.out, "composite service refused the request") {
		t.Errorf("missing flow edge:\n%s", r.out)
	}
	if n := len(d.recorded.bodies("/kyc")); n != kycCalls {
		t.Errorf("KYC called %d times without a flow edge", n-kycCalls)
	}
	for id, state := range d.cics.Ledger() {
		if state != "closed" {
			t.Errorf("account %d left %s after the composite failed", id, state)
		}
	}
	noFlowID := r.correlationID

	// The hop assertion KYC received: its audience only, the composite in
	// its delegation chain.
	kyc := d.recorded.bodies("/kyc")
	if len(kyc) == 0 {
		t.Fatal("KYC was not called")
	}
	stolen := capturedAssertion(t, kyc[0])
	if n := strings.Count(string(stolen), "<saml:Audience>"); n != 1 || !strings.Contains(string(stolen), "<saml:Audience>"+kycAudience+"</saml:Audience>") {
		t.Errorf("hop assertion audiences:\n%s", stolen)
	}
	if !strings.Contains(string(stolen), "composite:open-account") {
		t.Errorf("hop assertion without the composite in its delegation chain:\n%s", stolen)
	}
	stolenFile := d.writeFile("stolen.xml", stolen)
	before := len(d.cics.Ledger())
	atEP := d.call("https://localhost:"+portOf(d.ep)+"/services/mainframe-accounts", d.createAccountRequest(), stolenFile, d.edgeCertArgs()...)
	if atEP.ok || !strings.Contains(atEP.out, "sc:InvalidSecurityToken") {
		t.Errorf("KYC's hop assertion at the mainframe's enforcement point:\n%s", atEP.out)
	}
	if len(d.cics.Ledger()) != before {
		t.Error("the stolen assertion opened an account")
	}
	atEdge := d.call("https://"+strict.addr+"/services/accounts-secure", requests+"get-balance-11.xml", stolenFile)
	if atEdge.ok || !strings.Contains(atEdge.out, "sc:InvalidSecurityToken") {
		t.Errorf("KYC's hop assertion at accounts-secure:\n%s", atEdge.out)
	}

	d.stop()
	_, hops := chain(readAudit(t, strict.auditLog), strictID)
	byOp := hopsByOperation(hops)
	if r := byOp["customers LinkAccount"]; r.Decision != "deny" || r.Outcome != audit.OutcomeFault {
		t.Errorf("LinkAccount hop %+v", r)
	}
	if r := byOp["mainframe-accounts CloseAccount"]; r.Decision != "allow" || r.Outcome != audit.OutcomeOK || r.Hop <= byOp["customers LinkAccount"].Hop {
		t.Errorf("compensation hop %+v", r)
	}
	if r := byOp["kyc Check"]; r.Audience != kycAudience || r.TokenID != etreeAttr(t, stolen, "ID") {
		t.Errorf("KYC hop record %+v", r)
	}
	_, hops = chain(readAudit(t, noFlow.auditLog), noFlowID)
	if r := hopsByOperation(hops)["kyc Check"]; r.Decision != "deny" || !strings.Contains(r.Reason, "no flow edge open-account → kyc") {
		t.Errorf("KYC hop without a flow edge %+v", r)
	}
	var epReplay *audit.Record
	for _, r := range readAudit(t, filepath.Join(d.dir, "run", "enforcement-audit.log")) {
		if r.CorrelationID == atEP.correlationID {
			epReplay = &r
		}
	}
	if epReplay == nil || epReplay.Outcome != audit.OutcomeFault || !strings.Contains(epReplay.Reason, "audience") {
		t.Errorf("enforcement point record of the stolen assertion %+v", epReplay)
	}
}

// createAccountRequest writes a SOAP 1.1 CreateAccount request for
// customer 1001 and returns its path.
func (d *compositeDemo) createAccountRequest() string {
	return d.writeFile("create.xml", []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
		`<a:CreateAccount xmlns:a="urn:gatehouse:demo:accounts"><a:Customer>1001</a:Customer><a:Product>savings</a:Product></a:CreateAccount></soap:Body></soap:Envelope>`))
}

// edgeCertArgs are gatehouse call's flags to call as the edge's own
// workload (demopki.EdgeSPIFFEID), as the edge calls the enforcement point.
func (d *compositeDemo) edgeCertArgs() []string {
	return []string{"-cert", filepath.Join(d.pki, demopki.ServerCert), "-key", filepath.Join(d.pki, demopki.ServerKey), "-cacert", filepath.Join(d.pki, demopki.CACert)}
}

// TestBinaryEnforcementPointWantsTheComposite: the enforcement point's
// rules want composite:open-account as the last actor of the assertion's
// delegation chain. A token the teller gets from the edge's STS for the
// mainframe's audience directly has no chain; presented with the edge's
// own certificate and a CreateAccount, it meets the rule's caller and role
// but not that, and is refused: HTTP 403, CICS never called, a deny in the
// enforcement point's audit. (The composite's real hops, which carry the
// chain, pass: TestBinaryCompositeOpenAccount.)
func TestBinaryEnforcementPointWantsTheComposite(t *testing.T) {
	d := startCompositeDemo(t)
	edge := d.startEdge("demo")
	token := d.token(edge, mainframeAudience)
	if a, _ := os.ReadFile(token); strings.Contains(string(a), "Delegate") {
		t.Fatalf("the teller's own token has a delegation chain:\n%s", a)
	}
	r := d.call("https://localhost:"+portOf(d.ep)+"/services/mainframe-accounts", d.createAccountRequest(), token, d.edgeCertArgs()...)
	if r.ok || !strings.Contains(r.out, "HTTP 403") || !strings.Contains(r.out, "<faultstring>not authorized</faultstring>") {
		t.Errorf("the teller's own token at the enforcement point:\n%s", r.out)
	}
	if len(d.cics.Ledger()) != 0 || len(d.recorded.bodies("/cics")) != 0 {
		t.Errorf("CICS was called: ledger %v", d.cics.Ledger())
	}
	d.stop()
	var ep *audit.Record
	for _, rec := range readAudit(t, filepath.Join(d.dir, "run", "enforcement-audit.log")) {
		if rec.CorrelationID == r.correlationID {
			ep = &rec
		}
	}
	if ep == nil || ep.Decision != "deny" || ep.Rule != "" || ep.Caller != demopki.EdgeSPIFFEID || ep.Subject != "alice@example.com" ||
		ep.Audience != mainframeAudience || len(ep.Delegation) != 0 || ep.LegacyUser != "" || !strings.Contains(ep.Reason, "no rule allows") {
		t.Errorf("enforcement point record %+v", ep)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
