package orchestration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// Namespaces of the test services.
const (
	nsBank = "urn:bank"
	nsSvc  = "urn:svc"
)

func op(local string) soap.QName { return soap.QName{Space: nsSvc, Local: local} }

// testCatalog knows service "svc" with operations A, B, C, D, Undo, Undo2
// and Get (only Get is idempotent), and service "other" with X.
type testCatalog struct{}

func (testCatalog) Service(name string) bool { return name == "svc" || name == "other" }

func (testCatalog) Operation(service string, o soap.QName) (bool, bool) {
	if o.Space != nsSvc {
		return false, false
	}
	switch service {
	case "svc":
		switch o.Local {
		case "Get":
			return true, true
		case "A", "B", "C", "D", "Undo", "Undo2":
			return false, true
		}
	case "other":
		return false, o.Local == "X"
	}
	return false, false
}

// headerLines is the number of lines def puts before the body.
const headerLines = 5

// def wraps body in a composite named "t" with input {urn:bank}Req, output
// {urn:bank}Resp, prefixes b (bank) and s (svc) declared on the root and
// r (urn:resp) by a namespace element. Line N of body is line
// headerLines+N of the document.
func def(body string) string {
	return `<composite xmlns="urn:gatehouse:orchestration:1" xmlns:b="urn:bank" xmlns:s="urn:svc" name="t" deadline="2s">
  <namespace prefix="r" uri="urn:resp"/>
  <input element="{urn:bank}Req"/>
  <output element="{urn:bank}Resp"/>
  <!-- body -->
` + body + "\n</composite>\n"
}

// defDeadline is def with another deadline.
func defDeadline(deadline, body string) string {
	return strings.Replace(def(body), `deadline="2s"`, `deadline="`+deadline+`"`, 1)
}

func mustLoad(t testing.TB, doc string) *Composite {
	t.Helper()
	c, err := LoadBytes("test.xml", []byte(doc), testCatalog{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

const replyOK = `<reply><b:Resp>ok</b:Resp></reply>`

// behaviour is how the fake invoker answers one step.
type behaviour struct {
	resp  string
	err   error
	fails int           // with err: fail only the first fails calls (0: always)
	delay time.Duration // wait this long, or until ctx is done
}

// fakeInvoker records calls and answers each step (Call.Step, or
// "undo:"+Step for a compensation) as configured; an unconfigured step gets
// <r:Ok/>.
type fakeInvoker struct {
	mu          sync.Mutex
	answers     map[string]behaviour
	calls       []Call
	count       map[string]int
	cancelled   map[string]bool // the step's ctx was done while it waited
	deadlines   map[string]time.Duration
	inFlight    int
	maxInFlight int
}

func newInvoker(answers map[string]behaviour) *fakeInvoker {
	return &fakeInvoker{answers: answers, count: map[string]int{}, cancelled: map[string]bool{}, deadlines: map[string]time.Duration{}}
}

func key(c Call) string {
	if c.Compensation {
		return "undo:" + c.Step
	}
	return c.Step
}

func (f *fakeInvoker) Invoke(ctx context.Context, c Call) ([]byte, error) {
	k := key(c)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	n := f.count[k]
	f.count[k]++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	if dl, ok := ctx.Deadline(); ok {
		f.deadlines[k] = time.Until(dl)
	}
	b, ok := f.answers[k]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if !ok {
		b = behaviour{resp: `<r:Ok xmlns:r="urn:resp"/>`}
	}
	if b.delay > 0 {
		t := time.NewTimer(b.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled[k] = true
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	if b.err != nil && (b.fails == 0 || n < b.fails) {
		return nil, b.err
	}
	return []byte(b.resp), nil
}

// steps lists the keys of the calls made, in order.
func (f *fakeInvoker) steps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = key(c)
	}
	return out
}

func (f *fakeInvoker) call(k string) (Call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if key(c) == k {
			return c, true
		}
	}
	return Call{}, false
}

const inputReq = `<b:Req xmlns:b="urn:bank"><b:Id>7</b:Id><b:Name>Smith &amp; Sons &lt;Ltd&gt;</b:Name></b:Req>`

// asFault checks that err is a *soap.Fault and returns it.
func asFault(t *testing.T, err error) *soap.Fault {
	t.Helper()
	var f *soap.Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *soap.Fault", err, err)
	}
	return f
}

// recorder is an Observer that records what it is told.
type recorder struct {
	mu          sync.Mutex
	steps       []string
	compensated []string
}

func (r *recorder) StepDone(composite, step string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, fmt.Sprintf("%s/%s:%v", composite, step, err == nil))
}

func (r *recorder) Compensated(composite, step string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.compensated = append(r.compensated, fmt.Sprintf("%s/%s:%v", composite, step, err == nil))
}
