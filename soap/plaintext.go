package soap

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// ReplaceWithPlaintext puts decrypted XML where old (an xenc:EncryptedData
// or wsse11:EncryptedHeader) is: the plaintext is parsed with the hardened
// parser (no DTD, entities, processing instructions; the limits, with the
// depth old's position takes), in the context of the namespace
// declarations in scope at old, and its top-level nodes replace old. IDs
// in the plaintext join the envelope's (a duplicate of an ID elsewhere in
// the message is refused, so that a decrypted element can never shadow a
// signed one); old's own ID leaves. It returns the elements inserted.
func (e *Envelope) ReplaceWithPlaintext(old *etree.Element, plaintext []byte, lim Limits) ([]*etree.Element, error) {
	parent := old.Parent()
	if parent == nil {
		return nil, parseFault("encrypted element without a parent")
	}
	depth := 0
	for p := parent; p != nil; p = p.Parent() {
		depth++
	}
	var decls strings.Builder
	for _, a := range InScopeNamespaces(parent) {
		if prefix := nsPrefix(a); prefix == "" {
			fmt.Fprintf(&decls, ` xmlns="%s"`, escapeText(a.Value))
		} else {
			fmt.Fprintf(&decls, ` xmlns:%s="%s"`, prefix, escapeText(a.Value))
		}
	}
	if lim.MaxDepth > 0 {
		if lim.MaxDepth -= depth - 1; lim.MaxDepth < 1 {
			return nil, limitFault("decrypted content at depth %d exceeds the depth limit", depth)
		}
	}
	const wrapper = "gatehouse-plaintext"
	doc := make([]byte, 0, len(plaintext)+decls.Len()+2*len(wrapper)+5)
	doc = append(doc, "<"+wrapper+decls.String()+">"...)
	doc = append(doc, plaintext...)
	doc = append(doc, "</"+wrapper+">"...)
	lim.MaxBytes += int64(len(doc) - len(plaintext))
	root, err := ParseFragment(doc, lim)
	if err != nil {
		return nil, err
	}
	// The IDs of the plaintext, unique in the whole message.
	added := map[string]*etree.Element{}
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		for _, a := range el.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") || !IsIDAttribute(a.NamespaceURI(), a.Key) || a.Value == "" {
				continue
			}
			if prev, dup := e.ids[a.Value]; (dup && prev != old) || added[a.Value] != nil {
				return parseFault("decrypted content repeats the ID %q", a.Value)
			}
			added[a.Value] = el
		}
		for _, c := range el.ChildElements() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	for id, el := range e.ids {
		if el == old || isWithin(el, old) {
			delete(e.ids, id)
		}
	}
	for id, el := range added {
		e.ids[id] = el
	}
	at := old.Index()
	parent.RemoveChildAt(at)
	var inserted []*etree.Element
	for _, t := range append([]etree.Token(nil), root.Child...) {
		root.RemoveChildAt(0)
		parent.InsertChildAt(at, t)
		at++
		if el, ok := t.(*etree.Element); ok {
			inserted = append(inserted, el)
		}
	}
	return inserted, nil
}

// isWithin reports whether el is inside ancestor.
func isWithin(el, ancestor *etree.Element) bool {
	for p := el.Parent(); p != nil; p = p.Parent() {
		if p == ancestor {
			return true
		}
	}
	return false
}

var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;")

func escapeText(s string) string { return textEscaper.Replace(s) }

// InScopeNamespaces are the namespace declarations in force at el: its own
// and its ancestors', the nearest of each prefix ("" the default), nearest
// first. A fragment serialized from el's position carries them to stand
// alone.
func InScopeNamespaces(el *etree.Element) []etree.Attr {
	var out []etree.Attr
	declared := map[string]bool{}
	for p := el; p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			prefix, ok := "", false
			switch {
			case a.Space == "xmlns":
				prefix, ok = a.Key, true
			case a.Space == "" && a.Key == "xmlns":
				ok = true
			}
			if ok && !declared[prefix] {
				declared[prefix] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// nsPrefix is the prefix a namespace declaration binds ("" the default).
func nsPrefix(a etree.Attr) string {
	if a.Space == "xmlns" {
		return a.Key
	}
	return ""
}
