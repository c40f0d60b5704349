package gateway_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/gateway/internal/demo"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it accepts
// POST /v1/traces with a protobuf ExportTraceServiceRequest and keeps the
// spans and resources it received.
type otlpReceiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	spans     []*tracepb.Span
	resources []*commonpb.KeyValue
	bad       []string // requests it could not take
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	o := &otlpReceiver{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			o.bad = append(o.bad, fmt.Sprintf("%s %s %s: %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			o.resources = append(o.resources, rs.GetResource().GetAttributes()...)
			for _, ss := range rs.ScopeSpans {
				o.spans = append(o.spans, ss.Spans...)
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *otlpReceiver) received() ([]*tracepb.Span, []*commonpb.KeyValue, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*tracepb.Span(nil), o.spans...), append([]*commonpb.KeyValue(nil), o.resources...), append([]string(nil), o.bad...)
}

// traceparentRecorder is the demo backend, noting the traceparent header
// of every request it gets.
type traceparentRecorder struct {
	next http.Handler
	mu   sync.Mutex
	got  []string
}

func (b *traceparentRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.got = append(b.got, strings.Join(r.Header.Values("traceparent"), ","))
	b.mu.Unlock()
	b.next.ServeHTTP(w, r)
}

func (b *traceparentRecorder) headers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.Key] = v.GetStringValue()
		default:
			m[kv.Key] = fmt.Sprint(v.GetIntValue())
		}
	}
	return m
}

// Consumer trace context of the tests: a sampled parent.
const (
	consumerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	consumerSpanID  = "00f067aa0ba902b7"
	consumerParent  = "00-" + consumerTraceID + "-" + consumerSpanID + "-01"
)

func postSigned(t *testing.T, e *env, body, traceparent string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := e.client.Do(req)
	must(t, err)
	return resp
}

