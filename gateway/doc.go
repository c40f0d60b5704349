// Package gateway serves Gatehouse: TLS listeners that take the caller's
// workload identity from its client certificate, routing by path, the
// request pipeline (pipeline.go lists its stages in order), proxying to
// backends, and the admin listener with health, readiness and metrics.
//
// Guarantees: every request, routed or not, gets either the backend's
// well-formed SOAP answer or a SOAP fault of the request's version, and
// exactly one audit record. The backend receives the document the gateway
// parsed and validated, re-serialized from the parsed tree, with only the
// headers the gateway sets. Faults carry a generic text; the reason goes to
// the audit record.
package gateway
