package orchestration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/lestrrat-go/libxml2/types"
)

// Public fault texts: the client learns that the composite failed, and
// whether its request was refused, nothing more. The reason is in Err.
const (
	publicFailed  = "composite service failed"
	publicRefused = "composite service refused the request"
	publicInput   = "request is not valid for this composite service"
	publicTooMany = "request has more items than the composite service accepts"
)

// ErrDeadline is in the chain of Run's error when the run's deadline (the
// composite's, or the caller's if that was earlier) ran out before the run
// completed. A step that failed on its own, an invoke's timeout included,
// is not reported with it.
var ErrDeadline = errors.New("deadline exceeded")

// Retry backoff: the wait before retry n (from 0) is retryBackoff << n,
// at most maxRetryBackoff, and never reaches past the deadline.
const (
	retryBackoff    = 50 * time.Millisecond
	maxRetryBackoff = time.Second
)

// value is a variable's value: nodes of documents the run holds, or a
// string (the string value of a non-node-set XPath result).
type value struct {
	nodes    []uintptr
	str      string
	isString bool
}

// frame holds variables. The run's root frame and each foreach iteration's
// frame are local: assignments made while running in them, or in an inner
// non-local frame, land there. A catch runs in a non-local frame that only
// adds $fault.
type frame struct {
	parent *frame
	local  bool
	mu     sync.Mutex // parallel branches share a frame
	vars   map[string]value
}

func newFrame(parent *frame, local bool) *frame {
	return &frame{parent: parent, local: local, vars: map[string]value{}}
}

func (f *frame) get(name string) (value, bool) {
	for fr := f; fr != nil; fr = fr.parent {
		fr.mu.Lock()
		v, ok := fr.vars[name]
		fr.mu.Unlock()
		if ok {
			return v, true
		}
	}
	return value{}, false
}

func (f *frame) set(name string, v value) {
	fr := f
	for !fr.local {
		fr = fr.parent
	}
	fr.mu.Lock()
	fr.vars[name] = v
	fr.mu.Unlock()
}

// stepError is a failure of an activity: what the client will see (code
// and public text, unless the deadline ran out) and the internal reason.
type stepError struct {
	step   string
	code   soap.Code
	public string
	err    error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func failed(b *actBase, err error) *stepError {
	return &stepError{step: b.label(), code: soap.Receiver, public: publicFailed, err: err}
}

// pendingCompensation is a completed invoke's undoing call, its request
// built when the invoke completed.
type pendingCompensation struct {
	step    string
	service string
	op      soap.QName
	timeout time.Duration
	request []byte
}

// run is the state of one Run.
type run struct {
	c     *Composite
	inv   Invoker
	input types.Document // the context document of every XPath evaluation
	hops  atomic.Int64

	mu    sync.Mutex
	docs  []types.Document // freed when the run ends
	comps []pendingCompensation
	reply []byte
}

func (r *run) free() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.docs {
		d.Free()
	}
	r.docs = nil
}