// TestTracingSpans: with <tracing>, one signed request that comes with a
// consumer's traceparent makes a server span in the consumer's trace
// (its span the parent), with a child span per stage and the identity and
// decision as attributes, none of which holds the message or its
// signature; the backend gets a traceparent in the same trace, whose
// parent is the gateway's backend span. Shutdown flushes the spans to the
// collector.
func TestTracingSpans(t *testing.T) {
	recv := startOTLPReceiver(t)
	backend := &traceparentRecorder{next: &demo.Accounts{}}
	tracing := `<tracing endpoint="` + recv.srv.URL + `/v1/traces" sampling="1" serviceName="gatehouse-test">` +
		`<resource name="deployment.environment" value="test"/></tracing>`
	e := newEnv(t, envOptions{trust: trustInternal, security: signingPolicy, tracing: tracing, backendHandler: backend})

	body := signedRequest(t, e.dir)
	resp := postSigned(t, e, body, consumerParent)
	if got := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	correlation := resp.Header.Get("X-Correlation-ID")
	// An unsigned request is refused: its span is an error with the fault
	// code, and without the reason.
	resp = postSigned(t, e, envelope11(getBalance), "")
	refused := expectFault(t, resp, http.StatusInternalServerError, "InvalidSecurity")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, e.gw.Shutdown(ctx)) // flushes the batch of spans

	spans, resource, bad := recv.received()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %q", bad)
	}
	if r := attrs(resource); r["service.name"] != "gatehouse-test" || r["deployment.environment"] != "test" {
		t.Errorf("resource = %v, want service.name gatehouse-test and deployment.environment test", r)
	}
	byName := map[string]*tracepb.Span{} // of the consumer's trace (the refused request starts its own)
	for _, s := range spans {
		if hex.EncodeToString(s.TraceId) == consumerTraceID {
			byName[s.Name] = s
		}
	}
	server := byName["SOAP accounts GetBalance"]
	if server == nil {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no span SOAP accounts GetBalance in the consumer's trace among %q", names)
	}
	if got := hex.EncodeToString(server.TraceId); got != consumerTraceID {
		t.Errorf("server span trace id %s, want the consumer's %s", got, consumerTraceID)
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != consumerSpanID {
		t.Errorf("server span parent %s, want the consumer's span %s", got, consumerSpanID)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span kind %v", server.Kind)
	}
	sa := attrs(server.Attributes)
	for _, s := range spans {
		t.Logf("span %q %x parent %x: %v", s.Name, s.SpanId, s.ParentSpanId, attrs(s.Attributes))
	}
	for k, want := range map[string]string{
		"gatehouse.caller":          "spiffe://demo.gatehouse.internal/",
		"gatehouse.authn":           "",
		"gatehouse.decision":        "allow",
		"gatehouse.rule":            "tests-accounts",
		"gatehouse.service":         "accounts",
		"gatehouse.operation":       "{urn:gatehouse:demo:accounts}GetBalance",
		"gatehouse.correlation_id":  correlation,
		"http.response.status_code": "200",
	} {
		got, ok := sa[k]
		switch {
		case !ok:
			t.Errorf("server span has no attribute %s (has %v)", k, sa)
		case !strings.HasPrefix(got, want):
			t.Errorf("server span %s = %q, want %q", k, got, want)
		}
	}
	if sa["gatehouse.authn"] == "" {
		t.Error("gatehouse.authn is empty")
	}

	for _, name := range []string{"parse", "validate", "wssecurity", "admission", "authorize", "credentials", "backend"} {
		s := byName[name]
		switch {
		case s == nil:
			t.Errorf("no child span %s", name)
		case string(s.ParentSpanId) != string(server.SpanId) || string(s.TraceId) != string(server.TraceId):
			t.Errorf("span %s is not a child of the server span", name)
		case s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR:
			t.Errorf("span %s has status error", name)
		}
	}

	// Nothing of the message: not its content, its signature or the signer's certificate.
	sig := regexp.MustCompile(`SignatureValue>([^<]+)<`).FindStringSubmatch(body)
	cert := regexp.MustCompile(`BinarySecurityToken[^>]*>([^<]+)<`).FindStringSubmatch(body)
	if sig == nil || cert == nil {
		t.Fatal("test request has no signature or no BinarySecurityToken")
	}
	forbidden := []string{"4711", "<", sig[1][:24], cert[1][:24]}
	for _, s := range spans {
		for k, v := range attrs(s.Attributes) {
			for _, f := range forbidden {
				if strings.Contains(v, f) {
					t.Errorf("span %s attribute %s = %q contains %q of the request", s.Name, k, v, f)
				}
			}
		}
	}

	reason := e.record(t, refused).Reason
	var failed *tracepb.Span
	for _, s := range spans {
		if attrs(s.Attributes)["gatehouse.correlation_id"] == refused {
			failed = s
		}
	}
	switch {
	case reason == "":
		t.Error("the refused request's audit record has no reason")
	case failed == nil:
		t.Error("no span for the refused request")
	case failed.Name != "SOAP accounts" || failed.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR ||
		failed.Status.GetMessage() != attrs(failed.Attributes)["gatehouse.fault_code"] || !strings.Contains(failed.Status.GetMessage(), "InvalidSecurity"):
		t.Errorf("refused request's span %q status %v, attributes %v; want SOAP accounts, error with the fault code", failed.Name, failed.Status, attrs(failed.Attributes))
	}
	for _, s := range spans {
		for k, v := range attrs(s.Attributes) {
			if strings.Contains(v, reason) {
				t.Errorf("span %s attribute %s holds the fault reason", s.Name, k)
			}
		}
		if strings.Contains(s.Status.GetMessage(), reason) {
			t.Errorf("span %s status holds the fault reason", s.Name)
		}
	}

	// The backend got the trace, with the gateway's backend span as parent.
	got := backend.headers()
	want := "00-" + consumerTraceID + "-" + hex.EncodeToString(byName["backend"].GetSpanId()) + "-01"
	if len(got) != 1 || got[0] != want {
		t.Errorf("backend traceparent %q, want [%q]", got, want)
	}
}

