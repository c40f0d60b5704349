package orchestration

import (
	"fmt"
	"maps"
	"slices"
)

// varset is the set of variables certainly assigned at a point of the flow.
// all marks a point no run reaches (after a fault): everything counts as
// assigned there, so that a branch that always faults does not weaken what
// the other branches guarantee.
type varset struct {
	all bool
	m   map[string]bool
}

func (s varset) has(v string) bool { return s.all || s.m[v] }

func (s varset) with(vs ...string) varset {
	if s.all {
		return s
	}
	m := maps.Clone(s.m)
	if m == nil {
		m = map[string]bool{}
	}
	for _, v := range vs {
		m[v] = true
	}
	return varset{m: m}
}

func (s varset) without(v string) varset {
	if s.all || !s.m[v] {
		return s
	}
	m := maps.Clone(s.m)
	delete(m, v)
	return varset{m: m}
}

func union(sets ...varset) varset {
	out := varset{m: map[string]bool{}}
	for _, s := range sets {
		if s.all {
			return s
		}
		for v := range s.m {
			out.m[v] = true
		}
	}
	return out
}

func intersect(sets ...varset) varset {
	out := varset{all: true}
	for _, s := range sets {
		if s.all {
			continue
		}
		if out.all {
			out = varset{m: maps.Clone(s.m)}
			continue
		}
		for v := range out.m {
			if !s.m[v] {
				delete(out.m, v)
			}
		}
	}
	return out
}

// flowCtx says where in the definition the check is.
type flowCtx struct {
	parallel bool // inside a branch of a parallel
	foreach  bool // inside the body of a foreach
}

// checkFlow checks that every variable is assigned on every path before it
// is read, that parallel branches do not share a variable one of them
// assigns, that reply appears where its outcome is defined, and that every
// run that completes has replied.
func (l *loader) checkFlow(c *Composite) {
	if c.body == nil {
		l.errorf(0, "composite", "no activity")
		return
	}
	out := l.flow(c.body, varset{m: map[string]bool{varInput: true}}, flowCtx{})
	if !out.has(varReply) {
		l.errorf(c.body.base().line, c.body.base().kind, "the composite can complete without a reply")
	}
}

func (l *loader) flow(a activity, in varset, fc flowCtx) varset {
	switch a := a.(type) {
	case nil:
		return in
	case *sequence:
		for _, s := range a.steps {
			in = l.flow(s, in, fc)
		}
		return in
	case *parallel:
		outs := make([]varset, len(a.branches))
		inner := fc
		inner.parallel = true
		for i, b := range a.branches {
			outs[i] = l.flow(b, in, inner)
		}
		l.checkBranches(a)
		return union(outs...)
	case *choice:
		var outs []varset
		for _, w := range a.whens {
			l.use(w.test, in)
			outs = append(outs, l.flow(w.body, in, fc))
		}
		outs = append(outs, l.flow(a.otherwise, in, fc)) // no otherwise: nothing runs
		return intersect(outs...)
	case *foreach:
		l.use(a.sel, in)
		inner := fc
		inner.foreach = true
		body := l.flow(a.body, in.with(a.variable), inner)
		if a.collect == "" {
			return in
		}
		if !body.has(a.collect) {
			l.errorf(a.line, a.label(), "collect $%s is not assigned on every path through the body", a.collect)
		}
		return in.with(a.collect)
	case *scope:
		body := l.flow(a.body, in, fc)
		// A fault may come at any point of the body: the catch can rely
		// only on what was assigned before the scope.
		caught := l.flow(a.catch, in.with(varFault), fc).without(varFault)
		return intersect(body, caught)
	case *invoke:
		l.useTemplate(a.request, in)
		out := in
		if a.result != "" {
			out = in.with(a.result)
		}
		if a.compensate != nil {
			l.useTemplate(a.compensate.request, out)
		}
		return out
	case *assign:
		if a.sel != nil {
			l.use(a.sel, in)
		}
		l.useTemplate(a.literal, in)
		return in.with(a.variable)
	case *reply:
		if fc.parallel || fc.foreach {
			l.errorf(a.line, "reply", "reply inside a parallel or a foreach would race with itself; reply after it")
		}
		l.useTemplate(a.tmpl, in)
		return in.with(varReply)
	case *fault:
		return varset{all: true}
	}
	panic(fmt.Sprintf("orchestration: unknown activity %T", a))
}

