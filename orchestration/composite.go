package orchestration

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// Namespace is the namespace of composite definitions.
const Namespace = "urn:gatehouse:orchestration:1"

// SchemaName is the embedded schema definitions are validated against
// (schemas/std/gatehouse-orchestration.xsd).
const SchemaName = "gatehouse-orchestration.xsd"

// Catalog tells the loader which services and operations exist. The gateway
// implements it over its configuration.
type Catalog interface {
	// Service reports whether a service of that name is configured.
	Service(name string) (ok bool)
	// Operation reports whether the service has the operation (the
	// expanded name of its Body payload element), and whether repeating a
	// call of it is safe.
	Operation(service string, op soap.QName) (idempotent bool, ok bool)
}

// Invoker makes one call of a composite: one hop. The gateway implements it
// (authorization, a fresh hop assertion, credential mapping, bulkhead,
// breaker, signing, and one audit record per hop). It must return when ctx
// is done: the engine waits for every call it started before Run returns.
type Invoker interface {
	// Invoke sends call.Request, the payload element of the request Body,
	// and returns the payload element of the response Body. A *soap.Fault
	// with Code Sender means the request was refused and is not retried.
	Invoke(ctx context.Context, call Call) (response []byte, err error)
}

// Call is one hop of a composite.
type Call struct {
	Composite string     // the composite's name
	Step      string     // the invoke's name
	Service   string     // the service called
	Operation soap.QName // the operation: the request payload element's name
	Request   []byte     // the request Body's payload element
	// Hop numbers the calls of one run from 1, retries and compensations
	// included, for the audit record.
	Hop int
	// Compensation is true for a call that undoes an earlier step.
	Compensation bool
}

// Observer is told how steps went, for metrics. Its methods are called
// from the goroutines that run the steps, so they must be safe for
// concurrent use and should not block.
type Observer interface {
	// StepDone reports a named activity (every invoke is named) that
	// finished, successfully or not; a failure that a scope caught is
	// still reported here with its error.
	StepDone(composite, step string, d time.Duration, err error)
	// Compensated reports a compensation call of step and its outcome.
	Compensated(composite, step string, err error)
}

// CallSite is a call a composite may make, for the gateway to check
// against its flow graph before the composite runs.
type CallSite struct {
	Step         string
	Service      string
	Operation    soap.QName
	Compensation bool
}

// Composite is a compiled composite service, ready to Run any number of
// times concurrently. It holds compiled XPath expressions (C memory) and
// must be closed.
type Composite struct {
	// Limits bound the input and every response as soap.Parse applies
	// them. Load sets soap.DefaultLimits(); change them, if at all, before
	// the first Run.
	Limits soap.Limits
	// Observer, if not nil, is told about steps and compensations. Set it
	// before the first Run.
	Observer Observer

	name     string
	file     string
	deadline time.Duration
	input    soap.QName
	output   soap.QName
	body     activity
	calls    []CallSite

	mu     sync.Mutex
	users  int // runs in progress
	closed bool
	exprs  []*expr
	clean  runtime.Cleanup

	contexts *contextPool
}

// Name is the composite's name, as the definition says.
func (c *Composite) Name() string { return c.name }

// File is the definition's file name, as given to Load.
func (c *Composite) File() string { return c.file }

// Deadline bounds one run, compensations excluded.
func (c *Composite) Deadline() time.Duration { return c.deadline }

// Input is the expanded name of the Body payload element the composite
// accepts; Output, of the one it replies with.
func (c *Composite) Input() soap.QName  { return c.input }
func (c *Composite) Output() soap.QName { return c.output }

// Calls lists every call the composite may make, in definition order.
func (c *Composite) Calls() []CallSite { return append([]CallSite(nil), c.calls...) }

var errClosed = errors.New("orchestration: composite is closed")

// Close frees the compiled expressions once the runs in progress end; later
// runs fail. It is idempotent.
func (c *Composite) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.users == 0 {
		c.release()
	}
}

// release frees the C memory; c.mu is held.
func (c *Composite) release() {
	c.clean.Stop()
	freeCompiled(compiled{c.exprs, c.contexts})
	c.exprs = nil
}

// compiled is the C memory a Composite holds, for Close or, if it is never
// closed, the garbage collector.
type compiled struct {
	exprs    []*expr
	contexts *contextPool
}

func freeCompiled(c compiled) {
	for _, e := range c.exprs {
		e.free()
	}
	if c.contexts != nil {
		c.contexts.close()
	}
}

func (c *Composite) acquire() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	c.users++
	return nil
}

func (c *Composite) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users--
	if c.closed && c.users == 0 {
		c.release()
	}
}
