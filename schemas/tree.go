package schemas

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/beevik/etree"
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// ValidateTree validates the element tree at root as ValidateEnvelope
// validates the bytes it came from, without parsing anything: the tree's
// events (start and end of elements with their namespace declarations and
// attributes, text) are serialized once and fed, in one cgo call, to
// libxml2's streaming validator (xmlSchemaSAXPlug). The root is validated
// against envelope; unless envelope finds problems, the root must have
// exactly one child named Body in its own namespace, and then every element
// child of that Body is validated against payload (if not nil), as its own
// validation root on which every namespace in scope is declared, so that
// QName values (xsi:type) resolve as they do in the whole document.
//
// The verdict and the problems (their elements and messages) are those of
// ValidateEnvelope on a document libxml2 parses into the same tree, except:
//   - problems have no line numbers (Line is 0): the tree has none;
//   - attribute values are validated as the tree holds them. libxml2's
//     parser replaces a literal tab, newline or carriage return in an
//     attribute value by a space (XML attribute-value normalization), the
//     hardened parser (and encoding/xml) does not, so such a value can
//     differ; one written with character references (&#10;) does not;
//   - a CDATA section is text unless the tree marks it as CDATA (the
//     hardened parser does not): libxml2 refuses a whitespace-only CDATA
//     section where only elements are allowed, and accepts the same text.
//
// Comments and processing instructions are not validated (as libxml2 does
// not). The tree must be namespace-well-formed (every prefix declared) and
// hold no NUL character; otherwise the result is a *ParseError.
func ValidateTree(root *etree.Element, envelope, payload *Set) error {
	if root == nil {
		return &ParseError{Message: "no root element"}
	}
	env, venv, err := envelope.acquireKind(true)
	if err != nil {
		return err
	}
	cx := C.gh_ctxts{envelope: venv}
	defer func() { envelope.doneKind(true, cx.envelope) }()
	var pay C.xmlSchemaPtr
	if payload != nil {
		if pay, cx.payload, err = payload.acquireKind(true); err != nil {
			return err
		}
		defer func() { payload.doneKind(true, cx.payload) }()
	}

	p := programs.Get().(*program)
	defer p.release()
	if err := p.compile(root, payload != nil); err != nil {
		return err
	}
	var res *C.gh_result
	st := C.gh_validate_tree(env, pay, &cx,
		(*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(p.ops))), C.size_t(len(p.ops)),
		(*C.char)(unsafe.Pointer(unsafe.SliceData(p.strs))), C.size_t(len(p.strs)),
		C.int(p.bodies), C.uint32_t(p.bodyNS), C.uint32_t(p.bodyName), &res)
	return outcome(st, res)
}

// Op codes and the "no string" operand of shim.h.
const (
	opStart = uint32(C.GH_OP_START)
	opEnd   = uint32(C.GH_OP_END)
	opText  = uint32(C.GH_OP_TEXT)
	opCData = uint32(C.GH_OP_CDATA)
	opDone  = uint32(C.GH_OP_DONE)
	none    = uint32(math.MaxUint32)
)

// maxProgram bounds the strings and ops of one program (offsets are 32
// bits).
const maxProgram = math.MaxInt32

var errNUL = &ParseError{Message: "the tree holds a NUL character"}

// binding is a namespace declaration in scope: prefix ("" for the default
// namespace) and namespace name, with their offsets in strs.
type binding struct {
	prefix, uri       string
	prefixOff, uriOff uint32
}

// program is the serialized event stream of one ValidateTree call.
type program struct {
	ops    []uint32
	strs   []byte
	scope  []binding
	xmlOff uint32 // "http://www.w3.org/XML/1998/namespace"
	xmlPfx uint32 // "xml"

	// The first Body (child of the root in the root's namespace): its
	// element children are the payload's validation roots.
	body      *etree.Element
	bodyScope []binding // bindings in scope inside the Body
	bodies    int
	bodyNS    uint32 // element of the Body-count problem
	bodyName  uint32
	kids      []span // the Body's element children in the envelope pass
}

// span is where one element's events are in ops: its start op at start
// (namespace pairs from ns to attrs, attributes from attrs to body), the
// rest up to end.
type span struct{ start, ns, attrs, body, end int }

var programs = sync.Pool{New: func() any { return new(program) }}

