package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/gateway/throttle"
	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// This file is the request pipeline of ../shared/ARCHITECTURE.md, in order:
//
//	identity (mTLS) → route → binding (Content-Type, SOAPAction) → caller
//	rate limit → body limit
//	→ hardened parse → XSD validation → action → WS-Addressing →
//	mustUnderstand → lockout check → WS-Security → SAML (one Identity)
//	→ caller rate limit, lockout, replay and subject rate limit (one store
//	round trip, admission.go) → STS, or authorization → legacy credentials and identity propagation →
//	bulkhead and breaker → proxy to the backend (inbound Security removed)
//	→ response; audit always.
//
// serve lists the stages; each returns a *soap.Fault (or an error that
// becomes a Receiver fault). The audit record is filled along the way and
// written by handle's defer whatever happened; at shutdown, a request still
// running after the drain is cancelled and recorded as aborted
// (shutdown.go), once.

// transaction is one request's state: what the audit record needs and what
// the fault writer needs to answer in the right SOAP version.
type transaction struct {
	start     time.Time
	caller    Caller
	callerErr error
	rec       audit.Record
	version   soap.Version // best knowledge of the request's SOAP version
	written   bool
	// upstreamCorrelation: the correlation id came with the request.
	upstreamCorrelation bool
	// callerTake is the caller's rate-limit charge, until the store took it.
	callerTake *throttle.Take
	// op is the WSDL operation the request is the input of (nil without a
	// contract); its WS-SecurityPolicy is checked with the Security header.
	op *wsdl.Operation
	// attempt names whom the request's authentication counts against (the
	// lockout subjects), nil for a service without WS-Security.
	attempt *store.Attempt
	// decrypted are the Security header's XML Encryption elements the
	// decryption processes; verified is the Security header's verification
	// when it came before the decryption (encrypted, then signed).
	decrypted []*etree.Element
	verified  *wssec.Verified
	// plaintext is what the decryption replaced (nil: nothing decrypted).
	plaintext *xmlenc.Decrypted

	// ctx is the request's context; cancel cancels it, with errShutdown
	// when the drain deadline passes (shutdown.go).
	ctx    context.Context
	cancel context.CancelCauseFunc
	// closing is the gateway's: responses close their connection.
	closing *atomic.Bool
	// recorded is claimed by whoever writes the transaction's one audit
	// record: finish, or Shutdown for a transaction that outlived the drain.
	recorded atomic.Bool
	done     chan struct{} // closed when finish is done
	// known is rec as of the last checkpoint, for Shutdown; under mu.
	mu    sync.Mutex
	known audit.Record

	// span is the request's server span, nil when tracing is off; ctx
	// carries it.
	span trace.Span
}

// handle answers one request routed to svc (nil when no route matched: the
// caller passes the fault to answer with).
func (g *Gateway) handle(w http.ResponseWriter, r *http.Request, l *listener, svc *service, routeErr *soap.Fault) {
	tx, r := g.begin(r, l, svc)
	defer g.finish(tx)
	w.Header().Set(headerCorrelationID, tx.rec.CorrelationID)

	if routeErr != nil {
		g.writeFault(tx, w, routeErr)
		return
	}
	if aborted(r.Context()) { // read after the drain deadline
		g.writeFault(tx, w, shutdownFault(errors.New("the request arrived after the drain deadline")))
		return
	}
	if err := g.serve(tx, w, r, svc); err != nil {
		if aborted(r.Context()) {
			err = shutdownFault(err) // nothing more is asked of the store
		} else {
			err = g.settleCaller(r.Context(), tx, w, svc, err)
		}
		g.writeFault(tx, w, err)
	}
}