// Run runs the composite on input, the request Body's payload element (one
// element, no XML declaration), and returns the reply payload element.
//
// The run gets the composite's deadline (or the caller's, if earlier). On
// failure every compensation registered by a completed invoke runs, in
// reverse order of completion, each with its own timeout and detached from
// ctx's cancellation; and the error is a *soap.Fault: Sender if the input is
// not the composite's input element, if a fault activity raised a Sender
// fault, or if a step's call was refused with a Sender fault; Receiver
// otherwise, and always when the deadline ran out (then ErrDeadline is in
// the error's chain). Its public text is generic (a fault activity's text
// excepted); Err holds the step and the reason, and every compensation
// failure.
func (c *Composite) Run(ctx context.Context, input []byte, inv Invoker) ([]byte, error) {
	if inv == nil {
		return nil, soap.ReceiverFault(publicFailed, errors.New("orchestration: no invoker"))
	}
	if err := c.acquire(); err != nil {
		return nil, soap.ReceiverFault(publicFailed, err)
	}
	defer c.done()

	r := &run{c: c, inv: inv}
	defer r.free()
	name, doc, root, err := r.parsePayload(input)
	if err != nil {
		return nil, &soap.Fault{Code: soap.Sender, Public: publicInput, Err: fmt.Errorf("composite %s: input: %w", c.name, err)}
	}
	if name != c.input {
		return nil, &soap.Fault{Code: soap.Sender, Public: publicInput, Err: fmt.Errorf("composite %s: input element %s, want %s", c.name, name, c.input)}
	}
	r.input = doc

	runCtx, cancel := context.WithTimeout(ctx, c.deadline)
	defer cancel()
	vars := newFrame(nil, true)
	vars.vars[varInput] = value{nodes: []uintptr{root}}
	err = r.do(runCtx, c.body, vars)
	if err == nil {
		r.mu.Lock()
		reply := r.reply
		r.mu.Unlock()
		if reply != nil {
			return reply, nil
		}
		err = errors.New("completed without a reply") // the loader prevents this
	}

	f := &soap.Fault{Code: soap.Receiver, Public: publicFailed}
	var se *stepError
	if errors.As(err, &se) {
		f.Code, f.Public = se.code, se.public
	}
	if cerr := runCtx.Err(); cerr != nil {
		f.Code, f.Public = soap.Receiver, publicFailed
		if errors.Is(cerr, context.DeadlineExceeded) {
			if ctx.Err() == nil {
				err = fmt.Errorf("%w (the composite's, %v): %w", ErrDeadline, c.deadline, err)
			} else {
				err = fmt.Errorf("%w (the caller's): %w", ErrDeadline, err)
			}
		}
	}
	f.Err = fmt.Errorf("composite %s: %w", c.name, err)
	if cerr := r.compensate(ctx); cerr != nil {
		f.Err = errors.Join(f.Err, cerr)
	}
	return nil, f
}

// do runs an activity, stops when the run's context is done, and reports
// named activities to the observer.
func (r *run) do(ctx context.Context, a activity, f *frame) error {
	if a == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b := a.base()
	obs := r.c.Observer
	if b.name == "" || obs == nil {
		return a.exec(ctx, r, f)
	}
	start := time.Now()
	err := a.exec(ctx, r, f)
	obs.StepDone(r.c.name, b.name, time.Since(start), err)
	return err
}

func (s *sequence) exec(ctx context.Context, r *run, f *frame) error {
	for _, a := range s.steps {
		if err := r.do(ctx, a, f); err != nil {
			return err
		}
	}
	return nil
}

// group runs functions concurrently; the first failure cancels the
// context the others run with. Wait returns only when all have returned,
// because they use documents the run frees when it ends.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) *group {
	g := &group{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

func (g *group) fail(err error) {
	g.once.Do(func() {
		g.err = err
		g.cancel()
	})
}

func (g *group) goRun(fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer func() {
			// A panic in a step (an Invoker's, say) must not take the
			// process down from a goroutine no handler recovers.
			if p := recover(); p != nil {
				g.fail(fmt.Errorf("panic: %v", p))
			}
		}()
		if err := fn(g.ctx); err != nil {
			g.fail(err)
		}
	}()
}

func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

func (p *parallel) exec(ctx context.Context, r *run, f *frame) error {
	g := newGroup(ctx)
	for _, b := range p.branches {
		g.goRun(func(ctx context.Context) error { return r.do(ctx, b, f) })
	}
	return g.wait()
}

func (ch *choice) exec(ctx context.Context, r *run, f *frame) error {
	for _, w := range ch.whens {
		ok, err := r.evalBool(w.test, f)
		if err != nil {
			return failed(&ch.actBase, err)
		}
		if ok {
			return r.do(ctx, w.body, f)
		}
	}
	return r.do(ctx, ch.otherwise, f)
}

