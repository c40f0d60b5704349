package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/soap"
)

// Tracing (OpenTelemetry). With a <tracing> element every request gets a
// server span, a child span per pipeline stage and one per composite hop,
// and the W3C trace context goes to backends and hops. Without one,
// Gateway.tracing is nil and nothing is traced, extracted or injected: no
// span is made, not even a no-op one, so the pipeline pays one nil check
// per stage.
//
// What spans carry: identities and decisions as the audit record has them
// (caller, subject, issuer, authentication method, decision, rule),
// service, operation, correlation id, HTTP status and the SOAP fault code.
// Never message content, credentials, assertions or fault reasons (a
// reason may quote the message): the audit record is the place for those.

// Span names of the pipeline's stages; the server span is named
// "SOAP service operation" (see finishSpan).
const (
	spanParse        = "parse"
	spanDecrypt      = "decrypt"
	spanValidate     = "validate"    // the WSDL contract and the XSD
	spanWSSecurity   = "wssecurity"  // the Security header's verification
	spanSAML         = "saml"        // the SAML assertion's verification
	spanAdmission    = "admission"   // the store round trip: rate limits, lockout, replay
	spanAuthorize    = "authorize"   // the policy decision
	spanCredentials  = "credentials" // legacy credentials and identity propagation
	spanBackend      = "backend"     // the backend call
	spanHopPrefix    = "hop "        // + target service: one composite hop
	tracerName       = "github.com/gatehouse/gatehouse/gateway"
	tracingShutdownT = 5 * time.Second // the longest Shutdown waits for the collector
)

// tracing is the gateway's tracer provider, nil when tracing is off.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// newTracing builds the tracer provider of cfg: an OTLP/HTTP exporter to
// the endpoint behind a batch span processor, sampling parent-based with
// the configured ratio for new traces. It returns nil for nil cfg.
func newTracing(cfg *conf.Tracing) (*tracing, error) {
	if cfg == nil {
		return nil, nil
	}
	u := cfg.EndpointURL()
	if u == nil {
		return nil, fmt.Errorf("gateway: tracing endpoint %q was not checked by conf.Load", cfg.Endpoint)
	}
	// New does not connect: an unreachable collector loses spans (logged
	// by the exporter), it does not keep the gateway from starting.
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, fmt.Errorf("gateway: tracing exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	for _, r := range cfg.Resource {
		attrs = append(attrs, attribute.String(r.Name, r.Value))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.Sampling))),
	)
	return &tracing{provider: tp, tracer: tp.Tracer(tracerName)}, nil
}

// shutdown flushes the spans still queued and stops the exporter, within
// tracingShutdownT of its own: Shutdown calls it after the drain, whose
// deadline may have passed, and the last spans are those of the drain.
func (t *tracing) shutdown() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownT)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	return nil
}

// startRequest extracts the consumer's trace context from r's headers and
// starts the request's server span under it.
func (t *tracing) startRequest(ctx context.Context, r *http.Request, service string) (context.Context, trace.Span) {
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	return t.tracer.Start(ctx, "SOAP "+service, trace.WithSpanKind(trace.SpanKindServer))
}

// inject writes the trace context of ctx (the backend call's span) to the
// outbound request's headers; without a span in ctx it writes nothing.
func injectTrace(ctx context.Context, h http.Header) {
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
}

// stage is one child span; the zero stage (tracing off) does nothing.
type stage struct {
	span trace.Span
	v    soap.Version
}

// startStage starts a child span of the span in ctx named name, for a
// message of SOAP version v (to name fault codes as the consumer sees
// them). With tracing off it returns ctx and the zero stage.
func (g *Gateway) startStage(ctx context.Context, name string, v soap.Version, attrs ...attribute.KeyValue) (context.Context, stage) {
	if g.tracing == nil {
		return ctx, stage{}
	}
	ctx, span := g.tracing.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, stage{span: span, v: v}
}

// stage starts a child span of the transaction's server span.
func (g *Gateway) stage(tx *transaction, name string) stage {
	if g.tracing == nil {
		return stage{}
	}
	_, s := g.startStage(tx.ctx, name, tx.version)
	return s
}

// end ends the span; a failure sets its status to Error with the fault
// code (never the reason, which may quote the message).
func (s stage) end(err error) {
	if s.span == nil {
		return
	}
	if err != nil {
		code := soap.AsFault(err).CodeName(versionOr11(s.v))
		s.span.SetAttributes(attribute.String("gatehouse.fault_code", code))
		s.span.SetStatus(codes.Error, code)
	}
	s.span.End()
}

// setStatus notes the HTTP status of the backend's answer on the span.
func (s stage) setStatus(status int) {
	if s.span != nil && status != 0 {
		s.span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
}

func versionOr11(v soap.Version) soap.Version {
	if v == 0 {
		return soap.V11
	}
	return v
}

// recordAttributes are the span attributes of an audit record: who, how
// authenticated, what was decided, where, and how it ended. They are the
// record's identity fields, never its reason.
func recordAttributes(rec *audit.Record) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 14)
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	add("gatehouse.correlation_id", rec.CorrelationID)
	add("gatehouse.service", rec.Service)
	add("gatehouse.operation", rec.Operation)
	add("gatehouse.caller", rec.Caller)
	add("gatehouse.subject", rec.Subject)
	add("gatehouse.issuer", rec.Issuer)
	add("gatehouse.authn", rec.Authn)
	add("gatehouse.decision", rec.Decision)
	add("gatehouse.rule", rec.Rule)
	add("gatehouse.legacy_domain", rec.LegacyDomain)
	add("gatehouse.outcome", rec.Outcome)
	add("gatehouse.fault_code", rec.FaultCode)
	if rec.Hop > 0 {
		attrs = append(attrs, attribute.Int("gatehouse.hop", rec.Hop))
	}
	if rec.Status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", rec.Status))
	}
	return attrs
}

// endSpan sets span's attributes from the finished record rec and ends it.
func endSpan(span trace.Span, rec *audit.Record) {
	span.SetAttributes(recordAttributes(rec)...)
	if rec.Outcome != audit.OutcomeOK {
		span.SetStatus(codes.Error, rec.FaultCode)
	}
	span.End()
}

// finishSpan names the server span after the operation and ends it. The
// operation joins the name only once authorization decided on it: before
// that it is whatever the consumer wrote, and span names must stay few.
func (tx *transaction) finishSpan() {
	if tx.span == nil {
		return
	}
	svc := tx.rec.Service
	if svc == "" {
		svc = "-"
	}
	name := "SOAP " + svc
	if tx.rec.Decision != "" && tx.rec.Operation != "" {
		op := tx.rec.Operation
		if i := strings.LastIndexByte(op, '}'); i >= 0 {
			op = op[i+1:]
		}
		name += " " + op
	}
	tx.span.SetName(name)
	endSpan(tx.span, &tx.rec)
}
