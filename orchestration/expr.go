package orchestration

import (
	"fmt"
	"sync"

	"github.com/lestrrat-go/libxml2/types"
	"github.com/lestrrat-go/libxml2/xpath"
)

// exprKind is what an expression's value is used as; the expression is
// compiled wrapped accordingly, so libxml2 does the conversion by the rules
// of XPath 1.0.
type exprKind int

const (
	exprAny     exprKind = iota // as it is: node-set, string, number or boolean
	exprString                  // string(...)
	exprBoolean                 // boolean(...)
)

// expr is an XPath expression compiled at load.
type expr struct {
	src   string
	line  int
	names xpathNames  // what the loader found in src
	ns    []nsBinding // the prefixes src uses, resolved
	// selectsInput is true when $input is the only variable src reads.
	selectsInput bool

	// mu serializes evaluations of comp: libxml2 2.9 caches function
	// look-ups inside a compiled expression on its first evaluation, so
	// concurrent first evaluations would write to it at once.
	mu   sync.Mutex
	comp *xpath.Expression
	// C copies of the prefixes, namespaces and variable names, made once.
	cns   []cBinding
	cvars []cString
}

type cBinding struct{ prefix, uri cString }

func (e *expr) free() {
	if e.comp != nil {
		e.comp.Free()
		e.comp = nil
	}
	for i := range e.cns {
		e.cns[i].prefix.free()
		e.cns[i].uri.free()
	}
	for i := range e.cvars {
		e.cvars[i].free()
	}
	e.cns, e.cvars = nil, nil
}

// compileExpr scans, resolves and compiles the expression in attribute attr
// of n. Problems are recorded; the returned expr has a nil comp then, but
// keeps its names for the variable checks.
func (l *loader) compileExpr(n *xnode, attr, src string, kind exprKind) *expr {
	e := &expr{src: src, line: n.line}
	l.exprs = append(l.exprs, e)
	el := n.local + " " + attr
	names, err := scanXPath(src)
	if err != nil {
		l.errorf(n.line, el, "XPath %q: %v", src, err)
		return e
	}
	e.names = names
	e.selectsInput = len(names.vars) == 1 && names.vars[0] == varInput
	ok := true
	for _, p := range names.prefixes {
		uri, err := l.resolvePrefix(n, p)
		if err != nil {
			l.errorf(n.line, el, "XPath %q: %v", src, err)
			ok = false
			continue
		}
		e.ns = append(e.ns, nsBinding{p, uri})
	}
	if err := checkXPath(src); err != nil {
		l.errorf(n.line, el, "XPath %q: %v", src, err)
		return e
	}
	if !ok {
		return e
	}
	wrapped := src
	switch kind {
	case exprString:
		wrapped = "string(" + src + ")"
	case exprBoolean:
		wrapped = "boolean(" + src + ")"
	}
	comp, err := xpath.NewExpression(wrapped)
	if err != nil {
		l.errorf(n.line, el, "XPath %q: %v", src, err)
		return e
	}
	e.setCompiled(comp)
	return e
}

// setCompiled keeps comp and the C copies of the names e uses.
func (e *expr) setCompiled(comp *xpath.Expression) {
	e.comp = comp
	for _, b := range e.ns {
		e.cns = append(e.cns, cBinding{newCString(b.prefix), newCString(b.uri)})
	}
	for _, v := range e.names.vars {
		e.cvars = append(e.cvars, newCString(v))
	}
}

// resolvePrefix binds an XPath prefix: by a namespace element of the
// composite, or else by the xmlns declarations in scope where the
// expression is written. The two must not disagree.
func (l *loader) resolvePrefix(n *xnode, prefix string) (string, error) {
	decl, declared := l.namespaces[prefix]
	inScope, bound := n.lookupNS(prefix)
	switch {
	case declared && bound && inScope != decl.uri:
		return "", fmt.Errorf("prefix %q is bound to %q by the namespace element on line %d but to %q by xmlns here", prefix, decl.uri, decl.line, inScope)
	case declared:
		return decl.uri, nil
	case bound && inScope != "":
		return inScope, nil
	}
	return "", fmt.Errorf("undeclared namespace prefix %q", prefix)
}

