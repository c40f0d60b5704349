package wssec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// Exclusive XML Canonicalization 1.0 without comments (RFC 3741), written
// directly over the parsed tree: no copy of the element, no namespace
// context maps per element, one output buffer. It is the canonicalization
// of the hot path (WS-I BSP requires it for every reference and for
// SignedInfo); goxmldsig's canonicalizer stays as the reference that
// TestExcC14NDifferential and FuzzExcC14NDifferential compare it with,
// and serves the other algorithms.
//
// Where goxmldsig departs from RFC 3741 this follows the RFC (and libxml2,
// which xmlsec1 uses): attributes in different namespaces are ordered by
// namespace URI, "#default" in an InclusiveNamespaces PrefixList names the
// default namespace, and the apex never carries xmlns="".

// excNS is one namespace binding: in scope (from a declaration) or
// rendered (output on an element of the canonical form).
type excNS struct{ prefix, uri string }

type excC14N struct {
	out []byte
	// incl holds the PrefixList's prefixes ("" for #default): their
	// namespace nodes are rendered as inclusive C14N would.
	incl []string
	// scope is the stack of in-scope declarations (the nearest last);
	// rendered the stack of what output ancestors rendered.
	scope, rendered []excNS
	skip            *etree.Element
	// per element scratch
	ns    []excNS
	attrs []excAttr
}

type excAttr struct {
	uri string
	a   *etree.Attr
}

var excPool = sync.Pool{New: func() any { return new(excC14N) }}

// canonicalizeExc returns the exclusive canonical form of el (which stays
// in its document: namespaces in scope come from its ancestors), without
// the element skip when it lies inside el (the enveloped-signature
// transform).
func canonicalizeExc(el, skip *etree.Element, prefixList string) ([]byte, error) {
	c := excPool.Get().(*excC14N)
	defer func() {
		c.out, c.skip = c.out[:0], nil
		c.incl, c.scope, c.rendered, c.ns, c.attrs = c.incl[:0], c.scope[:0], c.rendered[:0], c.ns[:0], c.attrs[:0]
		if cap(c.out) <= 64<<10 {
			excPool.Put(c)
		}
	}()
	for _, p := range strings.Fields(prefixList) {
		if p == "#default" {
			p = ""
		}
		c.incl = append(c.incl, p)
	}
	c.skip = skip
	// The declarations of el's ancestors, the farthest first, so that a
	// nearer one found later by a backward search wins.
	var anc []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		anc = append(anc, p)
	}
	for _, p := range slices.Backward(anc) {
		c.pushDecls(p)
	}
	if err := c.element(el); err != nil {
		return nil, err
	}
	return append([]byte(nil), c.out...), nil
}

func (c *excC14N) pushDecls(el *etree.Element) {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			c.scope = append(c.scope, excNS{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			c.scope = append(c.scope, excNS{"", a.Value})
		}
	}
}

func lookupNS(stack []excNS, prefix string) (string, bool) {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].prefix == prefix {
			return stack[i].uri, true
		}
	}
	return "", false
}

// utilize adds prefix to the element's namespace nodes to render unless
// an output ancestor rendered the same binding. The xml prefix is never
// rendered; the default namespace's absence reads as "".
func (c *excC14N) utilize(prefix string, nsStart int) error {
	if prefix == "xml" {
		return nil
	}
	for _, n := range c.ns[nsStart:] {
		if n.prefix == prefix {
			return nil
		}
	}
	uri, ok := lookupNS(c.scope, prefix)
	if !ok && prefix != "" {
		return fmt.Errorf("undeclared namespace prefix %q", prefix)
	}
	r, ok := lookupNS(c.rendered, prefix)
	if prefix == "" {
		ok = true // an unrendered default namespace is the empty one
	}
	if ok && r == uri {
		return nil
	}
	c.ns = append(c.ns, excNS{prefix, uri})
	return nil
}

