package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus series, on a registry of their own
// (no package globals) so that several gateways can live in one test binary.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	faults       *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	backend      *prometheus.HistogramVec
	auditErrors  prometheus.Counter
	inFlight     prometheus.Gauge
	certNotAfter *prometheus.GaugeVec
	// certReloads counts the reloads of a listener's certificate, key and
	// client CA bundle (rotation.go), by listener and result (ok, failed).
	certReloads  *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	lockouts     prometheus.Counter
	replays      *prometheus.CounterVec
	// epochChanges and recoveryRefusals: the shared store lost its data
	// (store/epoch.go), and the requests refused for it.
	epochChanges     prometheus.Counter
	recoveryRefusals *prometheus.CounterVec
	decisions        *prometheus.CounterVec
	throttled        *prometheus.CounterVec
	breakerState     *prometheus.GaugeVec
	backendBusy      *prometheus.GaugeVec
	// slowCalls counts the backend calls the breaker counted as failed for
	// running longer than breaker/@slowCall.
	slowCalls *prometheus.CounterVec
	// connections and connRefused are the listeners' connection limits
	// (connlimit.go).
	connections *prometheus.GaugeVec
	connRefused *prometheus.CounterVec
	// handshakeFailures are failed TLS handshakes on the SOAP listeners,
	// by listener, reason and the presented certificate's issuer.
	handshakeFailures *prometheus.CounterVec
	handshakeIssuers  issuerLabels
	// assertionCache counts the SAML assertion cache lookups by service
	// and result (hit, miss).
	assertionCache *prometheus.CounterVec

	// Composites: labels are names from the definitions (composite, step),
	// so their number is bounded by the configuration.
	composites            *prometheus.HistogramVec
	compositeSteps        *prometheus.HistogramVec
	compositeStepFailures *prometheus.CounterVec
	compensations         *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_requests_total",
			Help: "Requests by service and outcome.",
		}, []string{"service", "outcome"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_faults_total",
			Help: "Faults returned to clients, by service and fault code.",
		}, []string{"service", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_request_duration_seconds",
			Help:    "Time from request to response, by service.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"service"}),
		backend: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_backend_duration_seconds",
			Help:    "Time spent in the backend call, by service.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"service"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_audit_write_errors_total",
			Help: "Audit records a sink failed to write.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_requests_in_flight",
			Help: "Requests being processed.",
		}),
		certNotAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_certificate_expiry_timestamp_seconds",
			Help: "NotAfter of every certificate the configuration holds, by kind (listener, client-ca, trust-ca, trust-pinned, trust-signer, sts-signing, backend-client, backend-ca, outbound-signing, decryption, backend-encryption), name (the listener, trust store or service) and subject.",
		}, []string{"kind", "name", "subject"}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_certificate_reload_total",
			Help: "Reloads of a SOAP listener's certificate, key and client CA bundle after the files changed or on SIGHUP, by listener and result (ok: new handshakes use them; failed: refused, the previous ones stay in force).",
		}, []string{"listener", "result"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authentication_failures_total",
			Help: "Failed authentications (counted toward lockout), by service.",
		}, []string{"service"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_lockouts_total",
			Help: "Principals or callers locked out after repeated failures.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_decisions_total",
			Help: "Authorization decisions by service, operation, outcome, deciding rule (\"\" = default deny or no flow edge) and the caller's consumer (the policy's name for it, \"\" when it is none).",
		}, []string{"service", "operation", "outcome", "rule", "consumer"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_throttled_total",
			Help: "Requests refused by a rate limit, by service and limit (caller, subject).",
		}, []string{"service", "limit"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_breaker_state",
			Help: "Circuit breaker state per service backend: 0 closed, 1 half-open, 2 open.",
		}, []string{"service"}),
		backendBusy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_backend_in_flight",
			Help: "Calls inside each service backend's bulkhead.",
		}, []string{"service"}),
		slowCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_backend_slow_calls_total",
			Help: "Backend calls still running after the breaker's slow-call threshold, counted as failures toward opening it, by service.",
		}, []string{"service"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_connections",
			Help: "Connections a SOAP listener holds, by listener and state (open: all of them, those in the TLS handshake included; handshaking: those still in the TLS handshake).",
		}, []string{"listener", "state"}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tls_handshake_failures_total",
			Help: "Failed TLS handshakes on a SOAP listener, by listener, reason (no_client_certificate, unknown_authority, expired, bad_certificate, protocol, closed) and the issuer of the client certificate presented (\"\" when none; \"other\" past the first 32 issuers).",
		}, []string{"listener", "reason", "issuer"}),
		connRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_connections_refused_total",
			Help: "Connections a SOAP listener closed at once for a limit (max_connections, per_client, pending_handshakes) or after its handshake timeout (handshake_timeout), by listener and reason.",
		}, []string{"listener", "reason"}),
		assertionCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_saml_assertion_cache_lookups_total",
			Help: "Lookups of holder-of-key and sender-vouches SAML assertions in the service's verified-assertion cache, by service and result (hit: the assertion's signature was not verified again; miss).",
		}, []string{"service", "result"}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_replays_total",
			Help: "Requests refused as replays, by kind of replayed value (nonce, sig, msgid).",
		}, []string{"kind"}),
		epochChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_store_epoch_changes_total",
			Help: "Times this instance found that the shared store's data began anew (Redis restarted without persistence, failed over to a replica without the data, flushed): replay keys were lost, and messages whose freshness began before are refused.",
		}),
		recoveryRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_store_recovery_refusals_total",
			Help: "Requests refused with wsse:MessageExpired because their freshness (Timestamp, UsernameToken Created, assertion IssueInstant) began before the shared store's current data, by kind of replay value.",
		}, []string{"kind"}),
		composites: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_composite_duration_seconds",
			Help:    "Time a composite run took, compensations included, by composite and outcome (ok, fault, deadline: the run's deadline ran out).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"composite", "outcome"}),
		compositeSteps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_composite_step_duration_seconds",
			Help:    "Time a named step of a composite took (an invoke's retries included), by composite, step and outcome (ok, fault, cancelled: stopped because a parallel branch failed or the consumer went away).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"composite", "step", "outcome"}),
		compositeStepFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_composite_step_failures_total",
			Help: "Named steps of a composite that failed (a failure a scope caught included), by composite and step.",
		}, []string{"composite", "step"}),
		compensations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_composite_compensations_total",
			Help: "Compensation calls of a composite, by composite, the step they undo, and outcome (ok, failed).",
		}, []string{"composite", "step", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.faults, m.latency, m.backend, m.auditErrors, m.inFlight, m.certNotAfter, m.certReloads,
		m.authFailures, m.lockouts, m.replays, m.epochChanges, m.recoveryRefusals, m.decisions, m.throttled, m.breakerState, m.backendBusy, m.slowCalls, m.assertionCache,
		m.connections, m.connRefused, m.handshakeFailures,
		m.composites, m.compositeSteps, m.compositeStepFailures, m.compensations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
