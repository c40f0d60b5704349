package orchestration

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/soap"
)

const (
	// maxDefinitionBytes bounds a definition file.
	maxDefinitionBytes = 1 << 20
	// maxDeadline bounds a composite's deadline: a longer one is more
	// likely a typo than a need, and would hold a client connection open.
	maxDeadline = time.Hour
	// defaultCompensationTimeout bounds a compensation call without a
	// timeout of its own.
	defaultCompensationTimeout = 2 * time.Second
	// maxCompensationTimeout bounds one compensation call: compensations
	// run one after the other while the client waits for its fault.
	maxCompensationTimeout = time.Minute
)

// Reserved variables: the input payload, and the fault inside a catch.
const (
	varInput = "input"
	varFault = "fault"
	// varReply is not a variable: the flow check tracks "a reply was
	// made" as if it were one, under a name no variable can have.
	varReply = "#reply"
)

// Load reads the definition at path; see LoadBytes.
func Load(path string, cat Catalog) (*Composite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDefinitionBytes+1))
	if err != nil {
		return nil, Errors{{File: path, Msg: err.Error()}}
	}
	return LoadBytes(path, data, cat)
}

// LoadBytes compiles a definition: it refuses a DOCTYPE, validates the
// document against the embedded schema, then checks its meaning against
// the catalog and compiles every XPath expression and template. On failure
// the error is Errors, every problem found with file (as given) and line.
func LoadBytes(file string, data []byte, cat Catalog) (*Composite, error) {
	if cat == nil {
		return nil, errors.New("orchestration: no catalog")
	}
	if len(data) > maxDefinitionBytes {
		return nil, Errors{{File: file, Msg: fmt.Sprintf("definition larger than %d bytes", maxDefinitionBytes)}}
	}
	// No DTD, ever: refused before libxml2 or encoding/xml reads anything.
	if i := bytes.Index(data, []byte("<!DOCTYPE")); i >= 0 {
		return nil, Errors{{File: file, Line: 1 + bytes.Count(data[:i], []byte{'\n'}), Msg: "DOCTYPE is not allowed"}}
	}
	set, err := schemas.CompileEmbedded(SchemaName)
	if err != nil {
		return nil, fmt.Errorf("orchestration: compile %s: %w", SchemaName, err)
	}
	err = set.Validate(data)
	set.Close()
	if err != nil {
		return nil, schemaErrors(file, err)
	}
	root, err := readTree(data)
	if err != nil {
		return nil, Errors{{File: file, Msg: err.Error()}}
	}

	l := &loader{file: file, cat: cat, namespaces: map[string]nsDecl{}, steps: map[string]int{}, assigned: map[string]bool{}}
	c := l.composite(root)
	l.checkFlow(c)
	if len(l.errs) > 0 {
		freeCompiled(compiled{exprs: l.exprs})
		slices.SortStableFunc(l.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
		return nil, l.errs
	}
	c.exprs = l.exprs
	c.contexts = &contextPool{}
	c.clean = runtime.AddCleanup(c, freeCompiled, compiled{c.exprs, c.contexts})
	return c, nil
}

// schemaErrors turns a schema validation failure into Errors.
func schemaErrors(file string, err error) error {
	var pe *schemas.ParseError
	if errors.As(err, &pe) {
		return Errors{{File: file, Line: pe.Line, Msg: "not well-formed XML: " + strings.TrimSuffix(pe.Message, ".")}}
	}
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("orchestration: validate %s: %w", file, err)
	}
	short := func(s string) string { return strings.ReplaceAll(s, "{"+Namespace+"}", "") }
	errs := make(Errors, 0, len(ve.Problems)+1)
	for _, p := range ve.Problems {
		errs = append(errs, &Error{File: file, Line: p.Line, Element: short(p.Element), Msg: strings.TrimSuffix(short(p.Message), ".")})
	}
	if ve.Truncated {
		errs = append(errs, &Error{File: file, Msg: "further schema problems not shown"})
	}
	return errs
}

type nsDecl struct {
	uri  string
	line int
}

// loader compiles one definition and collects every problem in it.
type loader struct {
	file       string
	cat        Catalog
	errs       Errors
	namespaces map[string]nsDecl // the namespace elements
	steps      map[string]int    // activity names → line
	assigned   map[string]bool   // every variable assigned somewhere
	exprs      []*expr
	deadline   time.Duration
	output     soap.QName
	calls      []CallSite
}

