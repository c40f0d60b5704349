// Package authz is Gatehouse's policy decision point (AC-03, AC-04, AC-06):
// it decides whether one call of one operation of one service is allowed,
// from the configuration's policy section (conf.Policy), compiled once by
// Compile into an immutable Policy that any number of goroutines may use.
//
// What a Decision guarantees:
//
//   - Default deny. A call is allowed only by an allow rule that names its
//     service and its operation (or "*"), and whose conditions all hold.
//     Without a policy section, Compile(nil) yields a policy that allows
//     nothing; a nil *Policy allows nothing either.
//   - Flow first (AC-04). The calling party, the consumer for a direct call
//     or the composite for a hop, must have a flow edge to the service;
//     without it the call is refused whatever the rules say, with Rule ""
//     and Reason "no flow edge X → Y".
//   - The consumer is the caller's. Request.Consumer must be what Consumer
//     returns for Request.Caller; a request that names another consumer (a
//     caller of Decide that took it from anywhere else) is refused. A hop
//     must name a declared composite.
//   - Deny overrides. Any matching deny rule refuses the call, wherever it
//     stands in the file; only then does the first matching allow rule, in
//     file order, allow it. Rules for the operation and rules for "*" are
//     considered together, in file order.
//   - Every hop on its own (invariant 9). Decide sees one Request and
//     nothing of earlier decisions: a hop of a composite is authorized like
//     any call, against the composite's flow edges and the rules, and a
//     rule with position direct="true" never allows a hop, nor one with a
//     composite position a direct call or another composite's hop.
//   - Least privilege by construction. Compile refuses an allow rule
//     without a caller, subject, role or attribute condition, an empty
//     caller or consumer workload or prefix, and any condition whose
//     meaning is ambiguous, as conf's checks do; Compile copies what it
//     needs, so changing the conf.Policy afterwards changes nothing.
//
// Conditions: caller (exact workload id, or prefix; any one), subject
// (exact; any one), role (all listed required), attribute (each condition
// must hold; a multi-valued attribute holds if any value equals, is one
// of, or starts with what the condition says), authentication (any one
// method), delegation (the request's delegation chain is not empty and its
// last actor, the one that made the call, is one of those listed; an
// actor earlier in the chain does not count), position (direct only, or
// only as a hop of the named composite). Delegation and position restrict
// a rule but are not identity conditions. Every comparison is exact and
// case-sensitive; no value is normalized.
//
// Decide does not allocate when it allows or when a rule denies, and it
// puts nothing that came from the message into Reason (only names from
// the configuration, and the caller's verified workload id when it is not
// a consumer), so Reason is safe for the audit record. Explain tells an
// operator why: the flow check, every rule considered in evaluation order
// with the first condition that failed, and the final decision, which is
// always Decide's. DOT draws the flow graph for review.
//
// What the package does not do: it authenticates nobody (Request holds
// what earlier stages verified: the mTLS workload, the SAML or
// UsernameToken subject with roles and attributes), does not know which
// operations a service has (rules name any well-formed QName), keeps no
// state between calls (no rate limits, no time-of-day conditions), and
// does not reload: a new configuration means a new Compile.
package authz