// serve runs the stages for one request to a proxied service.
func (g *Gateway) serve(tx *transaction, w http.ResponseWriter, r *http.Request, svc *service) error {
	// 1. Identity: the workload the mTLS handshake verified (read in begin).
	if tx.callerErr != nil {
		return soap.SenderFault("client identity not acceptable", tx.callerErr).WithStatus(http.StatusForbidden)
	}
	if tx.caller.Anonymous() && !svc.anonymousOK {
		return soap.SenderFault("client certificate required", errors.New("no verified client certificate")).WithStatus(http.StatusForbidden)
	}

	// A service with a WSDL publishes it (GET path?wsdl) to accepted callers.
	if svc.contracts != nil && r.Method == http.MethodGet && r.URL.RawQuery != "" {
		return g.serveContract(tx, w, r, svc)
	}

	// 2. Binding: method, Content-Type and SOAPAction say which SOAP version this is.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return soap.SenderFault("method not allowed", fmt.Errorf("method %s", r.Method)).WithStatus(http.StatusMethodNotAllowed)
	}
	binding, err := soap.ReadBinding(r.Header.Get("Content-Type"), r.Header.Values("SOAPAction"))
	if err != nil {
		return soap.SenderFault("unsupported media type", err).WithStatus(http.StatusUnsupportedMediaType)
	}
	tx.version = binding.Version
	tx.rec.SOAPVersion = binding.Version.String()
	if !svc.versions[binding.Version] {
		return &soap.Fault{Code: soap.VersionMismatch, Public: "SOAP version not accepted by this service",
			Err: fmt.Errorf("service accepts SOAP %v, request is SOAP %v", svc.versionList, binding.Version)}
	}

	// 3. Per-caller rate limit, before any work on the body (an anonymous
	// caller, on an insecure-none listener, is limited by its address): a
	// caller the store refused lately is refused here at once; the others are
	// charged in the request's one store round trip (admit), or, when the
	// request fails before it, by settleCaller.
	if g.rates != nil {
		who := tx.caller.ID
		if who == "" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			who = "address:" + host
		}
		if err := g.shedCaller(tx, w, svc, who); err != nil {
			return err
		}
	}

	// 4. Body, bounded while reading.
	body, err := readBody(w, r, svc.limits.MaxBytes)
	tx.rec.BytesIn = int64(len(body))
	if err != nil {
		return err
	}

	// 5. Hardened parse (invariants 1–3).
	sp := g.stage(tx, spanParse)
	env, err := soap.Parse(body, svc.limits)
	sp.end(err)
	if err != nil {
		return err
	}
	if env.Version != binding.Version {
		return &soap.Fault{Code: soap.VersionMismatch, Public: "envelope version does not match the content type",
			Err: fmt.Errorf("content type says SOAP %v, envelope is SOAP %v", binding.Version, env.Version)}
	}
	// 5b. XML Encryption: what consumers encrypted is decrypted into the
	// tree before anything reads it (sign-then-encrypt: the signature is
	// verified over the plaintext); every failure is one FailedCheck.
	sp = stage{}
	if svc.decrypter != nil {
		sp = g.stage(tx, spanDecrypt)
	}
	err = g.decrypt(r.Context(), tx, w, svc, env)
	sp.end(err)
	if err != nil {
		return err
	}
	tx.rec.Operation = env.Operation().String()
	if id := env.Addressing.MessageID; id != "" {
		tx.rec.MessageID = safeID(id)
		if tx.rec.MessageID != "" && !tx.upstreamCorrelation {
			tx.rec.CorrelationID = tx.rec.MessageID
			w.Header().Set(headerCorrelationID, tx.rec.CorrelationID)
		}
	}

	// 6. The contract: a service described by a WSDL takes only the inputs
	// of its port's operations, each with its own action.
	sp = g.stage(tx, spanValidate)
	var op *wsdl.Operation
	if svc.contracts != nil {
		if op, err = checkContract(svc.contracts[env.Version], binding, env); err != nil {
			sp.end(err)
			return err
		}
		tx.op = op
	}

	// 7. XSD validation: the envelope against its SOAP schema, the Body's
	// children against the service's payload schema. libxml2's validator
	// reads the tree the hardened parser built (nothing is parsed again).
	// A message it refuses stays refused; it is validated again from its
	// bytes only to report problems with their line numbers.
	if err := schemas.ValidateTree(env.Root, g.envelopeSchema[env.Version], svc.payload); err != nil {
		if lined := schemas.ValidateEnvelope(body, g.envelopeSchema[env.Version], svc.payload); lined != nil {
			err = lined
		}
		err = soap.SenderFault("message does not match the service schema", redactValues(err))
		sp.end(err)
		return err
	}
	sp.end(nil)

	// 8. The action the request claims must be the operation in its Body
	// (authorization decides on the Body: a SOAPAction cannot spoof it).
	// With a contract, checkContract did this with the WSDL's actions.
	if svc.sts == nil && svc.contracts == nil {
		if err := checkAction(binding, env); err != nil {
			return err
		}
	}

	// 9. WS-Addressing is enforced, not just read: wsa:To names this
	// service, replies go back on this connection (invariant 12).
	if err := checkAddressing(svc, env.Addressing); err != nil {
		return err
	}
	if err := checkAddressingPolicy(op, env.Addressing); err != nil {
		return err
	}

	// 10. Header blocks addressed to Gatehouse with mustUnderstand must be ones it processes.
	if err := env.CheckMustUnderstand(svc.actor, wssec.Understood); err != nil {
		return err
	}
	tx.checkpoint()

	// 11. Authentication: WS-Security (lockout first), then SAML, into the
	// one Identity every later stage reads; then one replay check for
	// every nonce, signature, MessageID and one-time assertion (invariants 4–8).
	// The request's one store round trip (admit) decides, all or nothing:
	// the caller's rate limit, the lockout, the replay keys, the
	// cancellation of its assertion and (not for the STS) the subject's rate
	// limit.
	id, err := g.authenticate(r.Context(), tx, w, svc, env)
	if err != nil {
		return err
	}
	areq := id.authzRequest(g.policy, svc.name, env.Operation().String())
	var subject *throttle.Take
	if g.rates != nil && g.rates.subject != nil && areq.Subject != "" && svc.sts == nil {
		subject = &throttle.Take{Key: "subject:" + areq.Subject, Limit: *g.rates.subject}
	}
	sp = g.stage(tx, spanAdmission)
	err = g.admit(r.Context(), tx, w, svc, id, subject)
	sp.end(err)
	if err != nil {
		return err
	}

	// 12. The STS answers itself (it authorizes by its own rules: who may
	// get a token for which audience).
	if svc.sts != nil {
		return g.serveSTS(tx, w, r, svc, env, id)
	}

	// 13. Authorization of this transaction on its own (the subject's rate
	// limit was decided with the replay keys): default deny, flow edge, deny
	// overrides (invariant 9).
	sp = g.stage(tx, spanAuthorize)
	err = g.authorize(tx, areq)
	sp.end(err)
	if err != nil {
		return err
	}
	tx.checkpoint()

	// 14. A composite runs its definition; each of its calls is a hop
	// authorized on its own (hopInvoker).
	if svc.composite != nil {
		return g.runComposite(tx, w, r, svc, env, id)
	}

	// 15. Credentials of the backend's legacy domain for the identity (a
	// PassTicket, a mapped password; no mapping refuses), and the identity
	// itself as the service propagates it.
	out := &outbound{env: env, actor: svc.actor, action: binding.Action, hasAction: binding.HasAction, correlationID: tx.rec.CorrelationID}
	sp = g.stage(tx, spanCredentials)
	err = g.outboundIdentity(r.Context(), &tx.rec, svc, id, "", out)
	sp.end(err)
	if err != nil {
		return err
	}

	// The answer is to be encrypted to the requester: known before the
	// backend is called.
	var answerTo *x509.Certificate
	if svc.encryptResponses {
		if answerTo = responseRecipient(id); answerTo == nil {
			return soap.SecurityFault(soap.FaultInvalidSecurity, "security error in the message",
				errors.New("encryptResponses: the request was neither signed nor sent with an RSA key to encrypt the answer to"))
		}
	}

	// 16. Proxy to the backend and answer with its response.
	tx.checkpoint()
	callStart := g.now()
	var resp *backendResponse
	callCtx, sp := g.startStage(r.Context(), spanBackend, tx.version)
	err = svc.guard.call(callCtx, func() (int, error) {
		var err error
		resp, err = svc.backend.call(callCtx, out, svc.limits)
		if resp == nil {
			return 0, err
		}
		return resp.status, err
	})
	g.metrics.backend.WithLabelValues(svc.name).Observe(g.now().Sub(callStart).Seconds())
	if resp != nil {
		tx.rec.BackendStatus = resp.status
		sp.setStatus(resp.status)
	}
	sp.end(err)
	if err != nil {
		return err
	}
	if err := decryptResponse(svc, resp); err != nil {
		return err
	}
	if svc.validateResponses && op != nil {
		if err := g.checkResponse(svc, op, resp.env); err != nil {
			return err
		}
	}
	if answerTo != nil {
		if err := (&xmlenc.Encrypter{Recipient: answerTo}).Encrypt(resp.env); err != nil {
			return soap.ReceiverFault("internal error", fmt.Errorf("encrypt the answer: %w", err))
		}
		if resp.body, err = resp.env.Bytes(); err != nil {
			return soap.ReceiverFault("internal error", fmt.Errorf("encrypt the answer: %w", err))
		}
	}
	tx.write(w, env.Version, resp.status, resp.body)
	tx.rec.Outcome = audit.OutcomeOK
	return nil
}

