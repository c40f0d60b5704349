package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

const contractPath = "/services/contract"

// contractEnv runs the demo accounts service behind Gatehouse as
// "contract", configured from the demo's WSDL (SOAP 1.1 and 1.2 ports)
// instead of a schema.
func contractEnv(t *testing.T) *env { return contractEnvWith(t, "", &demo.Accounts{}) }

// contractEnvWith has attrs on the <wsdl> element and backend behind it.
func contractEnvWith(t *testing.T, attrs string, backend http.Handler) *env {
	return contractEnvOpts(t, contractOptions{attrs: attrs, backend: backend})
}

type contractOptions struct {
	attrs    string              // on <wsdl>
	security string              // the service's <security>
	backend  http.Handler        // default: the demo accounts backend
	edit     func(string) string // changes the demo WSDL
}

func contractEnvOpts(t *testing.T, o contractOptions) *env {
	t.Helper()
	dir := t.TempDir()
	must(t, demopki.Generate(filepath.Join(dir, "pki")))
	for _, f := range []string{"accounts.wsdl", "schemas/accounts.xsd"} {
		data, err := os.ReadFile(filepath.Join("../conf/demo", f))
		must(t, err)
		if f == "accounts.wsdl" && o.edit != nil {
			data = []byte(o.edit(string(data)))
		}
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	if o.backend == nil {
		o.backend = &demo.Accounts{}
	}
	srv := httptest.NewServer(o.backend)
	t.Cleanup(srv.Close)
	return newEnv(t, envOptions{dir: dir, trust: trustInternal,
		extraServices: `<service name="contract" path="` + contractPath + `">
    <backend url="` + srv.URL + `/accounts" insecurePlaintext="true"/>
    ` + o.security + `
    <wsdl file="accounts.wsdl"` + o.attrs + `/>
  </service>`,
		policy: `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <flow from="demo-workloads" to="contract"/>
    <rule id="contract-all" effect="allow" service="contract" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
  </policy>`})
}

func (e *env) postAction(t *testing.T, path, v, action, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	must(t, err)
	if v == "1.2" {
		ct := "application/soap+xml; charset=utf-8"
		if action != "" {
			ct += `; action="` + action + `"`
		}
		req.Header.Set("Content-Type", ct)
	} else {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"`+action+`"`)
	}
	resp, err := e.client.Do(req)
	must(t, err)
	return resp, readAll(t, resp)
}

// A service configured from a WSDL takes exactly the inputs of its ports'
// operations, each with its own action; everything else is a Sender fault
// with the reason in the audit record.
func TestWSDLContractEnforced(t *testing.T) {
	e := contractEnv(t)
	const getBalance = `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId></a:GetBalance>`
	const balanceAnswer = `<a:GetBalanceResponse xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId><a:Balance>1.00</a:Balance><a:Currency>EUR</a:Currency></a:GetBalanceResponse>`
	for _, tc := range []struct {
		name, v, action, body string
		status                int
		reason                string // in the audit record
	}{
		{"GetBalance 1.1", "1.1", "urn:gatehouse:demo:accounts:GetBalance", envelope11(getBalance), 200, ""},
		{"GetBalance 1.2", "1.2", "urn:gatehouse:demo:accounts:GetBalance", envelope12(getBalance), 200, ""},
		{"no action", "1.1", "", envelope11(getBalance), 200, ""},
		// A global element of the WSDL's schema that is no operation's input.
		{"output element as input", "1.1", "", envelope11(balanceAnswer), 500, "is not the input of an operation"},
		// The last segment names the operation, which the naming convention
		// alone would accept: the WSDL says which action it is.
		{"foreign action", "1.1", "urn:evil:GetBalance", envelope11(getBalance), 500, "is not the action of an operation"},
		{"another operation's action", "1.2", "urn:gatehouse:demo:accounts:Transfer", envelope12(getBalance), 400, "is not the action of an operation"},
		{"wsa:Action differs", "1.1", "urn:gatehouse:demo:accounts:GetBalance", `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:gatehouse:demo:accounts:Transfer</wsa:Action></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`, 500, "differ"},
		{"a second body element", "1.1", "", envelope11(getBalance + getBalance), 500, "takes body elements"},
		{"empty body", "1.1", "", envelope11(""), 500, "is not the input of an operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.postAction(t, contractPath, tc.v, tc.action, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.reason == "" {
				return
			}
			if !strings.Contains(body, "Client") && !strings.Contains(body, "Sender") {
				t.Errorf("not a Sender fault: %s", body)
			}
			if strings.Contains(body, tc.reason) {
				t.Errorf("the fault tells the client the internal reason: %s", body)
			}
			rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
			if !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("audit reason %q, want …%s…", rec.Reason, tc.reason)
			}
		})
	}
}

// GET path?wsdl publishes the WSDL with the gateway's address and its
// imports at the gateway, with an ETag, to callers the listener accepts.
func TestWSDLPublished(t *testing.T) {
	e := contractEnv(t)
	get := func(c *http.Client, query, inm string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, e.base+contractPath+"?"+query, nil)
		must(t, err)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := c.Do(req)
		must(t, err)
		return resp, readAll(t, resp)
	}
	resp, wsdl := get(e.client, "wsdl", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("?wsdl: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), wsdl)
	}
	public := e.base + contractPath
	for _, want := range []string{`<soap:address location="` + public + `"/>`, `<soap12:address location="` + public + `"/>`, `schemaLocation="` + public + `?xsd=1"`} {
		if !strings.Contains(wsdl, want) {
			t.Errorf("published WSDL lacks %s", want)
		}
	}
	if strings.Contains(wsdl, "127.0.0.1:8081") || strings.Contains(wsdl, `schemaLocation="schemas/`) {
		t.Errorf("published WSDL names the backend or a file:\n%s", wsdl)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp, _ := get(e.client, "wsdl", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", resp.StatusCode)
	}
	if resp, _ := get(e.client, "WSDL", `"other"`); resp.StatusCode != 200 {
		t.Errorf("?WSDL with another ETag: %d, want 200", resp.StatusCode)
	}
	resp, xsd := get(e.client, "xsd=1", "")
	if resp.StatusCode != 200 || !strings.Contains(xsd, `<xs:element name="GetBalance">`) {
		t.Errorf("?xsd=1: %d %.200s", resp.StatusCode, xsd)
	}
	if resp, _ = get(e.client, "xsd=2", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("?xsd=2: %d, want 404", resp.StatusCode)
	}
	rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
	if rec.Operation != "?xsd=2" || rec.Status != http.StatusNotFound {
		t.Errorf("audit record of ?xsd=2: %+v", rec)
	}
	// The address is one of the service's endpoints, whatever Host says.
	req, err := http.NewRequest(http.MethodGet, e.base+contractPath+"?wsdl", nil)
	must(t, err)
	req.Host = "evil.example"
	resp, err = e.client.Do(req)
	must(t, err)
	if body := readAll(t, resp); resp.StatusCode != 200 || strings.Contains(body, "evil.example") || !strings.Contains(body, `location="`+public+`"`) {
		t.Errorf("with Host evil.example: %d, published addresses:\n%s", resp.StatusCode, body)
	}
	// A caller without a client certificate gets nothing.
	resp, err = e.clientWith("", "").Get(e.base + contractPath + "?wsdl")
	if err == nil {
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "definitions") {
			t.Errorf("without a client certificate: %d %.200s", resp.StatusCode, body)
		}
	}
}

// With validateResponses, a backend's answer must be the operation's
// output or a fault it declares; anything else is a 502 and is not passed
// on to the consumer.
func TestWSDLResponsesValidated(t *testing.T) {
	var answer atomic.Value
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		body := answer.Load().(string)
		if strings.Contains(body, "Fault>") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte(body))
	})
	e := contractEnvOpts(t, contractOptions{attrs: ` validateResponses="true"`, backend: backend, edit: withRefusedFault})
	const getBalance = `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId></a:GetBalance>`
	for _, tc := range []struct {
		name, answer string
		status       int
		reason       string
	}{
		{"the output", envelope11(`<a:GetBalanceResponse xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId><a:Balance>1.00</a:Balance><a:Currency>EUR</a:Currency></a:GetBalanceResponse>`), 200, ""},
		{"another operation's output", envelope11(`<a:TransferResponse xmlns:a="urn:gatehouse:demo:accounts"><a:Status>done</a:Status><a:Reference>r-1</a:Reference></a:TransferResponse>`), 502, "answers with body elements"},
		{"the output, invalid", envelope11(`<a:GetBalanceResponse xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId><a:Balance>1.00</a:Balance><a:Currency>euro</a:Currency></a:GetBalanceResponse>`), 502, "Currency"},
		{"a fault without detail", envelope11(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>down</faultstring></soap:Fault>`), 500, ""},
		{"a fault with a declared detail", envelope11(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail><f:Refused xmlns:f="urn:test:faults"><f:Code>LIMIT</f:Code></f:Refused></detail></soap:Fault>`), 500, ""},
		{"a declared detail, invalid", envelope11(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail><f:Refused xmlns:f="urn:test:faults"><f:Reason>stack trace</f:Reason></f:Refused></detail></soap:Fault>`), 502, "fault detail"},
		{"a fault with an undeclared detail", envelope11(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail><x:Leak xmlns:x="urn:x">stack trace</x:Leak></detail></soap:Fault>`), 502, "is not a fault the operation declares"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(tc.answer)
			resp, body := e.postAction(t, contractPath, "1.1", "urn:gatehouse:demo:accounts:GetBalance", envelope11(getBalance))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.reason == "" {
				return
			}
			if strings.Contains(body, "stack trace") || strings.Contains(body, "TransferResponse") {
				t.Errorf("the refused answer reached the consumer: %s", body)
			}
			if rec := e.record(t, resp.Header.Get("X-Correlation-ID")); !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("audit reason %q, want …%s…", rec.Reason, tc.reason)
			}
		})
	}
}