func (fe *foreach) exec(ctx context.Context, r *run, f *frame) error {
	var items []uintptr
	err := r.eval(fe.sel, f, func(res result) error {
		if !res.isNodeSet() {
			return fmt.Errorf("XPath %q does not select nodes", fe.sel.src)
		}
		var err error
		items, err = res.nodes()
		return err
	})
	if err != nil {
		return failed(&fe.actBase, err)
	}
	if len(items) > fe.max {
		public := publicFailed
		if fe.overflow == soap.Sender {
			public = publicTooMany
		}
		return &stepError{step: fe.label(), code: fe.overflow, public: public,
			err: fmt.Errorf("%d items, at most %d allowed", len(items), fe.max)}
	}

	frames := make([]*frame, len(items))
	for i, it := range items {
		frames[i] = newFrame(f, true)
		frames[i].vars[fe.variable] = value{nodes: []uintptr{it}}
	}
	if fe.concurrency == 1 {
		for _, fr := range frames {
			if err := r.do(ctx, fe.body, fr); err != nil {
				return err
			}
		}
	} else {
		g := newGroup(ctx)
		slots := make(chan struct{}, fe.concurrency)
	start:
		for _, fr := range frames {
			select {
			case slots <- struct{}{}:
			case <-g.ctx.Done():
				break start
			}
			if g.ctx.Err() != nil { // both were ready
				break start
			}
			g.goRun(func(ctx context.Context) error {
				// A failure cancels the group before the slot is given
				// back, so the loop never starts another iteration after
				// one has failed.
				defer func() { <-slots }()
				err := r.do(ctx, fe.body, fr)
				if err != nil {
					g.fail(err)
				}
				return err
			})
		}
		if err := g.wait(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	if fe.collect == "" {
		return nil
	}
	var all []uintptr
	for _, fr := range frames {
		v, _ := fr.get(fe.collect)
		if v.isString {
			return failed(&fe.actBase, fmt.Errorf("collect $%s: a string value, not nodes", fe.collect))
		}
		all = append(all, v.nodes...)
	}
	f.set(fe.collect, value{nodes: all})
	return nil
}

func (s *scope) exec(ctx context.Context, r *run, f *frame) error {
	err := r.do(ctx, s.body, f)
	if err == nil {
		return nil
	}
	// An exceeded deadline or a cancelled run is not a fault a catch can
	// handle: the run is over.
	if ctx.Err() != nil {
		return err
	}
	var se *stepError
	if !errors.As(err, &se) {
		se = failed(&s.actBase, err)
	}
	fv, ferr := r.faultValue(se)
	if ferr != nil {
		return failed(&s.actBase, errors.Join(err, ferr))
	}
	inCatch := newFrame(f, false)
	inCatch.vars[varFault] = fv
	return r.do(ctx, s.catch, inCatch)
}

// faultValue is $fault in a catch: <fault code="…" step="…">public text</fault>
// in the orchestration namespace. It says what the client would have seen,
// not the internal reason.
func (r *run) faultValue(se *stepError) (value, error) {
	w := &xmlWriter{}
	w.start("", Namespace, "fault", []xattr{{local: "code", value: se.code.String()}, {local: "step", value: se.step}})
	w.text(se.public)
	w.end()
	nodes, err := r.parseFragment(w.buf)
	return value{nodes: nodes}, err
}

func (a *assign) exec(ctx context.Context, r *run, f *frame) error {
	var v value
	if a.sel != nil {
		err := r.eval(a.sel, f, func(res result) error {
			if !res.isNodeSet() {
				v = value{str: res.string(), isString: true}
				return nil
			}
			var err error
			v.nodes, err = res.nodes()
			return err
		})
		if err != nil {
			return failed(&a.actBase, err)
		}
	} else {
		content, err := a.literal.render(r, f)
		if err != nil {
			return failed(&a.actBase, err)
		}
		if v.nodes, err = r.parseFragment(content); err != nil {
			return failed(&a.actBase, fmt.Errorf("literal: %w", err))
		}
	}
	f.set(a.variable, v)
	return nil
}

func (rp *reply) exec(ctx context.Context, r *run, f *frame) error {
	out, err := rp.tmpl.render(r, f)
	if err != nil {
		return failed(&rp.actBase, err)
	}
	r.mu.Lock()
	r.reply = out
	r.mu.Unlock()
	return nil
}

func (ft *fault) exec(ctx context.Context, r *run, f *frame) error {
	return &stepError{step: ft.label(), code: ft.code, public: ft.text, err: fmt.Errorf("fault %s raised: %s", ft.code, ft.text)}
}

func (iv *invoke) exec(ctx context.Context, r *run, f *frame) error {
	req, err := iv.request.render(r, f)
	if err != nil {
		return failed(&iv.actBase, fmt.Errorf("request: %w", err))
	}
	resp, err := r.call(ctx, iv, req)
	if err != nil {
		se := failed(&iv.actBase, fmt.Errorf("call of %s on service %q: %w", iv.op, iv.service, err))
		var sf *soap.Fault
		if ctx.Err() == nil && errors.As(err, &sf) && sf.Code == soap.Sender {
			se.code, se.public = soap.Sender, publicRefused
		}
		return se
	}
	if iv.result != "" {
		_, _, root, err := r.parsePayload(resp)
		if err != nil {
			return failed(&iv.actBase, fmt.Errorf("response of service %q: %w", iv.service, err))
		}
		f.set(iv.result, value{nodes: []uintptr{root}})
	}
	if cp := iv.compensate; cp != nil {
		creq, err := cp.request.render(r, f)
		if err != nil {
			// The call happened and cannot be undone: fail now, so that at
			// least the earlier steps are compensated.
			return failed(&iv.actBase, fmt.Errorf("compensation request (step is NOT compensated): %w", err))
		}
		r.mu.Lock()
		r.comps = append(r.comps, pendingCompensation{step: iv.name, service: cp.service, op: cp.op, timeout: cp.timeout, request: creq})
		r.mu.Unlock()
	}
	return nil
}

// call invokes the step's operation: each attempt bounded by the step's
// timeout and the run's deadline, retried (for an operation the catalog
// marks idempotent) after a backoff that never reaches past the deadline,
// unless the call was refused with a Sender fault.
func (r *run) call(ctx context.Context, iv *invoke, req []byte) ([]byte, error) {
	attempts := 1
	if iv.idempotent {
		attempts += iv.retries
	}
	for n := 0; ; n++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if iv.timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, iv.timeout)
		}
		resp, err := r.invoke(actx, Call{
			Composite: r.c.name, Step: iv.name, Service: iv.service, Operation: iv.op,
			Request: req, Hop: int(r.hops.Add(1)),
		})
		cancel()
		if err == nil {
			return resp, nil
		}
		if n+1 >= attempts || ctx.Err() != nil || !retryable(err) {
			if n > 0 {
				err = fmt.Errorf("attempt %d of %d: %w", n+1, attempts, err)
			}
			return nil, err
		}
		wait := min(retryBackoff<<n, maxRetryBackoff)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return nil, fmt.Errorf("attempt %d of %d, no time left to retry: %w", n+1, attempts, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("attempt %d of %d: %w", n+1, attempts, err)
		}
	}
}