// checkAction refuses a request whose SOAPAction (or 1.2 action parameter)
// or wsa:Action names another operation than the Body's, or whose two
// actions disagree (the WS-Addressing SOAP binding requires them equal).
func checkAction(b soap.Binding, env *soap.Envelope) error {
	op := env.Operation()
	wsa := env.Addressing.Action
	switch {
	case !soap.ActionMatches(b.Action, op):
		return soap.SenderFault("action does not match the operation", fmt.Errorf("SOAP action %q does not name operation %s", b.Action, op))
	case !soap.ActionMatches(wsa, op):
		return soap.SenderFault("action does not match the operation", fmt.Errorf("wsa:Action %q does not name operation %s", wsa, op))
	case wsa != "" && b.Action != "" && wsa != b.Action:
		return soap.SenderFault("action does not match the operation", fmt.Errorf("SOAP action %q and wsa:Action %q differ", b.Action, wsa))
	}
	return nil
}

// readBody reads the request body, refusing it as soon as it exceeds max.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	tooLarge := func(err error) error {
		return soap.SenderFault("message exceeds a limit", err).WithStatus(http.StatusRequestEntityTooLarge)
	}
	if r.ContentLength > max {
		return nil, tooLarge(fmt.Errorf("content-length %d exceeds %d", r.ContentLength, max))
	}
	limited := http.MaxBytesReader(w, r.Body, max)
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// net/http ends the body after Content-Length bytes: one
		// allocation of the right size instead of ReadAll's doubling.
		body = make([]byte, n)
		var got int
		got, err = io.ReadFull(limited, body)
		body = body[:got]
	} else {
		body, err = io.ReadAll(limited)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return body, tooLarge(fmt.Errorf("body exceeds %d bytes", max))
		}
		return body, soap.SenderFault("could not read the request", fmt.Errorf("read body: %w", err)).WithStatus(http.StatusBadRequest)
	}
	return body, nil
}