// accountsPolicy attaches an asymmetric-binding policy with the given
// layout (and signed Body) to the demo WSDL's SOAP 1.1 binding.
func accountsPolicy(layout string) func(string) string {
	return func(w string) string {
		policy := `<wsp:Policy xmlns:wsp="http://www.w3.org/ns/ws-policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
      xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" wsu:Id="Signed">
    <sp:AsymmetricBinding><wsp:Policy>
      <sp:InitiatorToken><wsp:Policy><sp:X509Token><wsp:Policy><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token></wsp:Policy></sp:InitiatorToken>
      <sp:AlgorithmSuite><wsp:Policy><sp:Basic256Sha256/></wsp:Policy></sp:AlgorithmSuite>
      <sp:Layout><wsp:Policy><sp:` + layout + `/></wsp:Policy></sp:Layout>
      <sp:IncludeTimestamp/>
    </wsp:Policy></sp:AsymmetricBinding>
    <sp:SignedParts><sp:Body/></sp:SignedParts>
  </wsp:Policy>
  <wsdl:types>`
		w = strings.Replace(w, "<wsdl:types>", policy, 1)
		return strings.Replace(w, `<wsdl:binding name="AccountsSoap11" type="a:Accounts">`,
			`<wsdl:binding name="AccountsSoap11" type="a:Accounts"><wsp:PolicyReference xmlns:wsp="http://www.w3.org/ns/ws-policy" URI="#Signed"/>`, 1)
	}
}

