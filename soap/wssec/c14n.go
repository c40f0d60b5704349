package wssec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// canonicalize returns the canonical form of el, which stays in its
// document: its in-scope namespace declarations come from its ancestors, as
// XML-DSig requires for a same-document reference.
func canonicalize(el *etree.Element, alg, prefixList string) ([]byte, error) {
	if alg == AlgExcC14N {
		return canonicalizeExc(el, nil, prefixList)
	}
	c := canonicalizer(alg, prefixList)
	if c == nil {
		return nil, fmt.Errorf("canonicalization %q not allowed", alg)
	}
	switch alg {
	case AlgC14N10:
		// goxmldsig's inclusive C14N 1.0 copies el and collects the
		// namespaces and xml:* attributes of its ancestors itself.
		return c.Canonicalize(el)
	default:
		// goxmldsig's 1.1 canonicalizer works on a detached element: give
		// it a copy that declares every namespace in scope.
		return c.Canonicalize(detach(el))
	}
}

// canonicalizeWithout is the enveloped-signature transform followed by
// canonicalization: el, which contains the signature sig, canonicalized
// without sig. Only exclusive C14N is offered here (BSP requires it, and
// it inherits nothing from the ancestors but namespaces).
func canonicalizeWithout(el, sig *etree.Element, alg, prefixList string) ([]byte, error) {
	if alg != AlgExcC14N {
		return nil, fmt.Errorf("enveloped-signature over an element that contains the signature needs exclusive C14N, not %q", alg)
	}
	return canonicalizeExc(el, sig, prefixList)
}

// strTransformOutput is the output of the STR Dereference Transform (WSS
// 1.1 section 8.3) when the STR names the XML token tok: tok canonicalized
// with exclusive C14N in place of the STR, whose apex element always
// declares the default namespace: xmlns="" when exclusive C14N emits no
// default namespace declaration of its own. Canonical XML puts namespace
// declarations first and the default one before all others, so the
// declaration goes right after the element name.
func strTransformOutput(tok *etree.Element, prefixList string) ([]byte, error) {
	out, err := canonicalize(tok, AlgExcC14N, prefixList)
	if err != nil {
		return nil, err
	}
	name := len(tok.FullTag()) + 1 // "<" and the QName
	if len(out) < name || out[0] != '<' {
		return nil, errors.New("unexpected canonical form of the token")
	}
	const decl = ` xmlns="`
	if bytes.HasPrefix(out[name:], []byte(decl)) {
		return out, nil
	}
	res := make([]byte, 0, len(out)+len(decl)+1)
	res = append(res, out[:name]...)
	res = append(res, ` xmlns=""`...)
	return append(res, out[name:]...), nil
}

// detach is soap.Detach: the element with its in-scope namespaces.
func detach(el *etree.Element) *etree.Element { return soap.Detach(el) }

// isAncestorOrSelf reports whether a is el or one of its ancestors.
func isAncestorOrSelf(a, el *etree.Element) bool {
	for p := el; p != nil; p = p.Parent() {
		if p == a {
			return true
		}
	}
	return false
}

var errNotFound = errors.New("not found")

// childNS returns the only child element {ns}local of el: nil with
// errNotFound when there is none, an error when there are several.
func childNS(el *etree.Element, ns, local string) (*etree.Element, error) {
	var found *etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			if found != nil {
				return nil, fmt.Errorf("more than one %s in %s", local, el.Tag)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errNotFound
	}
	return found, nil
}

// attr returns the unqualified attribute name of el, or dflt. etree's
// SelectAttrValue("URI") would also match a prefixed p:URI, which another
// XML stack would not read: a parser differential an attacker could use.
func attr(el *etree.Element, name, dflt string) string {
	if v, ok := soap.AttrNS(el, "", name); ok {
		return v
	}
	return dflt
}