func (l *loader) errorf(line int, element, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Element: element, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) composite(root *xnode) *Composite {
	c := &Composite{Limits: soap.DefaultLimits(), file: l.file}
	c.name, _ = root.attr("name")
	c.deadline = l.duration(root, "deadline")
	if c.deadline > maxDeadline {
		l.errorf(root.line, "composite", "deadline %v exceeds %v", c.deadline, maxDeadline)
	}
	l.deadline = c.deadline
	for _, el := range root.elements() {
		switch {
		case el.is("namespace"):
			prefix, _ := el.attr("prefix")
			uri, _ := el.attr("uri")
			if prev, dup := l.namespaces[prefix]; dup {
				l.errorf(el.line, "namespace", "prefix %q is already bound on line %d", prefix, prev.line)
			}
			if prefix == "xml" || prefix == "xmlns" || uri == soap.NSXML || uri == soap.NSXMLNS {
				l.errorf(el.line, "namespace", "reserved prefix or namespace")
			}
			l.namespaces[prefix] = nsDecl{uri: uri, line: el.line}
		case el.is("input"):
			c.input = l.expanded(el, "element")
		case el.is("output"):
			c.output = l.expanded(el, "element")
			l.output = c.output
		default:
			c.body = l.activity(el)
		}
	}
	c.calls = l.calls
	return c
}

// activity compiles one activity element.
func (l *loader) activity(n *xnode) activity {
	b := actBase{kind: n.local, line: n.line}
	if name, ok := n.attr("name"); ok {
		b.name = name
		if prev, dup := l.steps[name]; dup {
			l.errorf(n.line, n.local, "name %q is already used on line %d", name, prev)
		}
		l.steps[name] = n.line
	}
	switch n.local {
	case "sequence":
		s := &sequence{actBase: b}
		for _, el := range n.elements() {
			s.steps = append(s.steps, l.activity(el))
		}
		return s
	case "parallel":
		p := &parallel{actBase: b}
		for _, el := range n.elements() {
			p.branches = append(p.branches, l.activity(el))
		}
		return p
	case "choice":
		ch := &choice{actBase: b}
		for _, el := range n.elements() {
			if el.is("otherwise") {
				ch.otherwise = l.block(el)
				continue
			}
			test, _ := el.attr("test")
			ch.whens = append(ch.whens, when{test: l.compileExpr(el, "test", test, exprBoolean), body: l.block(el)})
		}
		return ch
	case "foreach":
		return l.foreach(n, b)
	case "scope":
		s := &scope{actBase: b}
		var body []*xnode
		for _, el := range n.elements() {
			if el.is("catch") {
				s.catch = l.block(el)
			} else {
				body = append(body, el)
			}
		}
		s.body = l.blockOf(n, body)
		return s
	case "invoke":
		return l.invoke(n, b)
	case "assign":
		a := &assign{actBase: b}
		a.variable = l.variable(n, "variable")
		sel, hasSelect := n.attr("select")
		var literal *xnode
		for _, el := range n.elements() {
			literal = el
		}
		switch {
		case hasSelect && literal != nil:
			l.errorf(n.line, "assign", "has both select and literal")
		case hasSelect:
			a.sel = l.compileExpr(n, "select", sel, exprAny)
		case literal != nil:
			a.literal = l.compileTemplate(literal)
		default:
			l.errorf(n.line, "assign", "needs select or literal")
		}
		return a
	case "reply":
		r := &reply{actBase: b, tmpl: l.compileTemplate(n)}
		l.checkRoot(n, r.tmpl, l.output, "the reply", "output")
		return r
	case "fault":
		f := &fault{actBase: b, code: soap.Receiver}
		if code, _ := n.attr("code"); code == "Sender" {
			f.code = soap.Sender
		}
		f.text, _ = n.attr("text")
		return f
	}
	l.errorf(n.line, n.local, "unknown activity")
	return &sequence{actBase: b}
}

// block compiles the activities inside n as one.
func (l *loader) block(n *xnode) activity { return l.blockOf(n, n.elements()) }

func (l *loader) blockOf(n *xnode, els []*xnode) activity {
	switch len(els) {
	case 0:
		return nil
	case 1:
		return l.activity(els[0])
	}
	s := &sequence{actBase: actBase{kind: "sequence", line: n.line}}
	for _, el := range els {
		s.steps = append(s.steps, l.activity(el))
	}
	return s
}

func (l *loader) foreach(n *xnode, b actBase) activity {
	fe := &foreach{actBase: b, concurrency: 1, overflow: soap.Receiver}
	sel, _ := n.attr("select")
	fe.sel = l.compileExpr(n, "select", sel, exprAny)
	if fe.sel.selectsInput {
		fe.overflow = soap.Sender
	}
	fe.variable = l.variable(n, "variable")
	fe.max = l.count(n, "max")
	if _, ok := n.attr("concurrency"); ok {
		fe.concurrency = l.count(n, "concurrency")
	}
	if _, ok := n.attr("collect"); ok {
		fe.collect = l.variable(n, "collect")
		if fe.collect == fe.variable {
			l.errorf(n.line, "foreach", "collect names the loop variable")
		}
	}
	fe.body = l.block(n)
	return fe
}

