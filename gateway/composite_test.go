package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

const summaryXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:gatehouse:test:summary" elementFormDefault="qualified">
  <xs:element name="Summary"><xs:complexType><xs:sequence>
    <xs:element name="First" type="xs:int"/><xs:element name="Second" type="xs:int"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="SummaryResponse"><xs:complexType><xs:sequence>
    <xs:element name="Balance" type="xs:string" maxOccurs="2"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

const summaryComposite = `<composite xmlns="urn:gatehouse:orchestration:1" xmlns:s="urn:gatehouse:test:summary" xmlns:a="urn:gatehouse:demo:accounts"
    name="balance-summary" deadline="5s">
  <input element="{urn:gatehouse:test:summary}Summary"/>
  <output element="{urn:gatehouse:test:summary}SummaryResponse"/>
  <sequence>
    <invoke name="first" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="one" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/s:First"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <invoke name="second" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="two" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/s:Second"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <reply><s:SummaryResponse><s:Balance><value-of select="$one/a:Balance"/></s:Balance><s:Balance><value-of select="$two/a:Balance"/></s:Balance></s:SummaryResponse></reply>
  </sequence>
</composite>`

// compositePolicy lets demo workloads call the composite, and the
// composite call accounts only when withEdge.
func compositePolicy(withEdge bool) string {
	edge := ""
	if withEdge {
		edge = `<flow from="balance-summary" to="accounts"/>`
	}
	return `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <composite name="balance-summary"/>
    <flow from="demo-workloads" to="summary"/>` + edge + `
    <rule id="summary" effect="allow" service="summary" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
    <rule id="summary-hops" effect="allow" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance">
      <caller prefix="spiffe://demo.gatehouse.internal/"/><position composite="balance-summary"/>
    </rule>
  </policy>`
}

func compositeEnv(t *testing.T, withEdge bool) *env {
	t.Helper()
	return summaryEnv(t, summaryComposite, compositePolicy(withEdge))
}

// summaryEnv serves the composite definition at /services/summary (service
// "summary", payload schema summaryXSD) under policy.
func summaryEnv(t *testing.T, definition, policy string) *env {
	t.Helper()
	return compositeServiceEnv(t, "summary", summaryXSD, definition, envOptions{policy: policy})
}

// compositeServiceEnv serves a composite definition as service name at
// /services/NAME (SOAP 1.1 and 1.2) with payload schema xsd; o gives the
// policy and any other option (o.dir and o.extraServices are set here).
func compositeServiceEnv(t testing.TB, name, xsd, definition string, o envOptions) *env {
	t.Helper()
	o.dir = t.TempDir()
	must(t, demopki.Generate(filepath.Join(o.dir, "pki")))
	must(t, os.WriteFile(filepath.Join(o.dir, name+".xsd"), []byte(xsd), 0o644))
	must(t, os.WriteFile(filepath.Join(o.dir, name+".xml"), []byte(definition), 0o644))
	o.extraServices = `<service name="` + name + `" path="/services/` + name + `" soapVersions="1.1 1.2">
    <composite definition="` + name + `.xml"/>
    <schema file="` + name + `.xsd"/>
  </service>`
	return newEnv(t, o)
}

// postComposite sends payload in a SOAP 1.1 envelope to /services/NAME
// with an empty SOAPAction.
func postComposite(t *testing.T, e *env, name, payload string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/services/"+name, strings.NewReader(envelope11(payload)))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	resp, err := e.client.Do(req)
	must(t, err)
	return resp
}

// postSummary sends the summary composite's request.
func postSummary(t *testing.T, e *env) *http.Response {
	t.Helper()
	return postComposite(t, e, "summary", summaryRequest)
}

const summaryRequest = `<s:Summary xmlns:s="urn:gatehouse:test:summary"><s:First>17</s:First><s:Second>23</s:Second></s:Summary>`