// release returns p to the pool unless it grew large.
func (p *program) release() {
	if cap(p.strs) > 1<<20 || cap(p.ops) > 1<<18 {
		return
	}
	p.ops, p.strs, p.scope = p.ops[:0], p.strs[:0], p.scope[:0]
	p.bodyScope, p.kids = p.bodyScope[:0], p.kids[:0]
	p.body = nil
	programs.Put(p)
}

// str appends s, NUL-terminated, to strs and returns its offset.
func (p *program) str(s string) (uint32, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return 0, errNUL
	}
	off := len(p.strs)
	if off+len(s)+1 > maxProgram {
		return 0, errTooLarge
	}
	p.strs = append(p.strs, s...)
	p.strs = append(p.strs, 0)
	return uint32(off), nil
}

var errTooLarge = &ParseError{Message: "document too large"}

// attrValue appends an attribute value with every '&' written "&#38;":
// libxml2's streaming validator turns "&#38;" back into '&' (its parser
// delivers attribute values so), which gives back exactly the value.
func (p *program) attrValue(s string) (off, n uint32, err error) {
	if strings.IndexByte(s, '&') < 0 {
		off, err = p.str(s)
		return off, uint32(len(s)), err
	}
	if strings.IndexByte(s, 0) >= 0 {
		return 0, 0, errNUL
	}
	start := len(p.strs)
	for i := 0; i < len(s); i++ {
		if s[i] == '&' {
			p.strs = append(p.strs, "&#38;"...)
		} else {
			p.strs = append(p.strs, s[i])
		}
	}
	n = uint32(len(p.strs) - start)
	p.strs = append(p.strs, 0)
	if len(p.strs) > maxProgram {
		return 0, 0, errTooLarge
	}
	return uint32(start), n, nil
}

// lookup resolves a prefix in scope; "" resolves to the default namespace
// or to no namespace. ok is false for an undeclared prefix.
func (p *program) lookup(prefix string) (uriOff uint32, uri string, ok bool) {
	if prefix == "xml" {
		return p.xmlOff, nsXML, true
	}
	for i := len(p.scope) - 1; i >= 0; i-- {
		if b := &p.scope[i]; b.prefix == prefix {
			if b.uri == "" {
				return none, "", true
			}
			return b.uriOff, b.uri, true
		}
	}
	if prefix == "" {
		return none, "", true
	}
	return 0, "", false
}

func (p *program) compile(root *etree.Element, withPayload bool) (err error) {
	if p.xmlOff, err = p.str(nsXML); err != nil {
		return err
	}
	if p.xmlPfx, err = p.str("xml"); err != nil {
		return err
	}
	p.bodies, p.bodyNS, p.bodyName = 0, none, none
	if _, err := p.element(root, 0, ""); err != nil {
		return err
	}
	p.ops = append(p.ops, opDone)
	if !withPayload || p.bodies != 1 {
		return nil
	}
	// One pass per element child of the Body: its events again, behind a
	// start op that declares every namespace in scope.
	for _, k := range p.kids {
		p.ops = append(p.ops, opStart, p.ops[k.start+1], p.ops[k.start+2], p.ops[k.start+3], 0, uint32((k.body-k.attrs)/5))
		nsAt := len(p.ops)
		// The element's own declarations, then the innermost binding of
		// every other prefix in scope, then xml.
		for j := k.ns; j < k.attrs; j += 2 {
			p.ops = append(p.ops, p.ops[j], p.ops[j+1])
		}
		for j := len(p.bodyScope) - 1; j >= 0; j-- {
			b := p.bodyScope[j]
			if !p.declared(nsAt, b.prefix) {
				p.ops = append(p.ops, b.prefixOff, b.uriOff)
			}
		}
		p.ops = append(p.ops, p.xmlPfx, p.xmlOff)
		p.ops[nsAt-2] = uint32((len(p.ops) - nsAt) / 2)
		p.ops = append(p.ops, p.ops[k.attrs:k.body]...)
		p.ops = append(p.ops, p.ops[k.body:k.end]...)
		p.ops = append(p.ops, opDone)
	}
	if len(p.ops) > maxProgram {
		return errTooLarge
	}
	return nil
}