// timestamped is a SOAP 1.1 GetBalance with a fresh Timestamp and no
// signature.
func timestamped() string {
	now := time.Now().UTC()
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		`<wsu:Timestamp><wsu:Created>` + now.Format("2006-01-02T15:04:05Z") + `</wsu:Created><wsu:Expires>` + now.Add(time.Minute).Format("2006-01-02T15:04:05Z") + `</wsu:Expires></wsu:Timestamp>` +
		`</wsse:Security></soap:Header><soap:Body>` + getBalance + `</soap:Body></soap:Envelope>`
}

// The WS-SecurityPolicy of the WSDL is enforced on top of the service's
// <security>: here <security> asks only for a Timestamp, the policy for a
// signature over Body and Timestamp in a given layout.
func TestWSDLSecurityPolicyEnforced(t *testing.T) {
	e := contractEnvOpts(t, contractOptions{security: `<security trust="internal" require="timestamp"/>`, edit: accountsPolicy("Strict")})
	resp, body := e.postAction(t, contractPath, "1.1", "urn:gatehouse:demo:accounts:GetBalance", signedRequest(t, e.dir))
	if resp.StatusCode != 200 {
		t.Fatalf("a signed request: %d %s", resp.StatusCode, body)
	}
	resp, body = e.postAction(t, contractPath, "1.1", "urn:gatehouse:demo:accounts:GetBalance", timestamped())
	if resp.StatusCode != 500 || !strings.Contains(body, invalidSecurity) {
		t.Fatalf("an unsigned request: %d %s", resp.StatusCode, body)
	}
	if rec := e.record(t, resp.Header.Get("X-Correlation-ID")); !strings.Contains(rec.Reason, "no signature over the Body") {
		t.Errorf("audit reason %q", rec.Reason)
	}
	// The SOAP 1.2 port has no policy: the service's <security> alone.
	resp, body = e.postAction(t, contractPath, "1.2", "urn:gatehouse:demo:accounts:GetBalance", strings.Replace(timestamped(), "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope", 1))
	if resp.StatusCode != 200 {
		t.Errorf("SOAP 1.2, no policy: %d %s", resp.StatusCode, body)
	}

	// Gatehouse's signer writes the Timestamp first: LaxTsLast refuses it.
	e = contractEnvOpts(t, contractOptions{security: `<security trust="internal" require="timestamp"/>`, edit: accountsPolicy("LaxTsLast")})
	resp, body = e.postAction(t, contractPath, "1.1", "urn:gatehouse:demo:accounts:GetBalance", signedRequest(t, e.dir))
	if resp.StatusCode != 500 || !strings.Contains(body, invalidSecurity) {
		t.Fatalf("LaxTsLast, Timestamp first: %d %s", resp.StatusCode, body)
	}
	if rec := e.record(t, resp.Header.Get("X-Correlation-ID")); !strings.Contains(rec.Reason, "LaxTsLast") {
		t.Errorf("audit reason %q", rec.Reason)
	}
}