func (l *loader) invoke(n *xnode, b actBase) activity {
	iv := &invoke{actBase: b}
	el := fmt.Sprintf("invoke name=%q", b.name)
	iv.service, _ = n.attr("service")
	iv.op = l.expanded(n, "operation")
	catalogIdempotent := l.operation(n, el, iv.service, iv.op)
	if _, ok := n.attr("result"); ok {
		iv.result = l.variable(n, "result")
	}
	if _, ok := n.attr("timeout"); ok {
		iv.timeout = l.duration(n, "timeout")
		if iv.timeout > l.deadline && l.deadline > 0 {
			l.errorf(n.line, el, "timeout %v exceeds the composite's deadline %v", iv.timeout, l.deadline)
		}
	}
	if v, ok := n.attr("idempotent"); ok {
		iv.idempotent = v == "true" || v == "1"
	}
	if v, ok := n.attr("retries"); ok {
		iv.retries, _ = strconv.Atoi(v)
	}
	if iv.idempotent && !catalogIdempotent {
		l.errorf(n.line, el, "idempotent=\"true\" but the catalog does not mark %s of service %q idempotent", iv.op, iv.service)
		iv.idempotent = false
	}
	if iv.retries > 0 && !iv.idempotent {
		l.errorf(n.line, el, "retries need an idempotent operation (idempotent=\"true\", confirmed by the catalog)")
	}
	l.calls = append(l.calls, CallSite{Step: b.name, Service: iv.service, Operation: iv.op})

	for _, c := range n.elements() {
		switch {
		case c.is("request"):
			iv.request = l.compileTemplate(c)
			l.checkRoot(c, iv.request, iv.op, "the request", "operation")
		case c.is("compensate"):
			iv.compensate = l.compensation(c, iv)
		}
	}
	if iv.request == nil {
		l.errorf(n.line, el, "request is required")
	}
	return iv
}

func (l *loader) compensation(n *xnode, iv *invoke) *compensation {
	cp := &compensation{service: iv.service, timeout: defaultCompensationTimeout}
	if s, ok := n.attr("service"); ok {
		cp.service = s
	}
	cp.op = l.expanded(n, "operation")
	l.operation(n, fmt.Sprintf("invoke name=%q compensate", iv.name), cp.service, cp.op)
	if _, ok := n.attr("timeout"); ok {
		cp.timeout = l.duration(n, "timeout")
		if cp.timeout > maxCompensationTimeout {
			l.errorf(n.line, "compensate", "timeout %v exceeds %v", cp.timeout, maxCompensationTimeout)
		}
	}
	for _, c := range n.elements() {
		if c.is("request") {
			cp.request = l.compileTemplate(c)
			l.checkRoot(c, cp.request, cp.op, "the compensation request", "operation")
		}
	}
	if cp.request == nil {
		l.errorf(n.line, "compensate", "request is required")
	}
	l.calls = append(l.calls, CallSite{Step: iv.name, Service: cp.service, Operation: cp.op, Compensation: true})
	return cp
}

// operation checks service and op against the catalog and returns whether
// the catalog marks op idempotent.
func (l *loader) operation(n *xnode, el, service string, op soap.QName) bool {
	if !l.cat.Service(service) {
		l.errorf(n.line, el, "unknown service %q", service)
		return false
	}
	if op.IsZero() {
		return false
	}
	idempotent, ok := l.cat.Operation(service, op)
	if !ok {
		l.errorf(n.line, el, "service %q has no operation %s", service, op)
	}
	return idempotent
}

// checkRoot checks that a request or reply template builds exactly one
// element, named want.
func (l *loader) checkRoot(n *xnode, t *template, want soap.QName, what, by string) {
	switch {
	case !t.oneRoot:
		l.errorf(n.line, n.local, "%s must be exactly one literal element", what)
	case t.root != want:
		l.errorf(n.line, n.local, "%s element %s is not the %s %s", what, t.root, by, want)
	}
}

// variable reads an attribute naming a variable the activity assigns.
func (l *loader) variable(n *xnode, attr string) string {
	v, _ := n.attr(attr)
	if v == varInput || v == varFault {
		l.errorf(n.line, n.local, "%s: variable $%s is reserved", attr, v)
	}
	l.assigned[v] = true
	return v
}

func (l *loader) expanded(n *xnode, attr string) soap.QName {
	v, _ := n.attr(attr)
	q, ok := parseExpanded(v)
	if !ok {
		l.errorf(n.line, n.local, "%s %q is not {namespace}local", attr, v)
	}
	return q
}

func (l *loader) duration(n *xnode, attr string) time.Duration {
	v, _ := n.attr(attr)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.errorf(n.line, n.local, "%s %q is not a positive duration", attr, v)
		return 0
	}
	return d
}

func (l *loader) count(n *xnode, attr string) int {
	v, _ := n.attr(attr)
	c, err := strconv.Atoi(v)
	if err != nil || c <= 0 {
		l.errorf(n.line, n.local, "%s %q is not a positive count", attr, v)
		return 1
	}
	return c
}