// writeFault answers with err as a SOAP fault in the request's version and
// notes the fault in the audit record.
func (g *Gateway) writeFault(tx *transaction, w http.ResponseWriter, err error) {
	f := soap.AsFault(err)
	v := tx.version
	if v == 0 {
		v = soap.V11
	}
	status := f.HTTPStatus(v)
	tx.rec.Outcome = audit.OutcomeFault
	tx.rec.Status = status
	tx.rec.FaultCode = f.CodeName(v)
	tx.rec.Reason = f.Reason()
	if tx.written {
		return // the response is already on its way; the record says what failed
	}
	tx.write(w, v, status, f.Marshal(v))
}

// write sends the response in SOAP version v and notes its status and size
// in the audit record.
func (tx *transaction) write(w http.ResponseWriter, v soap.Version, status int, body []byte) {
	if tx.closing.Load() {
		w.Header().Set("Connection", "close") // shutting down (BeginShutdown)
	}
	w.Header().Set("Content-Type", v.ContentType())
	w.WriteHeader(status)
	n, _ := w.Write(body)
	tx.written = true
	tx.rec.Status, tx.rec.BytesOut = status, int64(n)
}

// safeID returns id if it can serve as a correlation id in logs and HTTP
// headers (printable ASCII without spaces or quotes, bounded length), else "".
func safeID(id string) string {
	if len(id) > 256 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return ""
		}
	}
	return id
}

