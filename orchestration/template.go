package orchestration

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/lestrrat-go/libxml2/dom"
)

// template is literal XML with value-of and copy-of instructions, compiled
// into static text (written once, at load, namespace declarations included)
// and the instructions between it.
type template struct {
	parts []part
	// root is the name of the template's only top-level element, when it
	// has exactly one literal element and nothing else at the top.
	root    soap.QName
	oneRoot bool
}

type part struct {
	static string
	sel    *expr // nil for static text
	copy   bool  // copy-of rather than value-of
	// scope is the writer's namespace scope where copy-of writes, so that
	// copied nodes declare exactly what they need there.
	scope []nsBinding
}

// compileTemplate compiles the content of el (request, reply, literal).
// White-space-only text is dropped, as XSLT drops it from a stylesheet.
func (l *loader) compileTemplate(el *xnode) *template {
	t := &template{}
	w := &xmlWriter{}
	flush := func() {
		if len(w.buf) > 0 {
			t.parts = append(t.parts, part{static: string(w.buf)})
			w.buf = w.buf[:0]
		}
	}
	var walk func(n *xnode)
	walk = func(n *xnode) {
		for _, c := range n.content {
			switch {
			case c.el == nil:
				if strings.TrimSpace(c.text) != "" {
					w.text(c.text)
				}
			case c.el.space == Namespace:
				sel := l.instruction(c.el)
				if sel == nil {
					continue
				}
				w.closeStart()
				flush()
				p := part{sel: sel, copy: c.el.local == "copy-of"}
				if p.copy {
					p.scope = slices.Clone(w.scope)
				}
				t.parts = append(t.parts, p)
			default:
				if err := l.literalElement(c.el); err != nil {
					l.errorf(c.el.line, c.el.local, "%v", err)
					continue
				}
				w.start(c.el.prefix, c.el.space, c.el.local, c.el.attrs)
				walk(c.el)
				w.end()
			}
		}
	}
	walk(el)
	flush()

	var tops []xchild
	for _, c := range el.content {
		if c.el != nil || strings.TrimSpace(c.text) != "" {
			tops = append(tops, c)
		}
	}
	if len(tops) == 1 && tops[0].el != nil && tops[0].el.space != Namespace {
		t.root = soap.QName{Space: tops[0].el.space, Local: tops[0].el.local}
		t.oneRoot = true
	}
	return t
}

// instruction checks a value-of or copy-of inside a template and compiles
// its expression; the schema cannot, as it skips template content.
func (l *loader) instruction(n *xnode) *expr {
	if n.local != "value-of" && n.local != "copy-of" {
		l.errorf(n.line, n.local, "element in the orchestration namespace is not a template instruction (only value-of and copy-of are; write a literal element without a namespace as <%s xmlns=\"\">)", n.local)
		return nil
	}
	if len(n.elements()) > 0 || strings.TrimSpace(textOf(n)) != "" {
		l.errorf(n.line, n.local, "must be empty")
	}
	for _, a := range n.attrs {
		if a.space != "" || a.local != "select" {
			l.errorf(n.line, n.local, "unexpected attribute %s", qname(a.prefix, a.local))
		}
	}
	src, ok := n.attr("select")
	if !ok {
		l.errorf(n.line, n.local, "select is required")
		return nil
	}
	kind := exprString
	if n.local == "copy-of" {
		kind = exprAny
	}
	return l.compileExpr(n, "select", src, kind)
}

// literalElement checks an element written literally in a template.
func (l *loader) literalElement(n *xnode) error {
	for _, a := range n.attrs {
		if a.space == Namespace {
			return fmt.Errorf("attribute %s:%s in the orchestration namespace", a.prefix, a.local)
		}
	}
	return nil
}

func textOf(n *xnode) string {
	var b strings.Builder
	for _, c := range n.content {
		if c.el == nil {
			b.WriteString(c.text)
		}
	}
	return b.String()
}

// render fills the template in with the variables of f.
func (t *template) render(r *run, f *frame) ([]byte, error) {
	size := 0
	for _, p := range t.parts {
		size += len(p.static)
	}
	out := make([]byte, 0, size+64)
	for _, p := range t.parts {
		switch {
		case p.sel == nil:
			out = append(out, p.static...)
		case !p.copy:
			s, err := r.evalString(p.sel, f)
			if err != nil {
				return nil, err
			}
			out = appendEscaped(out, s, false)
		default:
			err := r.eval(p.sel, f, func(res result) error {
				if !res.isNodeSet() {
					out = appendEscaped(out, res.string(), false)
					return nil
				}
				nodes, err := res.nodes()
				if err != nil {
					return err
				}
				w := &xmlWriter{buf: out, scope: slices.Clone(p.scope)}
				for _, n := range nodes {
					if err := w.node(n, 0); err != nil {
						return fmt.Errorf("copy-of %q: %w", p.sel.src, err)
					}
				}
				out = w.buf
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// maxCopyDepth bounds the recursion of node copies. Documents the engine
// holds passed soap.Parse's depth limit or were written by it, so this is a
// second fence, not the limit.
const maxCopyDepth = 256

// node writes a copy of a libxml2 node: an element with its attributes and
// its element and text content. Comments and processing instructions are
// not copied. A free-standing attribute cannot be written as content.
func (w *xmlWriter) node(p uintptr, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("nodes nested deeper than %d", maxCopyDepth)
	}
	n, err := dom.WrapNode(p)
	if err != nil {
		return err
	}
	switch v := n.(type) {
	case *dom.Element:
		list, err := v.Attributes()
		if err != nil {
			return err
		}
		attrs := make([]xattr, len(list))
		for i, at := range list {
			a, ok := at.(*dom.Attribute)
			if !ok {
				return fmt.Errorf("unexpected attribute type %T", at)
			}
			attrs[i] = xattr{prefix: a.Prefix(), space: a.NamespaceURI(), local: a.LocalName(), value: a.Value()}
		}
		w.start(v.Prefix(), v.NamespaceURI(), v.LocalName(), attrs)
		children, err := v.ChildNodes()
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := w.node(c.Pointer(), depth+1); err != nil {
				return err
			}
		}
		w.end()
	case *dom.Text:
		w.text(v.Data())
	case *dom.CDataSection:
		w.text(v.NodeValue())
	case *dom.Attribute:
		return fmt.Errorf("cannot copy attribute %s as content (use value-of)", v.NodeName())
	case *dom.Comment, *dom.Pi:
	default:
		return fmt.Errorf("cannot copy a node of type %d", nodeType(p))
	}
	return nil
}