// calcWSDL has an rpc/literal operation (typed parts in a wrapper) and a
// document/literal bare one (two body elements) in one SOAP 1.1 binding.
const calcWSDL = `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:c="urn:test:calc" targetNamespace="urn:test:calc">
  <types><xsd:schema targetNamespace="urn:test:calc" elementFormDefault="qualified">
    <xsd:element name="Key" type="xsd:string"/><xsd:element name="Region" type="xsd:string"/><xsd:element name="Answer" type="xsd:int"/>
  </xsd:schema></types>
  <message name="AddIn"><part name="a" type="xsd:int"/><part name="b" type="xsd:int"/></message>
  <message name="AddOut"><part name="sum" type="xsd:int"/></message>
  <message name="LookupIn"><part name="key" element="c:Key"/><part name="region" element="c:Region"/></message>
  <message name="LookupOut"><part name="answer" element="c:Answer"/></message>
  <portType name="Calc">
    <operation name="Add"><input message="c:AddIn"/><output message="c:AddOut"/></operation>
    <operation name="Lookup"><input message="c:LookupIn"/><output message="c:LookupOut"/></operation>
  </portType>
  <binding name="CalcSoap" type="c:Calc">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Add"><soap:operation soapAction="urn:test:calc#Add"/>
      <input><soap:body use="literal" namespace="urn:test:calc:rpc"/></input><output><soap:body use="literal" namespace="urn:test:calc:rpc"/></output></operation>
    <operation name="Lookup"><soap:operation soapAction="urn:test:calc#Lookup" style="document"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="Calc"><port name="CalcPort" binding="c:CalcSoap"><soap:address location="http://calc.internal/"/></port></service>
</definitions>`