// TestTracingOff: without <tracing> the gateway sends backends no
// traceparent, neither one of its own nor the consumer's (backend headers
// are the gateway's choice; with tracing off it chooses none).
func TestTracingOff(t *testing.T) {
	backend := &traceparentRecorder{next: &demo.Accounts{}}
	e := newEnv(t, envOptions{backendHandler: backend})
	for _, tp := range []string{"", consumerParent} {
		req, err := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(envelope11(getBalance)))
		must(t, err)
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `""`)
		if tp != "" {
			req.Header.Set("traceparent", tp)
		}
		resp, err := e.client.Do(req)
		must(t, err)
		if got := readAll(t, resp); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
	}
	got := backend.headers()
	if len(got) != 2 {
		t.Fatalf("backend got %d requests, want 2", len(got))
	}
	for i, h := range got {
		if h != "" {
			t.Errorf("backend request %d has traceparent %q, want none with tracing off", i, h)
		}
	}
}

// TestTracingCompositeHops: each hop of a composite is a span under the
// request's server span, named after its target, with the hop's decision;
// its backend call is its child, and each backend request carries the
// trace with that call's span as parent.
func TestTracingCompositeHops(t *testing.T) {
	recv := startOTLPReceiver(t)
	backend := &traceparentRecorder{next: &demo.Accounts{}}
	tracing := `<tracing endpoint="` + recv.srv.URL + `/v1/traces"/>`
	e := compositeServiceEnv(t, "balances", threeXSD, threeComposite, envOptions{policy: threePolicy, tracing: tracing, backendHandler: backend})
	req, err := http.NewRequest(http.MethodPost, e.base+"/services/balances", strings.NewReader(envelope11(
		`<t:Balances xmlns:t="urn:gatehouse:test:three"><t:Account>17</t:Account><t:Account>23</t:Account><t:Account>42</t:Account></t:Balances>`)))
	must(t, err)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	req.Header.Set("traceparent", consumerParent)
	resp, err := e.client.Do(req)
	must(t, err)
	if got := readAll(t, resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, e.gw.Shutdown(ctx))

	spans, _, bad := recv.received()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused exports: %q", bad)
	}
	var server *tracepb.Span
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.SpanId)] = s
		if strings.HasPrefix(s.Name, "SOAP balances") {
			server = s
		}
	}
	if server == nil {
		t.Fatal("no server span SOAP balances …")
	}
	backendSpans := map[string]bool{} // hex span ids of the hops' backend calls
	hops := 0
	for _, s := range spans {
		parent := byID[string(s.ParentSpanId)]
		switch {
		case strings.HasPrefix(s.Name, "hop "):
			hops++
			a := attrs(s.Attributes)
			if parent != server || a["gatehouse.decision"] != "allow" || a["gatehouse.hop"] == "" {
				t.Errorf("hop span %s: parent %v, attributes %v", s.Name, parent.GetName(), a)
			}
		case s.Name == "backend":
			if parent == nil || !strings.HasPrefix(parent.Name, "hop ") {
				t.Errorf("backend span under %v, want under a hop", parent.GetName())
			}
			backendSpans[hex.EncodeToString(s.SpanId)] = true
		}
	}
	if hops != 3 {
		t.Errorf("%d hop spans, want 3", hops)
	}
	got := backend.headers()
	if len(got) != 3 {
		t.Fatalf("backend got %d requests, want 3", len(got))
	}
	for _, h := range got {
		parts := strings.Split(h, "-")
		if len(parts) != 4 || parts[1] != consumerTraceID || !backendSpans[parts[2]] {
			t.Errorf("backend traceparent %q: want trace %s with a hop's backend span as parent", h, consumerTraceID)
		}
	}
}