// begin opens the transaction: time, correlation id, listener, remote,
// service (svc nil: no route); it returns r with the transaction's context,
// which shutdown may cancel.
func (g *Gateway) begin(r *http.Request, l *listener, svc *service) (*transaction, *http.Request) {
	g.metrics.inFlight.Inc()
	ctx := r.Context()
	var span trace.Span
	if g.tracing != nil {
		name := "-"
		if svc != nil {
			name = svc.name
		}
		ctx, span = g.tracing.startRequest(ctx, r, name)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	tx := &transaction{
		span:  span,
		start: g.now(),
		rec: audit.Record{
			CorrelationID: g.newID(),
			Listener:      l.name,
			Remote:        r.RemoteAddr,
		},
		ctx: ctx, cancel: cancel, closing: &g.closing, done: make(chan struct{}),
	}
	// A correlation id from upstream (another Gatehouse, a consumer that
	// keeps its own) is kept, so that one id follows the whole chain.
	if id := safeID(r.Header.Get(headerCorrelationID)); id != "" {
		tx.rec.CorrelationID, tx.upstreamCorrelation = id, true
	}
	// Identity headers are the gateway's to send; no client sets them.
	for _, h := range g.identityHeaders {
		r.Header.Del(h)
	}
	tx.caller, tx.callerErr = callerFromTLS(r.TLS)
	tx.rec.Caller = tx.caller.ID
	if svc != nil {
		tx.rec.Service = svc.name
	}
	tx.checkpoint()
	g.track(tx)
	return tx, r.WithContext(ctx)
}

// finish writes the audit record and the metrics; it runs for every request,
// and writes nothing when Shutdown has recorded the transaction already.
func (g *Gateway) finish(tx *transaction) {
	defer g.untrack(tx)
	g.metrics.inFlight.Dec()
	d := g.now().Sub(tx.start)
	tx.rec.Time = tx.start.UTC()
	tx.rec.DurationMS = float64(d.Microseconds()) / 1000
	if tx.rec.Outcome == "" {
		tx.rec.Outcome = audit.OutcomeFault
		tx.rec.Reason = strings.TrimSpace(tx.rec.Reason + " (no outcome recorded)")
	}
	// A request that did not make it before the drain deadline was aborted
	// (one that did keeps its outcome).
	if tx.rec.Outcome != audit.OutcomeOK && aborted(tx.ctx) {
		markAborted(&tx.rec)
	}
	tx.finishSpan()
	if !tx.recorded.CompareAndSwap(false, true) {
		return // it outlived the drain: Shutdown recorded it
	}
	svc := tx.rec.Service
	if svc == "" {
		svc = "-"
	}
	g.metrics.requests.WithLabelValues(svc, tx.rec.Outcome).Inc()
	if tx.rec.FaultCode != "" {
		g.metrics.faults.WithLabelValues(svc, tx.rec.FaultCode).Inc()
	}
	g.metrics.latency.WithLabelValues(svc).Observe(d.Seconds())
	// A refusal (or an abort) is on disk before the handler returns; other
	// records are synced in batches.
	tx.rec.Durable = tx.rec.Outcome != audit.OutcomeOK
	_ = g.audit.Write(&tx.rec) // failures are counted through audit.Log.OnError
}
