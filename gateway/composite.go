package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/orchestration"
	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/soap"
)

// catalog answers the orchestration loader from the configured services.
// Operations are not listed per service in the configuration, so every
// operation is accepted at load (the target's payload schema still checks
// each request) and none is idempotent: composites never retry.
type catalog struct{ services map[string]*service }

func (c catalog) Service(name string) bool {
	s, ok := c.services[name]
	return ok && s.composite == nil && s.sts == nil
}

func (c catalog) Operation(service string, _ soap.QName) (bool, bool) {
	return false, c.Service(service)
}

// runComposite runs a composite service for one request and answers with
// its reply. Every invoke is a hop through hopInvoker.
func (g *Gateway) runComposite(tx *transaction, w http.ResponseWriter, r *http.Request, svc *service, env *soap.Envelope, id *Identity) error {
	payload := env.Payload()
	if payload == nil {
		return soap.SenderFault("message does not match the service schema", errors.New("empty Body"))
	}
	input, err := detachedBytes(payload)
	if err != nil {
		return soap.ReceiverFault("internal error", err)
	}
	inv := &hopInvoker{g: g, tx: tx, composite: svc.composite.Name(), version: env.Version, id: id}
	start := g.now()
	reply, err := svc.composite.Run(r.Context(), input, inv)
	g.metrics.composites.WithLabelValues(svc.composite.Name(), compositeOutcome(err)).Observe(g.now().Sub(start).Seconds())
	if err != nil {
		return err
	}
	body := fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<soap:Envelope xmlns:soap="%s"><soap:Body>%s</soap:Body></soap:Envelope>`,
		env.Version.Namespace(), reply)
	tx.write(w, env.Version, http.StatusOK, body)
	tx.rec.Outcome = audit.OutcomeOK
	return nil
}

// compositeOutcome labels a run's result: deadline when the run ran out of
// time (the composite's deadline or the request's), fault for any other
// failure (a cancelled request included), ok.
func compositeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, orchestration.ErrDeadline):
		return "deadline"
	default:
		return "fault"
	}
}

// compositeObserver reports the steps and compensations of composite runs
// to the gateway's metrics. Prometheus vectors are safe for concurrent use
// and do not block, as the engine requires of an Observer.
type compositeObserver struct{ m *metrics }

var _ orchestration.Observer = compositeObserver{}

// StepDone labels a step ok, cancelled (stopped because a parallel
// branch failed or the consumer went away: not a failure of its own, so
// not counted as one) or fault.
func (o compositeObserver) StepDone(composite, step string, d time.Duration, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		outcome = "cancelled"
	default:
		outcome = "fault"
		o.m.compositeStepFailures.WithLabelValues(composite, step).Inc()
	}
	o.m.compositeSteps.WithLabelValues(composite, step, outcome).Observe(d.Seconds())
}

func (o compositeObserver) Compensated(composite, step string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	o.m.compensations.WithLabelValues(composite, step, outcome).Inc()
}

// observe makes c report to the metrics; call it before c's first Run (the
// engine reads Observer without a lock). The failure counters of c's invokes
// and of its compensations start at 0, so that an alert on their increase
// sees the first failure too.
func (m *metrics) observe(c *orchestration.Composite) {
	for _, cs := range c.Calls() {
		if cs.Compensation {
			m.compensations.WithLabelValues(c.Name(), cs.Step, "failed")
		} else {
			m.compositeStepFailures.WithLabelValues(c.Name(), cs.Step)
		}
	}
	c.Observer = compositeObserver{m}
}

// hopInvoker makes the calls of one composite run. Every hop is a
// transaction of its own (invariant 9): the flow edge composite → service
// and the policy are checked again for the original subject with the hop's
// position, the request must pass the target's schema, the target's legacy
// credentials are mapped, the call runs in
// the target's bulkhead and breaker, the response must pass the hardened
// parser and the target's schema, and the hop gets its own audit record
// with the request's correlation id and its hop number.
type hopInvoker struct {
	g         *Gateway
	tx        *transaction
	composite string
	version   soap.Version
	id        *Identity // the consumer's: every hop is for it
}

func (h *hopInvoker) Invoke(ctx context.Context, call orchestration.Call) (resp []byte, err error) {
	g := h.g
	start := g.now()
	target := g.services[call.Service]
	v := h.version // the hop's SOAP version: the request's if the target speaks it
	rec := &audit.Record{
		CorrelationID: h.tx.rec.CorrelationID, Hop: call.Hop, Compensation: call.Compensation, Listener: h.tx.rec.Listener,
		Service: call.Service, Operation: call.Operation.String(), SOAPVersion: v.String(),
		BytesIn: int64(len(call.Request)),
	}
	h.id.record(rec)
	rec.Audience, rec.TokenID = "", "" // a hop record names the assertion the hop sends, if any
	// The hop's span, under the request's; its children are the hop's
	// credential mapping and backend call, and the target gets its context.
	ctx, hop := g.startStage(ctx, spanHopPrefix+call.Service, v)
	defer func() {
		rec.Time, rec.DurationMS = start.UTC(), float64(g.now().Sub(start).Microseconds())/1000
		rec.Outcome, rec.Status = audit.OutcomeOK, http.StatusOK
		if err != nil {
			f := soap.AsFault(err)
			rec.Outcome, rec.Status, rec.FaultCode, rec.Reason, rec.Durable = audit.OutcomeFault, f.HTTPStatus(v), f.CodeName(v), f.Reason(), true
			if aborted(ctx) {
				markAborted(rec) // cancelled at the drain deadline
			}
		}
		if hop.span != nil {
			endSpan(hop.span, rec)
		}
		_ = g.audit.Write(rec)
	}()
	if target == nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("composite %s: unknown service %q", h.composite, call.Service))
	}
	if !target.versions[v] {
		v = otherVersion(v)
		rec.SOAPVersion = v.String()
	}

	// Authorization of this hop on its own: flow edge composite → service
	// and the rules for the original subject, as a hop of the composite.
	// Actors stays the inbound chain: the composite is this hop's position,
	// and joins the chain only in the assertion the target receives.
	req := h.id.authzRequest(g.policy, call.Service, call.Operation.String())
	req.Composite = h.composite
	d := g.policy.Decide(req)
	rec.Decision, rec.Rule = map[bool]string{true: "allow", false: "deny"}[d.Allow], d.Rule
	g.metrics.decisions.WithLabelValues(req.Service, req.Operation, rec.Decision, d.Rule, req.Consumer).Inc()
	if !d.Allow {
		return nil, soap.SenderFault("not authorized", fmt.Errorf("hop %d of %s: authorization: %s", call.Hop, h.composite, d.Reason)).WithStatus(http.StatusForbidden)
	}

	raw := fmt.Appendf(nil, `<soap:Envelope xmlns:soap="%s"><soap:Body>%s</soap:Body></soap:Envelope>`, v.Namespace(), call.Request)
	env, err := soap.Parse(raw, target.limits)
	if err != nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("hop request: %w", err))
	}
	// Input is validated at every boundary: the request the composite
	// built must be one the target's schema accepts, as a consumer's must.
	if err := schemas.ValidateEnvelope(raw, g.envelopeSchema[v], target.payload); err != nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("hop %d request does not match the schema of %s: %w", call.Hop, call.Service, redactValues(err)))
	}
	out := &outbound{env: env, correlationID: h.tx.rec.CorrelationID}
	_, sp := g.startStage(ctx, spanCredentials, v)
	err = g.outboundIdentity(ctx, rec, target, h.id, h.composite, out)
	sp.end(err)
	if err != nil {
		return nil, err
	}
	var br *backendResponse
	callCtx, sp := g.startStage(ctx, spanBackend, v)
	err = target.guard.call(callCtx, func() (int, error) {
		var err error
		callStart := g.now()
		br, err = target.backend.call(callCtx, out, target.limits)
		g.metrics.backend.WithLabelValues(call.Service).Observe(g.now().Sub(callStart).Seconds())
		if br == nil {
			return 0, err
		}
		return br.status, err
	})
	if br != nil {
		rec.BackendStatus = br.status
		sp.setStatus(br.status)
	}
	sp.end(err)
	if err != nil {
		return nil, err
	}
	if err := schemas.ValidateEnvelope(br.body, g.envelopeSchema[v], target.payload); err != nil && br.status == http.StatusOK {
		return nil, soap.ReceiverFault("backend response invalid", fmt.Errorf("hop %d response: %w", call.Hop, redactValues(err))).WithStatus(http.StatusBadGateway)
	}
	p := br.env.Payload()
	if p == nil {
		return nil, soap.ReceiverFault("backend response invalid", errors.New("empty response Body"))
	}
	if br.status != http.StatusOK || (p.Tag == "Fault" && p.NamespaceURI() == v.Namespace()) {
		return nil, soap.ReceiverFault("a step failed", fmt.Errorf("hop %d: %s answered %d with a fault", call.Hop, call.Service, br.status))
	}
	b, err := detachedBytes(p)
	rec.BytesOut = int64(len(b))
	return b, err
}

// otherVersion is the SOAP version that is not v.
func otherVersion(v soap.Version) soap.Version {
	if v == soap.V11 {
		return soap.V12
	}
	return soap.V11
}

// detachedBytes serializes el on its own, with the namespaces it uses from
// its ancestors declared on it.
func detachedBytes(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.SetRoot(soap.Detach(el))
	return doc.WriteToBytes()
}

var _ orchestration.Invoker = (*hopInvoker)(nil)

// hopLifetime is how long a per-hop (or propagated) assertion lives: one call.
const hopLifetime = 2 * time.Minute