// rpc/literal and document/literal bare operations through the gateway:
// the wrapper and its parts, the bare elements in order, and the answers
// (validateResponses) are held to the WSDL.
func TestWSDLRPCAndBare(t *testing.T) {
	var answer atomic.Value
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(envelope11(answer.Load().(string))))
	})
	e := contractEnvOpts(t, contractOptions{attrs: ` validateResponses="true"`, backend: backend, edit: func(string) string { return calcWSDL }})
	const rpcOK = `<sum>5</sum>`
	for _, tc := range []struct {
		name, action, body, answer string
		status                     int
		reason                     string
	}{
		{"rpc", "urn:test:calc#Add", `<r:Add xmlns:r="urn:test:calc:rpc"><a>2</a><b>3</b></r:Add>`, `<r:AddResponse xmlns:r="urn:test:calc:rpc">` + rpcOK + `</r:AddResponse>`, 200, ""},
		{"rpc, a part of the wrong type", "urn:test:calc#Add", `<r:Add xmlns:r="urn:test:calc:rpc"><a>two</a><b>3</b></r:Add>`, "", 500, "not a valid value"},
		{"rpc, a part missing", "urn:test:calc#Add", `<r:Add xmlns:r="urn:test:calc:rpc"><a>2</a></r:Add>`, "", 500, "Missing child element"},
		{"rpc, a qualified part", "urn:test:calc#Add", `<r:Add xmlns:r="urn:test:calc:rpc"><r:a>2</r:a><b>3</b></r:Add>`, "", 500, "not expected"},
		{"rpc, answer of the wrong type", "urn:test:calc#Add", `<r:Add xmlns:r="urn:test:calc:rpc"><a>2</a><b>3</b></r:Add>`, `<r:AddResponse xmlns:r="urn:test:calc:rpc"><sum>five</sum></r:AddResponse>`, 502, "not a valid value"},
		{"bare", "urn:test:calc#Lookup", `<c:Key xmlns:c="urn:test:calc">k</c:Key><c:Region xmlns:c="urn:test:calc">eu</c:Region>`, `<c:Answer xmlns:c="urn:test:calc">42</c:Answer>`, 200, ""},
		{"bare, an element missing", "urn:test:calc#Lookup", `<c:Key xmlns:c="urn:test:calc">k</c:Key>`, "", 500, "takes body elements"},
		{"bare, out of order", "", `<c:Region xmlns:c="urn:test:calc">eu</c:Region><c:Key xmlns:c="urn:test:calc">k</c:Key>`, "", 500, "is not the input of an operation"},
		{"bare, the rpc operation's action", "urn:test:calc#Add", `<c:Key xmlns:c="urn:test:calc">k</c:Key><c:Region xmlns:c="urn:test:calc">eu</c:Region>`, "", 500, "is not the action of an operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer.Store(tc.answer)
			resp, body := e.postAction(t, contractPath, "1.1", tc.action, envelope11(tc.body))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.reason == "" {
				return
			}
			if rec := e.record(t, resp.Header.Get("X-Correlation-ID")); !strings.Contains(rec.Reason, tc.reason) {
				t.Errorf("audit reason %q, want …%s…", rec.Reason, tc.reason)
			}
		})
	}
}

// withRefusedFault declares a fault {urn:test:faults}Refused (a Code
// element) on GetBalance in the demo WSDL.
func withRefusedFault(w string) string {
	r := strings.NewReplacer(
		`</wsdl:types>`, `<xs:schema targetNamespace="urn:test:faults" elementFormDefault="qualified"><xs:element name="Refused"><xs:complexType><xs:sequence><xs:element name="Code" type="xs:string"/></xs:sequence></xs:complexType></xs:element></xs:schema></wsdl:types>
  <wsdl:message name="RefusedFault"><wsdl:part name="detail" element="f:Refused" xmlns:f="urn:test:faults"/></wsdl:message>`,
		`<wsdl:operation name="GetBalance"><wsdl:input message="a:GetBalanceIn"/><wsdl:output message="a:GetBalanceOut"/></wsdl:operation>`,
		`<wsdl:operation name="GetBalance"><wsdl:input message="a:GetBalanceIn"/><wsdl:output message="a:GetBalanceOut"/><wsdl:fault name="Refused" message="a:RefusedFault"/></wsdl:operation>`)
	return r.Replace(w)
}
