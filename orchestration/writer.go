package orchestration

import (
	"strconv"

	"github.com/gatehouse/gatehouse/soap"
)

// xmlWriter writes namespace-well-formed XML from elements known by
// namespace URI and preferred prefix. Every element declares what its name
// and attributes need and its scope lacks, so any element can be written
// anywhere: inside a template's literal elements, or as a copied node out of
// another document. An element in no namespace undeclares a default
// namespace in scope (xmlns=""), so copying one never moves it into the
// template's namespace.
type xmlWriter struct {
	buf   []byte
	scope []nsBinding // in-scope declarations, innermost last
	open  []openElement
	// pending is true while the start tag of the innermost element is not
	// closed yet, so that an empty element is written as <e/>.
	pending bool
}

type openElement struct {
	name string
	mark int // len(scope) before its declarations
}

// lookup returns the namespace bound to prefix ("" for the default
// namespace when none is declared).
func (w *xmlWriter) lookup(prefix string) (string, bool) {
	for i := len(w.scope) - 1; i >= 0; i-- {
		if w.scope[i].prefix == prefix {
			return w.scope[i].uri, true
		}
	}
	return "", false
}

func (w *xmlWriter) closeStart() {
	if w.pending {
		w.buf = append(w.buf, '>')
		w.pending = false
	}
}

// start writes a start tag. prefix is the one the element had where it came
// from; it is kept unless that would need a declaration it cannot have.
func (w *xmlWriter) start(prefix, space, local string, attrs []xattr) {
	w.closeStart()
	mark := len(w.scope)
	var decls []nsBinding
	declare := func(p, uri string) {
		decls = append(decls, nsBinding{p, uri})
		w.scope = append(w.scope, nsBinding{p, uri})
	}
	name := local
	switch {
	case space == "":
		if def, _ := w.lookup(""); def != "" {
			declare("", "")
		}
	case space == soap.NSXML:
		name = "xml:" + local
	default:
		if prefix == "xml" || prefix == "xmlns" {
			prefix = ""
		}
		if uri, ok := w.lookup(prefix); !ok || uri != space {
			declare(prefix, space)
		}
		if prefix != "" {
			name = prefix + ":" + local
		}
	}

	type outAttr struct{ name, value string }
	out := make([]outAttr, 0, len(attrs))
	for _, a := range attrs {
		switch {
		case a.space == "":
			out = append(out, outAttr{a.local, a.value})
			continue
		case a.space == soap.NSXML:
			out = append(out, outAttr{"xml:" + a.local, a.value})
			continue
		}
		p := a.prefix
		if p == "" || p == "xml" || p == "xmlns" || declaredOther(decls, p, a.space) {
			p = w.freshPrefix()
		}
		if uri, ok := w.lookup(p); !ok || uri != a.space {
			declare(p, a.space)
		}
		out = append(out, outAttr{p + ":" + a.local, a.value})
	}

	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, name...)
	for _, d := range decls {
		if d.prefix == "" {
			w.buf = append(w.buf, ` xmlns="`...)
		} else {
			w.buf = append(w.buf, ` xmlns:`...)
			w.buf = append(w.buf, d.prefix...)
			w.buf = append(w.buf, `="`...)
		}
		w.buf = appendEscaped(w.buf, d.uri, true)
		w.buf = append(w.buf, '"')
	}
	for _, a := range out {
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, a.name...)
		w.buf = append(w.buf, `="`...)
		w.buf = appendEscaped(w.buf, a.value, true)
		w.buf = append(w.buf, '"')
	}
	w.pending = true
	w.open = append(w.open, openElement{name: name, mark: mark})
}

// declaredOther reports whether decls binds p to something other than uri.
func declaredOther(decls []nsBinding, p, uri string) bool {
	for _, d := range decls {
		if d.prefix == p && d.uri != uri {
			return true
		}
	}
	return false
}

func (w *xmlWriter) freshPrefix() string {
	for i := 0; ; i++ {
		p := "ns" + strconv.Itoa(i)
		if _, ok := w.lookup(p); !ok {
			return p
		}
	}
}

func (w *xmlWriter) end() {
	top := w.open[len(w.open)-1]
	w.open = w.open[:len(w.open)-1]
	w.scope = w.scope[:top.mark]
	if w.pending {
		w.buf = append(w.buf, "/>"...)
		w.pending = false
		return
	}
	w.buf = append(w.buf, "</"...)
	w.buf = append(w.buf, top.name...)
	w.buf = append(w.buf, '>')
}

// text writes character data, escaped.
func (w *xmlWriter) text(s string) {
	if s == "" {
		return
	}
	w.closeStart()
	w.buf = appendEscaped(w.buf, s, false)
}

// appendEscaped escapes s as text or as a double-quoted attribute value. A
// carriage return is written as a reference so that it survives line-end
// normalization, and so are tab and line feed in attribute values, which
// attribute-value normalization would turn into spaces.
func appendEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case '"':
			if !attr {
				continue
			}
			esc = "&quot;"
		case '\t':
			if !attr {
				continue
			}
			esc = "&#x9;"
		case '\n':
			if !attr {
				continue
			}
			esc = "&#xA;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