// TestCompositeHops: a composite runs its steps as hops, each authorized on
// its own and audited with the request's correlation id and its hop number;
// a hop whose flow edge is not listed is denied although the consumer may
// call the composite, and the consumer gets one clear fault.
func TestCompositeHops(t *testing.T) {
	e := compositeEnv(t, true)
	resp := postSummary(t, e)
	body := readAll(t, resp)
	if resp.StatusCode != 200 || strings.Count(body, "<s:Balance>") != 2 {
		t.Fatalf("composite: %d %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("X-Correlation-ID")
	hops := map[int]string{}
	for _, r := range e.records(t) {
		if r.CorrelationID == id && r.Hop > 0 {
			hops[r.Hop] = r.Decision + "/" + r.Rule + "/" + r.Service
		}
	}
	if len(hops) != 2 || hops[1] != "allow/summary-hops/accounts" || hops[2] != "allow/summary-hops/accounts" {
		t.Errorf("hop audit records %v", hops)
	}
	if e.backend.Calls() != 2 {
		t.Errorf("backend calls %d, want 2", e.backend.Calls())
	}

	// The same subject may not call accounts directly: the rule wants a hop.
	expectFault(t, e.post(t, accountsPath, envelope11(getBalance), "1.1"), 403, "not authorized")

	denied := compositeEnv(t, false)
	resp = postSummary(t, denied)
	fid := expectFault(t, resp, 500, "composite service refused the request")
	var hop1 string
	for _, r := range denied.records(t) {
		if r.CorrelationID == fid && r.Hop == 1 {
			hop1 = r.Decision + ": " + r.Reason
		}
	}
	if !strings.HasPrefix(hop1, "deny: ") || !strings.Contains(hop1, "no flow edge") {
		t.Errorf("hop 1 record %q", hop1)
	}
	if denied.backend.Calls() != 0 {
		t.Errorf("a hop without a flow edge reached the backend")
	}
}

// TestCompositeHopVersion: a hop speaks the SOAP version of the request
// when its target accepts it, else the one the target accepts: a SOAP 1.2
// call of the composite reaches the 1.1-only accounts11 in SOAP 1.1.
func TestCompositeHopVersion(t *testing.T) {
	policy := strings.NewReplacer(`to="accounts"`, `to="accounts11"`, `service="accounts"`, `service="accounts11"`).Replace(compositePolicy(true))
	e := summaryEnv(t, strings.ReplaceAll(summaryComposite, `service="accounts"`, `service="accounts11"`), policy)
	req, _ := http.NewRequest(http.MethodPost, e.base+"/services/summary", strings.NewReader(envelope12(summaryRequest)))
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	resp, err := e.client.Do(req)
	must(t, err)
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "http://www.w3.org/2003/05/soap-envelope") || strings.Count(body, "<s:Balance>") != 2 {
		t.Fatalf("composite over SOAP 1.2: %d %s", resp.StatusCode, body)
	}
	if last := string(e.backend.LastRequest()); !strings.Contains(last, "http://schemas.xmlsoap.org/soap/envelope/") {
		t.Errorf("the 1.1-only backend got:\n%s", last)
	}
	id := resp.Header.Get("X-Correlation-ID")
	for _, r := range e.records(t) {
		if r.CorrelationID == id && r.Hop > 0 && (r.SOAPVersion != "1.1" || r.Outcome != "ok") {
			t.Errorf("hop %d: SOAP %s %s", r.Hop, r.SOAPVersion, r.Outcome)
		}
	}
}

// TestCompositeHopRequestValidated: a request a composite builds is checked
// against the target's schema before it leaves, like a consumer's: one
// that does not match fails the composite, and the backend gets nothing.
func TestCompositeHopRequestValidated(t *testing.T) {
	bad := strings.Replace(summaryComposite, `<a:AccountId><value-of select="$input/s:Second"/></a:AccountId>`, `<a:AccountId>second</a:AccountId>`, 1)
	if bad == summaryComposite {
		t.Fatal("the composite did not change")
	}
	e := summaryEnv(t, bad, compositePolicy(true))
	id := expectFault(t, postSummary(t, e), 500, "composite service failed")
	if e.backend.Calls() != 1 {
		t.Errorf("backend calls %d, want 1 (the first hop only)", e.backend.Calls())
	}
	var hop2 string
	for _, r := range e.records(t) {
		if r.CorrelationID == id && r.Hop == 2 {
			hop2 = r.Outcome + ": " + r.Reason
		}
	}
	if !strings.HasPrefix(hop2, "fault: ") || !strings.Contains(hop2, "does not match the schema of accounts") || strings.Contains(hop2, "second") {
		t.Errorf("hop 2 record %q", hop2)
	}
}
