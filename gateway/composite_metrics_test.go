package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
)

// scrape returns the admin /metrics page.
func (e *env) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + e.gw.AdminAddr().String() + "/metrics")
	must(t, err)
	return readAll(t, resp)
}

// sample returns the value of one series on a /metrics page (labels in
// the exposition's order: sorted by name), and whether it is there.
func sample(page, series string) (string, bool) {
	for line := range strings.Lines(page) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v, true
		}
	}
	return "", false
}

// wantSamples checks series → value; value "" means the series must be absent.
func wantSamples(t *testing.T, page string, want map[string]string) {
	t.Helper()
	for series, w := range want {
		v, ok := sample(page, series)
		switch {
		case w == "" && ok:
			t.Errorf("%s = %s, want no such series", series, v)
		case w != "" && v != w:
			t.Errorf("%s = %q, want %s", series, v, w)
		}
	}
}

// TestCompositeMetrics: a successful run shows as one ok run of the
// composite and one ok observation of each of its steps; the failure
// counters of its steps exist at 0 before anything failed.
func TestCompositeMetrics(t *testing.T) {
	e := compositeEnv(t, true)
	resp := postSummary(t, e)
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("composite: %d %s", resp.StatusCode, body)
	}
	const c = `composite="balance-summary"`
	wantSamples(t, e.scrape(t), map[string]string{
		`gatehouse_composite_duration_seconds_count{` + c + `,outcome="ok"}`:                      "1",
		`gatehouse_composite_duration_seconds_count{` + c + `,outcome="fault"}`:                   "",
		`gatehouse_composite_duration_seconds_count{` + c + `,outcome="deadline"}`:                "",
		`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="ok",step="first"}`:    "1",
		`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="ok",step="second"}`:   "1",
		`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="fault",step="first"}`: "",
		`gatehouse_composite_step_failures_total{` + c + `,step="first"}`:                         "0",
		`gatehouse_composite_step_failures_total{` + c + `,step="second"}`:                        "0",
	})
}

const payXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:gatehouse:test:pay" elementFormDefault="qualified">
  <xs:element name="Pay"><xs:complexType><xs:sequence>
    <xs:element name="From" type="xs:int"/><xs:element name="To" type="xs:int"/>
    <xs:element name="Amount" type="xs:decimal"/><xs:element name="Reference" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="PayResponse"><xs:complexType><xs:sequence>
    <xs:element name="Reference" type="xs:string"/><xs:element name="Balance" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

// payComposite is a small saga: transfer, then confirm with the payer's
// balance. The transfer is undone by the reverse transfer, with the
// reference the backend confirmed; COMPENSATE_ON is the compensate
// element's service attribute (empty: the invoke's service).
const payComposite = `<composite xmlns="urn:gatehouse:orchestration:1" xmlns:p="urn:gatehouse:test:pay" xmlns:a="urn:gatehouse:demo:accounts"
    name="pay" deadline="5s">
  <input element="{urn:gatehouse:test:pay}Pay"/>
  <output element="{urn:gatehouse:test:pay}PayResponse"/>
  <sequence>
    <invoke name="transfer" service="accounts" operation="{urn:gatehouse:demo:accounts}Transfer" result="transfer" timeout="2s">
      <request><a:Transfer><a:FromAccount><value-of select="$input/p:From"/></a:FromAccount><a:ToAccount><value-of select="$input/p:To"/></a:ToAccount>
        <a:Amount><value-of select="$input/p:Amount"/></a:Amount><a:Currency>EUR</a:Currency><a:Reference><value-of select="$input/p:Reference"/></a:Reference></a:Transfer></request>
      <compensate COMPENSATE_ON operation="{urn:gatehouse:demo:accounts}Transfer">
        <request><a:Transfer><a:FromAccount><value-of select="$input/p:To"/></a:FromAccount><a:ToAccount><value-of select="$input/p:From"/></a:ToAccount>
          <a:Amount><value-of select="$input/p:Amount"/></a:Amount><a:Currency>EUR</a:Currency><a:Reference><value-of select="concat('undo-', $transfer/a:Reference)"/></a:Reference></a:Transfer></request>
      </compensate>
    </invoke>
    <invoke name="confirm" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="balance" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/p:From"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <reply><p:PayResponse><p:Reference><value-of select="$transfer/a:Reference"/></p:Reference><p:Balance><value-of select="$balance/a:Balance"/></p:Balance></p:PayResponse></reply>
  </sequence>
</composite>`

// payPolicy lets the composite transfer on accounts, and nothing else: its
// confirm step (GetBalance) is refused by default deny, and it has no flow
// edge to accounts11.
const payPolicy = `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <composite name="pay"/>
    <flow from="demo-workloads" to="payments"/>
    <flow from="pay" to="accounts"/>
    <rule id="payments" effect="allow" service="payments" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
    <rule id="pay-transfers" effect="allow" service="accounts" operation="{urn:gatehouse:demo:accounts}Transfer">
      <caller prefix="spiffe://demo.gatehouse.internal/"/><position composite="pay"/>
    </rule>
  </policy>`