// result is an evaluated expression; it lives until the callback given to
// eval returns.
type result struct {
	obj types.XPathResult
	ptr uintptr
}

func (r result) isNodeSet() bool { return r.obj.Type() == xpath.NodeSetType }
func (r result) string() string  { return xpString(r.ptr) }

// nodes returns the nodes of a node-set result; they belong to documents
// the run holds until it ends.
func (r result) nodes() ([]uintptr, error) { return xpNodes(r.ptr) }

// eval evaluates e with the variables of f bound, the input document's root
// as the context node, and only e's prefixes registered, then calls use
// with the result and frees it.
func (r *run) eval(e *expr, f *frame, use func(result) error) error {
	if e.comp == nil {
		return fmt.Errorf("XPath %q was not compiled", e.src)
	}
	ctx, err := r.c.contexts.get()
	if err != nil {
		return fmt.Errorf("XPath %q: %w", e.src, err)
	}
	defer r.c.contexts.put(ctx)
	if err := ctx.SetContextNode(r.input); err != nil {
		return fmt.Errorf("XPath %q: %w", e.src, err)
	}
	for _, b := range e.cns {
		if err := xpRegisterNS(ctx.Pointer(), b.prefix, b.uri); err != nil {
			return fmt.Errorf("XPath %q: %w", e.src, err)
		}
	}
	for i, name := range e.names.vars {
		v, ok := f.get(name)
		switch {
		case !ok:
			return fmt.Errorf("XPath %q: variable $%s is not set", e.src, name)
		case v.isString:
			err = xpBindString(ctx.Pointer(), e.cvars[i], v.str)
		default:
			err = xpBindNodes(ctx.Pointer(), e.cvars[i], v.nodes)
		}
		if err != nil {
			return fmt.Errorf("XPath %q: $%s: %w", e.src, name, err)
		}
	}
	e.mu.Lock()
	res, err := ctx.FindExpr(e.comp)
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("XPath %q: %w", e.src, xpError(ctx.Pointer()))
	}
	defer res.Free()
	p, ok := res.(interface{ Pointer() uintptr })
	if !ok {
		return fmt.Errorf("XPath %q: unexpected result type %T", e.src, res)
	}
	return use(result{obj: res, ptr: p.Pointer()})
}

// contextPool keeps XPath contexts for reuse: creating one registers the
// whole core function library in a new hash table, which costs more than
// most evaluations. A context is reset (no variables, no namespaces, no
// error) before it goes back.
type contextPool struct {
	mu     sync.Mutex
	free   []*xpath.Context
	closed bool
}

// maxPooledContexts bounds what an idle composite holds.
const maxPooledContexts = 32

func (p *contextPool) get() (*xpath.Context, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		ctx := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return ctx, nil
	}
	p.mu.Unlock()
	ctx, err := xpath.NewContext()
	if err != nil {
		return nil, err
	}
	xpSetup(ctx.Pointer())
	return ctx, nil
}

func (p *contextPool) put(ctx *xpath.Context) {
	xpReset(ctx.Pointer())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.free) >= maxPooledContexts {
		ctx.Free()
		return
	}
	p.free = append(p.free, ctx)
}

// close frees the pooled contexts; later puts free theirs.
func (p *contextPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ctx := range p.free {
		ctx.Free()
	}
	p.free = nil
	p.closed = true
}

// evalString evaluates an expression compiled as string(...).
func (r *run) evalString(e *expr, f *frame) (string, error) {
	var s string
	err := r.eval(e, f, func(res result) error {
		s = res.string()
		return nil
	})
	return s, err
}

// evalBool evaluates an expression compiled as boolean(...).
func (r *run) evalBool(e *expr, f *frame) (bool, error) {
	var b bool
	err := r.eval(e, f, func(res result) error {
		if res.obj.Type() != xpath.BooleanType {
			return fmt.Errorf("XPath %q: not a boolean", e.src)
		}
		b = res.obj.Bool()
		return nil
	})
	return b, err
}