// retryable: a call refused with a Sender fault would be refused again.
func retryable(err error) bool {
	var f *soap.Fault
	return !errors.As(err, &f) || f.Code != soap.Sender
}

// invoke calls the Invoker, turning a panic into an error.
func (r *run) invoke(ctx context.Context, call Call) (resp []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("invoker panic: %v", p)
		}
	}()
	return r.inv.Invoke(ctx, call)
}

// compensate runs the registered compensations in reverse order of
// completion. Each gets its own timeout on a context detached from ctx's
// cancellation (the run may have failed because ctx was cancelled or its
// deadline passed), keeping ctx's values. A failed compensation does not
// stop the others; all failures are returned.
func (r *run) compensate(ctx context.Context) error {
	r.mu.Lock()
	comps := r.comps
	r.comps = nil
	r.mu.Unlock()
	base := context.WithoutCancel(ctx)
	var errs []error
	for i := len(comps) - 1; i >= 0; i-- {
		p := comps[i]
		cctx, cancel := context.WithTimeout(base, p.timeout)
		_, err := r.invoke(cctx, Call{
			Composite: r.c.name, Step: p.step, Service: p.service, Operation: p.op,
			Request: p.request, Hop: int(r.hops.Add(1)), Compensation: true,
		})
		cancel()
		if obs := r.c.Observer; obs != nil {
			obs.Compensated(r.c.name, p.step, err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("compensation of step %q failed: %w", p.step, err))
		}
	}
	return errors.Join(errs...)
}
