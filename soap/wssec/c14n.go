package wssec

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// canonicalize returns the canonical form of el, which stays in its
// document: its in-scope namespace declarations come from its ancestors, as
// XML-DSig requires for a same-document reference.
func canonicalize(el *etree.Element, alg, prefixList string) ([]byte, error) {
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
		// The exclusive and 1.1 canonicalizers work on a detached element
		// (and the exclusive one edits what it gets): give them a copy that
		// declares every namespace in scope.
		return c.Canonicalize(detach(el))
	}
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