const payRequest = `<p:Pay xmlns:p="urn:gatehouse:test:pay"><p:From>17</p:From><p:To>23</p:To><p:Amount>12.50</p:Amount><p:Reference>R-1001</p:Reference></p:Pay>`

// publicRefusal is the whole answer the consumer gets when a hop of a
// composite is refused: a standard fault code and a generic text.
const publicRefusal = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
	`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
	`<faultcode>soap:Client</faultcode><faultstring>composite service refused the request</faultstring>` +
	`</soap:Fault></soap:Body></soap:Envelope>`

func payEnv(t *testing.T, compensateOn string) *env {
	t.Helper()
	return compositeServiceEnv(t, "payments", payXSD, strings.Replace(payComposite, "COMPENSATE_ON", compensateOn, 1), envOptions{policy: payPolicy})
}

func postPay(t *testing.T, e *env) *http.Response {
	t.Helper()
	return postComposite(t, e, "payments", payRequest)
}

// hopRecords waits for the audit records of a request (the invocation's is
// written after the response) and returns its hops' records in the order
// they were written.
func hopRecords(t *testing.T, e *env, id string) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var hops []audit.Record
		top := 0
		for _, r := range e.records(t) {
			switch {
			case r.CorrelationID != id:
			case r.Hop == 0:
				top++
			default:
				hops = append(hops, r)
			}
		}
		if top == 1 {
			return hops
		}
		if top > 1 || time.Now().After(deadline) {
			t.Fatalf("%d invocation records for correlation id %q, want 1", top, id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hopSummary is what a test compares of a hop's audit record.
func hopSummary(r audit.Record) string {
	return strings.Join([]string{r.Service, r.Operation, r.Decision, r.Rule, r.Outcome}, " ")
}

// TestCompositeCompensation: a saga through the gateway. The transfer
// completes, the next hop is refused by the policy, and the transfer is
// undone by a compensation call that is itself a hop: authorized on its
// own, audited with the request's correlation id and the next hop number.
// The consumer gets one generic fault; the metrics show the compensation
// and the failed run. When the policy refuses the compensation hop, the
// backend sees no compensation call and the metrics say it failed.
func TestCompositeCompensation(t *testing.T) {
	const (
		transfer   = "{urn:gatehouse:demo:accounts}Transfer"
		getBalance = "{urn:gatehouse:demo:accounts}GetBalance"
		c          = `composite="pay"`
	)

	t.Run("compensated", func(t *testing.T) {
		e := payEnv(t, "")
		resp := postPay(t, e)
		id := resp.Header.Get("X-Correlation-ID")
		if body := readAll(t, resp); resp.StatusCode != 500 || body != publicRefusal {
			t.Errorf("consumer got %d %s, want 500 with only the generic refusal", resp.StatusCode, body)
		}

		// The backend saw the transfer and its reversal, nothing else.
		if n := e.backend.Calls(); n != 2 {
			t.Errorf("backend calls %d, want 2 (transfer, compensation)", n)
		}
		undo := string(e.backend.LastRequest())
		for _, w := range []string{"<a:FromAccount>23</a:FromAccount>", "<a:ToAccount>17</a:ToAccount>", "<a:Amount>12.50</a:Amount>", "<a:Reference>undo-R-1001</a:Reference>"} {
			if !strings.Contains(undo, w) {
				t.Errorf("last backend request lacks %s: %s", w, undo)
			}
		}
		if got := e.backend.LastCorrelationID(); got != id {
			t.Errorf("compensation call carried correlation id %q, want %q", got, id)
		}

		// One audit record per hop, in order: the compensation is hop 3,
		// allowed by the rule like any hop.
		hops := hopRecords(t, e, id)
		var nums []int
		var got []string
		for _, r := range hops {
			nums, got = append(nums, r.Hop), append(got, hopSummary(r))
		}
		want := []string{
			"accounts " + transfer + " allow pay-transfers ok",
			"accounts " + getBalance + " deny  fault",
			"accounts " + transfer + " allow pay-transfers ok",
		}
		if !slices.Equal(nums, []int{1, 2, 3}) || !slices.Equal(got, want) {
			t.Errorf("hop records (hop numbers %v):\n%s\nwant hops 1, 2, 3:\n%s", nums, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		wantSamples(t, e.scrape(t), map[string]string{
			`gatehouse_composite_compensations_total{` + c + `,outcome="ok",step="transfer"}`:           "1",
			`gatehouse_composite_compensations_total{` + c + `,outcome="failed",step="transfer"}`:       "0",
			`gatehouse_composite_duration_seconds_count{` + c + `,outcome="fault"}`:                     "1",
			`gatehouse_composite_duration_seconds_count{` + c + `,outcome="ok"}`:                        "",
			`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="ok",step="transfer"}`:   "1",
			`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="fault",step="confirm"}`: "1",
			`gatehouse_composite_step_failures_total{` + c + `,step="confirm"}`:                         "1",
			`gatehouse_composite_step_failures_total{` + c + `,step="transfer"}`:                        "0",
		})
	})

	// The compensation goes to accounts11, to which the composite has no
	// flow edge: the compensation hop is refused like any other hop.
	t.Run("compensation refused", func(t *testing.T) {
		e := payEnv(t, `service="accounts11"`)
		resp := postPay(t, e)
		id := resp.Header.Get("X-Correlation-ID")
		if body := readAll(t, resp); resp.StatusCode != 500 || body != publicRefusal {
			t.Errorf("consumer got %d %s, want 500 with only the generic refusal", resp.StatusCode, body)
		}
		if n := e.backend.Calls(); n != 1 {
			t.Errorf("backend calls %d, want 1 (the transfer; the compensation is refused)", n)
		}
		hops := hopRecords(t, e, id)
		if len(hops) != 3 || hops[2].Hop != 3 || hopSummary(hops[2]) != "accounts11 "+transfer+" deny  fault" || !strings.Contains(hops[2].Reason, "no flow edge") {
			t.Errorf("hop records %+v, want hop 3 the refused compensation", hops)
		}
		wantSamples(t, e.scrape(t), map[string]string{
			`gatehouse_composite_compensations_total{` + c + `,outcome="failed",step="transfer"}`: "1",
			`gatehouse_composite_compensations_total{` + c + `,outcome="ok",step="transfer"}`:     "",
			`gatehouse_composite_duration_seconds_count{` + c + `,outcome="fault"}`:               "1",
		})
	})
}

// slowBackend is the demo accounts service answering after five seconds,
// or as soon as the gateway hangs up.
func slowBackend() http.Handler {
	accounts := &demo.Accounts{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does net/http notice that the
		// gateway hung up, and cancel r's context.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		accounts.ServeHTTP(w, r)
	})
}

// TestCompositeDeadlineMetric: a run that outlives the composite's
// deadline is counted with outcome deadline, not fault.
func TestCompositeDeadlineMetric(t *testing.T) {
	def := strings.ReplaceAll(strings.Replace(summaryComposite, `deadline="5s"`, `deadline="200ms"`, 1), ` timeout="2s"`, "")
	e := compositeServiceEnv(t, "summary", summaryXSD, def, envOptions{policy: compositePolicy(true), backendHandler: slowBackend()})
	resp := postSummary(t, e)
	expectFault(t, resp, 500, "composite service failed")
	const c = `composite="balance-summary"`
	wantSamples(t, e.scrape(t), map[string]string{
		`gatehouse_composite_duration_seconds_count{` + c + `,outcome="deadline"}`: "1",
		`gatehouse_composite_duration_seconds_count{` + c + `,outcome="fault"}`:    "",
		`gatehouse_composite_step_failures_total{` + c + `,step="first"}`:          "1",
	})
}

// TestCompositeCancelledStepMetric: a branch stopped because its parallel
// sibling failed is labelled cancelled and not counted as a failure of its
// own; the sibling's refusal is.
func TestCompositeCancelledStepMetric(t *testing.T) {
	def := strings.Replace(summaryComposite, `<sequence>`, `<sequence><parallel>`, 1)
	def = strings.Replace(def, `<reply>`, `</parallel><reply>`, 1)
	// The second branch transfers, which no rule allows: it fails at once.
	def = strings.Replace(def, `<invoke name="second" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="two" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/s:Second"/></a:AccountId></a:GetBalance></request>`,
		`<invoke name="second" service="accounts" operation="{urn:gatehouse:demo:accounts}Transfer" result="two" timeout="2s">
      <request><a:Transfer><a:FromAccount>1</a:FromAccount><a:ToAccount>2</a:ToAccount><a:Amount>1.00</a:Amount><a:Currency>EUR</a:Currency><a:Reference>r</a:Reference></a:Transfer></request>`, 1)
	def = strings.Replace(def, `<s:Balance><value-of select="$two/a:Balance"/></s:Balance>`, "", 1)
	if !strings.Contains(def, "<parallel>") || !strings.Contains(def, "Transfer") {
		t.Fatal("the composite did not change")
	}
	e := compositeServiceEnv(t, "summary", summaryXSD, def, envOptions{policy: compositePolicy(true), backendHandler: slowBackend()})
	start := time.Now()
	expectFault(t, postSummary(t, e), 500, "composite service refused the request")
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the first branch was not cancelled: %v", d)
	}
	const c = `composite="balance-summary"`
	wantSamples(t, e.scrape(t), map[string]string{
		`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="cancelled",step="first"}`: "1",
		`gatehouse_composite_step_duration_seconds_count{` + c + `,outcome="fault",step="first"}`:     "",
		`gatehouse_composite_step_failures_total{` + c + `,step="first"}`:                             "0",
		`gatehouse_composite_step_failures_total{` + c + `,step="second"}`:                            "1",
	})
}