func (c *excC14N) element(el *etree.Element) error {
	scopeMark, renderedMark := len(c.scope), len(c.rendered)
	c.pushDecls(el)

	nsStart, attrStart := len(c.ns), len(c.attrs)
	if err := c.utilize(el.Space, nsStart); err != nil {
		return err
	}
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue // namespace nodes are rendered by use, below
		}
		uri := ""
		if a.Space != "" {
			if err := c.utilize(a.Space, nsStart); err != nil {
				return err
			}
			if a.Space == "xml" {
				uri = soap.NSXML
			} else {
				uri, _ = lookupNS(c.scope, a.Space)
			}
		}
		c.attrs = append(c.attrs, excAttr{uri, a})
	}
	// The PrefixList's namespaces are treated as inclusive C14N treats
	// every namespace: rendered wherever they are in scope and the output
	// ancestors did not render the same binding.
	for _, p := range c.incl {
		if _, ok := lookupNS(c.scope, p); ok {
			if err := c.utilize(p, nsStart); err != nil {
				return err
			}
		}
	}

	ns, attrs := c.ns[nsStart:], c.attrs[attrStart:]
	slices.SortFunc(ns, func(a, b excNS) int { return strings.Compare(a.prefix, b.prefix) })
	slices.SortFunc(attrs, func(a, b excAttr) int {
		if d := strings.Compare(a.uri, b.uri); d != 0 {
			return d
		}
		return strings.Compare(a.a.Key, b.a.Key)
	})

	c.out = append(c.out, '<')
	c.out = appendQName(c.out, el.Space, el.Tag)
	for _, n := range ns {
		if n.prefix == "" {
			c.out = append(c.out, ` xmlns="`...)
		} else {
			c.out = append(c.out, ` xmlns:`...)
			c.out = append(c.out, n.prefix...)
			c.out = append(c.out, `="`...)
		}
		c.out = appendEscapedAttr(c.out, n.uri)
		c.out = append(c.out, '"')
	}
	for _, a := range attrs {
		c.out = append(c.out, ' ')
		c.out = appendQName(c.out, a.a.Space, a.a.Key)
		c.out = append(c.out, `="`...)
		c.out = appendEscapedAttr(c.out, a.a.Value)
		c.out = append(c.out, '"')
	}
	c.out = append(c.out, '>')
	c.rendered = append(c.rendered, ns...)
	c.ns, c.attrs = c.ns[:nsStart], c.attrs[:attrStart]

	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if t == c.skip {
				continue
			}
			if err := c.element(t); err != nil {
				return err
			}
		case *etree.CharData:
			c.out = appendEscapedText(c.out, t.Data)
		case *etree.Comment:
			// without comments
		default:
			// The hardened parser admits no processing instruction or
			// directive inside the envelope.
			return errors.New("exclusive C14N: unexpected node in the element's content")
		}
	}

	c.out = append(c.out, "</"...)
	c.out = appendQName(c.out, el.Space, el.Tag)
	c.out = append(c.out, '>')
	c.scope, c.rendered = c.scope[:scopeMark], c.rendered[:renderedMark]
	return nil
}

func appendQName(b []byte, prefix, local string) []byte {
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// appendEscapedText escapes character content as C14N 1.0 section 2.3 says.
func appendEscapedText(b []byte, s string) []byte { return appendC14NEscaped(b, s, false) }

// appendEscapedAttr escapes an attribute value as C14N 1.0 section 2.3 says.
func appendEscapedAttr(b []byte, s string) []byte { return appendC14NEscaped(b, s, true) }

// appendC14NEscaped escapes text (& < > CR) or an attribute value (& < "
// TAB LF CR; '>' stays) the way canonical XML writes them.
func appendC14NEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch c := s[i]; {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '\r':
			esc = "&#xD;"
		case c == '>' && !attr:
			esc = "&gt;"
		case c == '"' && attr:
			esc = "&quot;"
		case c == '\t' && attr:
			esc = "&#x9;"
		case c == '\n' && attr:
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
