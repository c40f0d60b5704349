// Package orchestration loads composite-service definitions and runs them.
//
// A definition (namespace urn:gatehouse:orchestration:1, root element
// composite, schema schemas/std/gatehouse-orchestration.xsd) names the Body
// payload element the composite accepts and the one it replies with, and one
// activity: sequence, parallel, choice (when/otherwise), foreach, scope (with
// catch), invoke (with an optional compensate), assign, reply and fault.
// Invokes call services through an Invoker, which the gateway implements;
// each call is one hop, authorized and audited on its own there.
//
// # Loading
//
// Load and LoadBytes work in three steps, and report every problem of the
// last two at once, each with file:line (Errors):
//
//  1. A DOCTYPE is refused before any parser sees the file; the file is
//     validated against the embedded schema with libxml2.
//  2. The document is read into a tree that keeps prefixes, namespace
//     declarations and lines.
//  3. The meaning is checked against the Catalog: services and operations
//     exist; idempotent="true" is confirmed by the catalog and retries need
//     it; every XPath expression uses only the XPath 1.0 core functions
//     (never document() or an extension function), declared prefixes and
//     unprefixed variables, and compiles (with lestrrat-go/libxml2's
//     xpath.NewExpression); every variable is assigned on every path before
//     it is read; parallel branches do not share a variable one of them
//     assigns; reply is not inside a parallel or a foreach, and every run
//     that completes has replied; a request builds exactly the element its
//     operation names, a reply exactly the output element; step names are
//     unique.
//
// An XPath prefix resolves through the composite's namespace elements, or
// else through the xmlns declarations in scope where the expression is
// written; the two must agree. As in XPath 1.0, an unprefixed name test
// matches elements in no namespace, whatever the default namespace.
//
// # Variables and templates
//
// A variable holds nodes (the response payload element of an invoke, the
// nodes an assign selects or its literal builds, the current node of a
// foreach) or a string (an assign whose XPath result is a string, number or
// boolean). $input is the input payload element. In a catch, $fault is
// <fault code="Sender|Receiver" step="…">public text</fault> in the
// orchestration namespace: what the client would have seen, never the
// internal reason. Variables assigned inside a foreach body belong to the
// iteration; its collect attribute names one whose values, from every
// iteration in node order, the enclosing scope receives.
//
// The context node of every expression is the root of the input document,
// so /b:Order and $input select the same element.
//
// Templates (request, reply, literal) are literal XML with two
// instructions: value-of writes an expression's string value as escaped
// text, copy-of writes the selected elements and text (comments and
// processing instructions are not copied, a selected attribute is an
// error; a string, number or boolean is written as text).
// White-space-only text in a template is dropped. Every element written
// declares the namespaces it needs, so copied nodes keep their meaning
// wherever they land. Literal elements in no namespace must say so
// (xmlns="") when the definition's default namespace is the orchestration
// namespace.
//
// # Running
//
// Run is safe for concurrent use. A run:
//
//   - gets the definition's deadline, or the caller's if it is earlier;
//   - checks the input with soap.Parse's rules (no DTD, limits, declared
//     prefixes; Composite.Limits) and that it is the input element, before
//     libxml2 parses it; responses are checked the same way;
//   - gives each invoke attempt min(its timeout, the rest of the deadline);
//     retries an operation only if the definition says idempotent="true"
//     and the catalog agrees, and retries > 0, never after a Sender fault,
//     with a backoff (50ms, doubling, at most 1s) that never reaches past
//     the deadline;
//   - runs parallel branches concurrently and cancels the others at the
//     first failure; waits for all of them before going on;
//   - runs a foreach's iterations at most concurrency at a time; more
//     nodes than max is a fault (Sender when the select reads only $input,
//     since then the request is too large; Receiver otherwise);
//   - evaluates choice tests in order and runs the first that holds;
//   - in a scope, runs the catch on any failure inside except an exceeded
//     deadline or a cancelled run, and goes on;
//   - registers, when an invoke with a compensate completes, the undoing
//     call with its request built there and then; if the run fails, the
//     registered calls run in reverse order of completion, each with its
//     own timeout (default 2s) on a context that keeps the caller's values
//     but not its cancellation; a failed compensation does not stop the
//     others and is reported in the fault's Err and to the Observer;
//   - numbers every call to the Invoker (Call.Hop, from 1, retries and
//     compensations included).
//
// Run's error is a *soap.Fault with a generic public text: Sender when the
// input is wrong, a fault activity raised a Sender fault (its text is the
// public text), a foreach over the input overflowed, or a call was refused
// with a Sender fault; Receiver otherwise, and always when the deadline
// ran out, and then ErrDeadline is in its chain (errors.Is). Err holds the
// composite, the step and the reason.
//
// # libxml2
//
// XPath runs in libxml2 through lestrrat-go/libxml2 (documents, compiled
// expressions, contexts); a small cgo shim (libxml.go) adds what that
// package lacks: binding variables, reading string and node-set results,
// and libxml2's error messages without printing them. Documents are parsed
// without network access, entity substitution, DTD loading or XInclude, and
// only after soap.Parse's rules (or the engine's own writer) produced them;
// the process-wide external entity loader of package schemas stays in
// place. Only the core function library is registered in an XPath context,
// so document() fails even if it got past the loader. Every document,
// context and result is freed when its run or evaluation ends; compiled
// expressions when the Composite is closed (or collected). libxml2 caches
// function look-ups in a compiled expression when it first runs it, so
// evaluations of one expression are serialized.
//
// A run's context cannot interrupt an XPath evaluation in C: libxml2's
// operation limit (5 million per evaluation) stops a runaway expression,
// but it counts steps and node visits, not time, and some expressions
// (merging large node-sets) cost more per operation than others.
//
// Not guaranteed: an Invoker that ignores ctx keeps Run waiting for it;
// XPath evaluation time is bounded only as said above; attribute value
// templates are not supported (use value-of in element content).
package orchestration