// declared reports whether the namespace pairs from ops[from:] bind prefix.
func (p *program) declared(from int, prefix string) bool {
	for j := from; j+1 < len(p.ops); j += 2 {
		off := p.ops[j]
		if off == none {
			if prefix == "" {
				return true
			}
			continue
		}
		if prefix != "" && int(off)+len(prefix) < len(p.strs) &&
			string(p.strs[off:int(off)+len(prefix)]) == prefix && p.strs[int(off)+len(prefix)] == 0 {
			return true
		}
	}
	return false
}

// element appends the events of el at depth (0 for the root) and returns
// its span. rootURI is the namespace name of the root.
func (p *program) element(el *etree.Element, depth int, rootURI string) (sp span, err error) {
	mark := len(p.scope)
	for _, a := range el.Attr {
		var prefix string
		switch {
		case a.Space == "" && a.Key == "xmlns":
		case a.Space == "xmlns":
			prefix = a.Key
		default:
			continue
		}
		b := binding{prefix: prefix, uri: a.Value, prefixOff: none}
		if prefix != "" {
			if b.prefixOff, err = p.str(prefix); err != nil {
				return sp, err
			}
		}
		if b.uriOff, err = p.str(a.Value); err != nil {
			return sp, err
		}
		p.scope = append(p.scope, b)
	}
	uriOff, uri, ok := p.lookup(el.Space)
	if !ok || el.Tag == "" {
		return sp, &ParseError{Message: "element " + el.FullTag() + " has an undeclared namespace prefix"}
	}
	localOff, err := p.str(el.Tag)
	if err != nil {
		return sp, err
	}
	prefixOff := none
	if el.Space != "" {
		if prefixOff, err = p.str(el.Space); err != nil {
			return sp, err
		}
	}
	if depth == 0 {
		rootURI = uri
	}

	sp.start = len(p.ops)
	p.ops = append(p.ops, opStart, localOff, prefixOff, uriOff, 0, 0)
	sp.ns = len(p.ops)
	for _, b := range p.scope[mark:] {
		p.ops = append(p.ops, b.prefixOff, b.uriOff)
	}
	if depth == 0 {
		p.ops = append(p.ops, p.xmlPfx, p.xmlOff)
	}
	sp.attrs = len(p.ops)
	for _, a := range el.Attr {
		if (a.Space == "" && a.Key == "xmlns") || a.Space == "xmlns" {
			continue
		}
		aURI, aPrefix := none, none
		if a.Space != "" {
			var ok bool
			if aURI, _, ok = p.lookup(a.Space); !ok || aURI == none {
				return sp, &ParseError{Message: "attribute " + a.FullKey() + " has an undeclared namespace prefix"}
			}
			if aPrefix, err = p.str(a.Space); err != nil {
				return sp, err
			}
		}
		aLocal, err := p.str(a.Key)
		if err != nil {
			return sp, err
		}
		vOff, vLen, err := p.attrValue(a.Value)
		if err != nil {
			return sp, err
		}
		p.ops = append(p.ops, aLocal, aPrefix, aURI, vOff, vLen)
	}
	sp.body = len(p.ops)
	p.ops[sp.start+4] = uint32((sp.attrs - sp.ns) / 2)
	p.ops[sp.start+5] = uint32((sp.body - sp.attrs) / 5)

	isBody := false
	if depth == 1 && el.Tag == "Body" && uri == rootURI {
		p.bodies++
		switch p.bodies {
		case 1:
			isBody = true
			p.body = el
			p.bodyScope = append(p.bodyScope[:0], p.scope...)
		case 2:
			p.bodyNS, p.bodyName = uriOff, localOff
		}
	}
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.Element:
			k, err := p.element(c, depth+1, rootURI)
			if err != nil {
				return sp, err
			}
			if isBody {
				p.kids = append(p.kids, k)
			}
		case *etree.CharData:
			if c.Data == "" {
				continue // libxml2 makes no empty text node
			}
			off, err := p.str(c.Data)
			if err != nil {
				return sp, err
			}
			op := opText
			if c.IsCData() {
				op = opCData
			}
			p.ops = append(p.ops, op, off, uint32(len(c.Data)), uriOff, localOff)
		}
	}
	p.ops = append(p.ops, opEnd, localOff, prefixOff, uriOff)
	sp.end = len(p.ops)
	if len(p.ops) > maxProgram {
		return sp, errTooLarge
	}
	p.scope = p.scope[:mark]
	if depth == 0 && p.bodies == 0 {
		p.bodyNS, p.bodyName = uriOff, localOff
	}
	return sp, nil
}