// use checks that every variable e reads is assigned.
func (l *loader) use(e *expr, in varset) {
	if e == nil {
		return
	}
	for _, v := range e.names.vars {
		switch {
		case in.has(v):
		case v == varFault:
			l.errorf(e.line, "", "XPath %q: $fault is set only inside a catch", e.src)
		case !l.assigned[v]:
			l.errorf(e.line, "", "XPath %q: unknown variable $%s (nothing assigns it)", e.src, v)
		default:
			l.errorf(e.line, "", "XPath %q: variable $%s may be read before it is assigned", e.src, v)
		}
	}
}

func (l *loader) useTemplate(t *template, in varset) {
	if t == nil {
		return
	}
	for _, p := range t.parts {
		l.use(p.sel, in)
	}
}

// checkBranches refuses parallel branches that assign a variable another
// branch reads or assigns: which value wins would depend on timing.
func (l *loader) checkBranches(p *parallel) {
	type effects struct{ reads, writes map[string]bool }
	all := make([]effects, len(p.branches))
	for i, b := range p.branches {
		all[i] = effects{reads: map[string]bool{}, writes: map[string]bool{}}
		collectEffects(b, all[i].reads, all[i].writes, false)
	}
	reported := map[string]bool{}
	for i := range all {
		for _, v := range sortedKeys(all[i].writes) {
			for j := range all {
				if i == j || reported[v] || (!all[j].reads[v] && !all[j].writes[v]) {
					continue
				}
				reported[v] = true
				l.errorf(p.line, p.label(), "variable $%s is assigned in one branch and used in another (line %d and line %d); their order is not defined",
					v, p.branches[i].base().line, p.branches[j].base().line)
			}
		}
	}
}

// collectEffects records what a runs reads and what it assigns in the
// frame it runs in (assignments inside a foreach body stay in the
// iteration, except collect).
func collectEffects(a activity, reads, writes map[string]bool, inForeach bool) {
	read := func(e *expr) {
		if e == nil {
			return
		}
		for _, v := range e.names.vars {
			if v != varInput && v != varFault {
				reads[v] = true
			}
		}
	}
	readTemplate := func(t *template) {
		if t == nil {
			return
		}
		for _, p := range t.parts {
			read(p.sel)
		}
	}
	write := func(v string) {
		if !inForeach && v != "" {
			writes[v] = true
		}
	}
	switch a := a.(type) {
	case *sequence:
		for _, s := range a.steps {
			collectEffects(s, reads, writes, inForeach)
		}
	case *parallel:
		for _, b := range a.branches {
			collectEffects(b, reads, writes, inForeach)
		}
	case *choice:
		for _, w := range a.whens {
			read(w.test)
			collectEffects(w.body, reads, writes, inForeach)
		}
		if a.otherwise != nil {
			collectEffects(a.otherwise, reads, writes, inForeach)
		}
	case *foreach:
		read(a.sel)
		if a.body != nil {
			collectEffects(a.body, reads, writes, true)
		}
		write(a.collect)
	case *scope:
		if a.body != nil {
			collectEffects(a.body, reads, writes, inForeach)
		}
		if a.catch != nil {
			collectEffects(a.catch, reads, writes, inForeach)
		}
	case *invoke:
		readTemplate(a.request)
		write(a.result)
		if a.compensate != nil {
			readTemplate(a.compensate.request)
		}
	case *assign:
		read(a.sel)
		readTemplate(a.literal)
		write(a.variable)
	case *reply:
		readTemplate(a.tmpl)
	}
}

// sortedKeys is for deterministic messages.
func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
