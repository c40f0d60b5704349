// Package wsdl reads a WSDL 1.1 contract from local files: the operations
// of one port (their actions, input and output elements or rpc wrappers,
// styles) and the schemas that describe the messages, for Gatehouse to
// validate requests against and to publish.
//
// Only files are read: wsdl:import and the schemas' xs:import and
// xs:include resolve to files beside the WSDL (or the embedded standard
// schemas); a remote location is an error naming the file and line, never
// a fetch. SOAP 1.1 and SOAP 1.2 bindings, document/literal (wrapped and
// bare) and rpc/literal are understood; an encoded use, another binding or
// a style other than document and rpc is an error.
package wsdl

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/schemas"
	"github.com/gatehouse/gatehouse/soap"
)

// Namespaces of WSDL 1.1 and its bindings.
const (
	NSWSDL     = "http://schemas.xmlsoap.org/wsdl/"
	NSSOAP11   = "http://schemas.xmlsoap.org/wsdl/soap/"
	NSSOAP12   = "http://schemas.xmlsoap.org/wsdl/soap12/"
	NSXSD      = "http://www.w3.org/2001/XMLSchema"
	NSWSAW     = "http://www.w3.org/2006/05/addressing/wsdl"
	NSWSAM     = "http://www.w3.org/2007/05/addressing/metadata"
	httpSOAP   = "http://schemas.xmlsoap.org/soap/http"
	maxImports = 64
)

// Contract is one port of a WSDL service.
type Contract struct {
	File            string   // the WSDL, absolute
	TargetNamespace string   // of the WSDL's definitions
	Service         xml.Name // the service chosen
	Port            string   // the port chosen
	Binding         xml.Name
	Version         soap.Version
	Address         string // the port's soap:address location
	Operations      []*Operation
	// Inline are the schemas of the types sections (of the WSDL and of
	// the WSDL documents it imports); Files are schema documents that a
	// wsdl:import names.
	Inline []schemas.InlineSchema
	Files  []string
	// Documents are every file read, the WSDL first.
	Documents []string
}

// Operation is an operation of the port's binding.
type Operation struct {
	Name   string
	Action string // soapAction, or the WS-Addressing action of the input
	Style  string // "document" or "rpc"
	Input  Message
	Output *Message // nil for a one-way operation
	Faults []Message
	File   string // where the binding operation is
	Line   int
	// Policy is the WS-SecurityPolicy of the operation's request, nil
	// when none is attached.
	Policy *SecurityPolicy
}

// Message is what one message puts in the Body.
type Message struct {
	Name xml.Name // the wsdl:message
	// Elements are the Body's children for document style: the elements
	// of the body parts, in order (one for wrapped and most bare styles).
	Elements []xml.Name
	// Wrapper is the Body's one child for rpc style: {namespace}operation
	// (with "Response" for the output), holding one element per part.
	Wrapper xml.Name
	Parts   []Part
}

// Part is a message part.
type Part struct {
	Name    string
	Element xml.Name // for an element part
	Type    xml.Name // for a type part (rpc)
}

// Load reads the WSDL at file and returns the contract of the port named
// port of the service named service; empty names choose the only service
// or port there is.
func Load(file string, service xml.Name, port string) (*Contract, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	l := &loader{dir: filepath.Dir(abs), seen: map[string]bool{}}
	if err := l.load(abs, nil, nil); err != nil {
		return nil, err
	}
	return l.contract(abs, service, port)
}

// def is a named WSDL definition with where it is.
type def struct {
	doc  *document
	node *node
}

type loader struct {
	dir      string
	seen     map[string]bool
	docs     []*document
	tns      string
	messages map[xml.Name]def
	ports    map[xml.Name]def // portTypes
	bindings map[xml.Name]def
	services []def
	inline   []schemas.InlineSchema
	files    []string
}

// load reads path (imported by from at the node imp, when not nil).
func (l *loader) load(path string, from *document, imp *node) error {
	if l.seen[path] {
		return nil
	}
	if len(l.seen) >= maxImports {
		return from.errorf(imp, "more than %d imported documents", maxImports)
	}
	l.seen[path] = true
	d, err := readDocument(path)
	if errors.Is(err, fs.ErrNotExist) && from != nil {
		return from.errorf(imp, "import location %q: no such file (%s)", imp.get("location"), path)
	}
	if err != nil {
		return err
	}
	root := d.root
	if root.name.Space == NSXSD && root.name.Local == "schema" {
		if from == nil {
			return d.errorf(root, "a schema document, not a WSDL")
		}
		l.files = append(l.files, path)
		return nil
	}
	if root.name.Space != NSWSDL || root.name.Local != "definitions" {
		return d.errorf(root, "not a WSDL 1.1 document: the root element is {%s}%s", root.name.Space, root.name.Local)
	}
	l.docs = append(l.docs, d)
	tns := root.get("targetNamespace")
	if from == nil {
		l.tns = tns
		l.messages, l.ports, l.bindings = map[xml.Name]def{}, map[xml.Name]def{}, map[xml.Name]def{}
	}
	for _, k := range root.kids {
		if k.name.Space != NSWSDL {
			continue // extensibility elements (policies are read with the binding)
		}
		switch k.name.Local {
		case "import":
			loc := strings.TrimSpace(k.get("location"))
			target, err := l.local(d, k, loc)
			if err != nil {
				return err
			}
			if err := l.load(target, d, k); err != nil {
				return err
			}
		case "types":
			for _, s := range k.children(NSXSD, "schema") {
				l.inline = append(l.inline, schemas.InlineSchema{File: d.path, Index: len(l.inline) + 1, Data: d.standalone(s)})
			}
		case "message", "portType", "binding":
			name := k.get("name")
			if name == "" {
				return d.errorf(k, "%s without a name", k.name.Local)
			}
			key := xml.Name{Space: tns, Local: name}
			m := map[string]map[xml.Name]def{"message": l.messages, "portType": l.ports, "binding": l.bindings}[k.name.Local]
			if prev, dup := m[key]; dup {
				return d.errorf(k, "%s %q is defined twice (also at %s:%d)", k.name.Local, name, prev.doc.path, prev.node.line)
			}
			m[key] = def{d, k}
		case "service":
			l.services = append(l.services, def{d, k})
		}
	}
	return nil
}

// local resolves an import location to a file beside the WSDL.
func (l *loader) local(d *document, n *node, loc string) (string, error) {
	if loc == "" {
		return "", d.errorf(n, "import without a location")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", d.errorf(n, "import location %q is not a valid URI", loc)
	}
	switch strings.ToLower(u.Scheme) {
	case "":
	case "http", "https", "ftp":
		return "", d.errorf(n, "import location %q is remote: imports are never fetched; put a copy beside the WSDL", loc)
	default:
		return "", d.errorf(n, "import location %q: scheme %q is not allowed", loc, u.Scheme)
	}
	if u.Host != "" || filepath.IsAbs(u.Path) {
		return "", d.errorf(n, "import location %q must be relative to the WSDL", loc)
	}
	p := filepath.Join(filepath.Dir(d.path), filepath.FromSlash(u.Path))
	if rel, err := filepath.Rel(l.dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", d.errorf(n, "import location %q is outside the WSDL's directory", loc)
	}
	return p, nil
}

func (l *loader) contract(file string, service xml.Name, port string) (*Contract, error) {
	var ports []string
	if port != "" {
		ports = []string{port}
	}
	cs, err := l.contracts(file, service, ports, false)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// LoadPorts reads the WSDL at file and returns the contracts of the ports
// named (in that order) of the service named service; no names choose
// every port of the service, which must then have at most one port per
// SOAP version (a service commonly has a SOAP 1.1 and a SOAP 1.2 port). No
// two contracts returned are of the same SOAP version.
func LoadPorts(file string, service xml.Name, ports []string) ([]*Contract, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	l := &loader{dir: filepath.Dir(abs), seen: map[string]bool{}}
	if err := l.load(abs, nil, nil); err != nil {
		return nil, err
	}
	return l.contracts(abs, service, ports, true)
}

// contracts chooses the service and its ports (every port when names is
// empty and several is set, else exactly one).
func (l *loader) contracts(file string, service xml.Name, names []string, several bool) ([]*Contract, error) {
	main := l.docs[0]
	var svc def
	var svcName xml.Name
	var all []string
	for _, s := range l.services {
		n := xml.Name{Space: s.doc.root.get("targetNamespace"), Local: s.node.get("name")}
		all = append(all, fmt.Sprintf("{%s}%s", n.Space, n.Local))
		if service.Local == "" || n == service || (service.Space == "" && n.Local == service.Local) {
			if svc.node != nil {
				return nil, main.errorf(s.node, "several services match %v; name one", service)
			}
			svc, svcName = s, n
		}
	}
	if svc.node == nil {
		return nil, main.errorf(main.root, "no service %v (the WSDL has %s)", service, listOr(all))
	}
	var chosen []*node
	all = nil
	for _, p := range svc.node.children(NSWSDL, "port") {
		all = append(all, p.get("name"))
		if len(names) == 0 {
			if pn := p; pn.child(NSSOAP11, "address") == nil && pn.child(NSSOAP12, "address") == nil && several {
				continue // an HTTP or other binding's port, not chosen by name
			}
			if len(chosen) > 0 && !several {
				return nil, svc.doc.errorf(p, "service %s has several ports; name one", svcName.Local)
			}
			chosen = append(chosen, p)
		}
	}
	for _, name := range names {
		var pn *node
		for _, p := range svc.node.children(NSWSDL, "port") {
			if p.get("name") == name {
				pn = p
			}
		}
		if pn == nil {
			return nil, svc.doc.errorf(svc.node, "service %s has no port %q (it has %s)", svcName.Local, name, listOr(all))
		}
		chosen = append(chosen, pn)
	}
	if len(chosen) == 0 {
		return nil, svc.doc.errorf(svc.node, "service %s has no port", svcName.Local)
	}
	var out []*Contract
	for _, pn := range chosen {
		c, err := l.portContract(file, svc, svcName, pn)
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if prev.Version == c.Version {
				return nil, svc.doc.errorf(pn, "ports %s and %s of service %s are both SOAP %v; name one", prev.Port, c.Port, svcName.Local, c.Version)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// portContract reads the binding of port pn of service svc.
func (l *loader) portContract(file string, svc def, svcName xml.Name, pn *node) (*Contract, error) {
	c := &Contract{File: file, TargetNamespace: l.tns, Inline: l.inline, Files: l.files, Service: svcName}
	for _, d := range l.docs {
		c.Documents = append(c.Documents, d.path)
	}
	c.Documents = append(c.Documents, l.files...)
	c.Port = pn.get("name")
	switch {
	case pn.child(NSSOAP11, "address") != nil:
		c.Version, c.Address = soap.V11, pn.child(NSSOAP11, "address").get("location")
	case pn.child(NSSOAP12, "address") != nil:
		c.Version, c.Address = soap.V12, pn.child(NSSOAP12, "address").get("location")
	default:
		return nil, svc.doc.errorf(pn, "port %s has no soap:address or soap12:address: only SOAP bindings are supported", c.Port)
	}
	bname, ok := pn.qname(pn.get("binding"))
	if !ok {
		return nil, svc.doc.errorf(pn, "port %s: binding %q is not a QName in scope", c.Port, pn.get("binding"))
	}
	b, ok := l.bindings[bname]
	if !ok {
		return nil, svc.doc.errorf(pn, "port %s: no binding {%s}%s", c.Port, bname.Space, bname.Local)
	}
	c.Binding = bname
	if err := l.readBinding(c, b, def{svc.doc, pn}); err != nil {
		return nil, err
	}
	return c, nil
}

func (l *loader) readBinding(c *Contract, b def, port def) error {
	bns := NSSOAP11
	if c.Version == soap.V12 {
		bns = NSSOAP12
	}
	sb := b.node.child(bns, "binding")
	if sb == nil {
		other := "soap12"
		if c.Version == soap.V12 {
			other = "soap"
		}
		if b.node.child(map[string]string{"soap": NSSOAP11, "soap12": NSSOAP12}[other], "binding") != nil {
			return b.doc.errorf(b.node, "binding %s is a %s binding, but the port's address is SOAP %v", c.Binding.Local, other, c.Version)
		}
		return b.doc.errorf(b.node, "binding %s is not a SOAP binding (no %s:binding)", c.Binding.Local, map[string]string{NSSOAP11: "soap", NSSOAP12: "soap12"}[bns])
	}
	if t := strings.TrimSpace(sb.get("transport")); t != httpSOAP {
		return b.doc.errorf(sb, "binding %s: transport %q is not SOAP over HTTP", c.Binding.Local, t)
	}
	defStyle := sb.get("style")
	if defStyle == "" {
		defStyle = "document"
	}
	if defStyle != "document" && defStyle != "rpc" {
		return b.doc.errorf(sb, "binding %s: style %q is neither document nor rpc", c.Binding.Local, defStyle)
	}
	ptName, ok := b.node.qname(b.node.get("type"))
	pt, found := l.ports[ptName]
	if !ok || !found {
		return b.doc.errorf(b.node, "binding %s: no portType %q", c.Binding.Local, b.node.get("type"))
	}
	ops := map[string]*node{}
	for _, o := range pt.node.children(NSWSDL, "operation") {
		name := o.get("name")
		if _, dup := ops[name]; dup {
			return pt.doc.errorf(o, "portType %s: operation %q is defined twice (overloaded operations are not supported, WS-I BP R2304)", ptName.Local, name)
		}
		ops[name] = o
	}
	seen := map[string]bool{}
	for _, bo := range b.node.children(NSWSDL, "operation") {
		name := bo.get("name")
		if seen[name] {
			return b.doc.errorf(bo, "binding %s: operation %q is bound twice", c.Binding.Local, name)
		}
		seen[name] = true
		po, ok := ops[name]
		if !ok {
			return b.doc.errorf(bo, "binding %s: operation %q is not in portType %s", c.Binding.Local, name, ptName.Local)
		}
		op := &Operation{Name: name, Style: defStyle, File: b.doc.path, Line: bo.line}
		pol, err := l.attachedPolicy(port, b, def{b.doc, bo}, def{b.doc, bo.child(NSWSDL, "input")})
		if err != nil {
			return err
		}
		op.Policy = pol
		if so := bo.child(bns, "operation"); so != nil {
			op.Action = strings.TrimSpace(so.get("soapAction"))
			if s := so.get("style"); s != "" {
				op.Style = s
			}
		}
		if op.Style != "document" && op.Style != "rpc" {
			return b.doc.errorf(bo, "operation %s: style %q is neither document nor rpc", name, op.Style)
		}
		in := po.child(NSWSDL, "input")
		if in == nil {
			return pt.doc.errorf(po, "operation %s has no input (notification and solicit-response operations are not supported)", name)
		}
		if op.Action == "" {
			for _, ns := range []string{NSWSAM, NSWSAW} {
				if a, ok := in.getNS(ns, "Action"); ok {
					op.Action = strings.TrimSpace(a)
				}
			}
		}
		if op.Input, err = l.message(c, b, pt, op, in, bo.child(NSWSDL, "input"), bns, ""); err != nil {
			return err
		}
		if out := po.child(NSWSDL, "output"); out != nil {
			m, err := l.message(c, b, pt, op, out, bo.child(NSWSDL, "output"), bns, "Response")
			if err != nil {
				return err
			}
			op.Output = &m
		}
		for _, f := range po.children(NSWSDL, "fault") {
			mname, ok := f.qname(f.get("message"))
			md, found := l.messages[mname]
			if !ok || !found {
				return pt.doc.errorf(f, "operation %s: fault message %q is not defined", name, f.get("message"))
			}
			m := Message{Name: mname}
			for _, p := range md.node.children(NSWSDL, "part") {
				part, err := readPart(md, p)
				if err != nil {
					return err
				}
				m.Parts = append(m.Parts, part)
				if part.Element.Local != "" {
					m.Elements = append(m.Elements, part.Element)
				}
			}
			op.Faults = append(op.Faults, m)
		}
		c.Operations = append(c.Operations, op)
	}
	for name, o := range ops {
		if !seen[name] {
			return b.doc.errorf(b.node, "binding %s does not bind operation %q of portType %s (line %d)", c.Binding.Local, name, ptName.Local, o.line)
		}
	}
	return nil
}

// message reads the input or output of operation op: the portType's io
// element and the binding's bio element.
func (l *loader) message(c *Contract, b, pt def, op *Operation, io, bio *node, bns, suffix string) (Message, error) {
	mname, ok := io.qname(io.get("message"))
	md, found := l.messages[mname]
	if !ok || !found {
		return Message{}, pt.doc.errorf(io, "operation %s: message %q is not defined", op.Name, io.get("message"))
	}
	m := Message{Name: mname}
	if bio == nil {
		return m, b.doc.errorf(b.node, "binding %s: operation %s has no %s", c.Binding.Local, op.Name, io.name.Local)
	}
	body := bio.child(bns, "body")
	if body == nil {
		return m, b.doc.errorf(bio, "operation %s: %s has no soap body", op.Name, io.name.Local)
	}
	if use := body.get("use"); use != "" && use != "literal" {
		return m, b.doc.errorf(body, "operation %s: use %q is not supported (literal only, WS-I BP R2706)", op.Name, use)
	}
	var only []string
	if parts := body.get("parts"); parts != "" {
		only = strings.Fields(parts)
	}
	for _, p := range md.node.children(NSWSDL, "part") {
		part, err := readPart(md, p)
		if err != nil {
			return m, err
		}
		if only != nil && !slices.Contains(only, part.Name) {
			continue // bound to a header or not in the Body
		}
		switch op.Style {
		case "document":
			if part.Element.Local == "" {
				return m, md.doc.errorf(p, "message %s: part %s of a document-style operation must name an element (WS-I BP R2204)", mname.Local, part.Name)
			}
			m.Elements = append(m.Elements, part.Element)
		case "rpc":
			if part.Type.Local == "" {
				return m, md.doc.errorf(p, "message %s: part %s of an rpc-style operation must name a type (WS-I BP R2203)", mname.Local, part.Name)
			}
		}
		m.Parts = append(m.Parts, part)
	}
	if op.Style == "rpc" {
		ns := strings.TrimSpace(body.get("namespace"))
		if ns == "" {
			return m, b.doc.errorf(body, "operation %s: rpc-style soap body without a namespace (WS-I BP R2717)", op.Name)
		}
		m.Wrapper = xml.Name{Space: ns, Local: op.Name + suffix}
	}
	return m, nil
}

func readPart(md def, p *node) (Part, error) {
	part := Part{Name: p.get("name")}
	if e := p.get("element"); e != "" {
		n, ok := p.qname(e)
		if !ok {
			return part, md.doc.errorf(p, "part %s: element %q is not a QName in scope", part.Name, e)
		}
		part.Element = n
	}
	if t := p.get("type"); t != "" {
		n, ok := p.qname(t)
		if !ok {
			return part, md.doc.errorf(p, "part %s: type %q is not a QName in scope", part.Name, t)
		}
		part.Type = n
	}
	if (part.Element.Local == "") == (part.Type.Local == "") {
		return part, md.doc.errorf(p, "part %s needs exactly one of element and type", part.Name)
	}
	return part, nil
}

func listOr(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Schemas compiles the contract's schemas as one set, together with the
// declarations of the rpc operations' wrappers (RPCSchemas), so that every
// Body child an operation of this port takes has a global declaration to
// be validated against.
func (c *Contract) Schemas() (*schemas.Set, error) { return Schemas(c) }

// Schemas compiles the schemas of several ports of one WSDL (LoadPorts)
// as one set: the WSDL's schemas once, and each port's rpc wrappers.
func Schemas(cs ...*Contract) (*schemas.Set, error) {
	if len(cs) == 0 {
		return nil, errors.New("wsdl: no contract")
	}
	inline := slices.Clip(cs[0].Inline)
	n := len(inline)
	for _, c := range cs {
	next:
		for _, g := range c.RPCSchemas() {
			for _, have := range inline[n:] {
				if string(have.Data) == string(g.Data) {
					continue next // two bindings of one portType, same wrappers
				}
			}
			g.Index = nextIndex(inline, g.File)
			inline = append(inline, g)
		}
	}
	return schemas.CompileSchemas(cs[0].Files, inline, schemas.CompileOptions{})
}

// RPCSchemas generates, for each namespace of rpc wrappers, a schema that
// declares the wrappers of the rpc operations' inputs and outputs: a
// sequence of one unqualified element per part, in the parts' order, of
// the part's type (WSDL 1.1 section 3.5; WS-I BP R2729, R2735). The
// schemas are named as inline schemas of the WSDL numbered after its own.
func (c *Contract) RPCSchemas() []schemas.InlineSchema {
	type wrapper struct {
		name  string
		parts []Part
	}
	var namespaces []string
	byNS := map[string][]wrapper{}
	add := func(m *Message) {
		if m == nil || m.Wrapper.Local == "" {
			return
		}
		if _, ok := byNS[m.Wrapper.Space]; !ok {
			namespaces = append(namespaces, m.Wrapper.Space)
		}
		byNS[m.Wrapper.Space] = append(byNS[m.Wrapper.Space], wrapper{m.Wrapper.Local, m.Parts})
	}
	for _, op := range c.Operations {
		if op.Style == "rpc" {
			add(&op.Input)
			add(op.Output)
		}
	}
	next := nextIndex(c.Inline, c.File)
	var out []schemas.InlineSchema
	for i, ns := range namespaces {
		prefixes := map[string]string{}
		var decls, imports strings.Builder
		prefix := func(space string) string {
			p, ok := prefixes[space]
			if !ok {
				p = fmt.Sprintf("t%d", len(prefixes))
				prefixes[space] = p
				fmt.Fprintf(&decls, " xmlns:%s=\"%s\"", p, escape(space))
				if space != ns && space != NSXSD {
					fmt.Fprintf(&imports, "  <xs:import namespace=\"%s\"/>\n", escape(space))
				}
			}
			return p
		}
		var body strings.Builder
		for _, w := range byNS[ns] {
			fmt.Fprintf(&body, "  <xs:element name=\"%s\"><xs:complexType><xs:sequence>\n", escape(w.name))
			for _, part := range w.parts {
				fmt.Fprintf(&body, "    <xs:element name=\"%s\" type=\"%s:%s\"/>\n", escape(part.Name), prefix(part.Type.Space), escape(part.Type.Local))
			}
			body.WriteString("  </xs:sequence></xs:complexType></xs:element>\n")
		}
		var b strings.Builder
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
		fmt.Fprintf(&b, "<!-- generated by Gatehouse: the rpc operations' wrappers in namespace %s -->\n", escapeComment(ns))
		fmt.Fprintf(&b, "<xs:schema xmlns:xs=\"%s\" targetNamespace=\"%s\"%s>\n", NSXSD, escape(ns), decls.String())
		b.WriteString(imports.String())
		b.WriteString(body.String())
		b.WriteString("</xs:schema>\n")
		out = append(out, schemas.InlineSchema{File: c.File, Index: next + i, Data: []byte(b.String())})
	}
	return out
}

// nextIndex is the first inline schema number of file after those in inline.
func nextIndex(inline []schemas.InlineSchema, file string) int {
	next := 1
	for _, in := range inline {
		if in.File == file && in.Index >= next {
			next = in.Index + 1
		}
	}
	return next
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escape(s string) string { return attrEscaper.Replace(s) }

// escapeComment keeps a name from ending the comment it is written into.
func escapeComment(s string) string { return strings.ReplaceAll(s, "--", "- -") }

// InputName is the Body child that selects op: its input's first element
// (document style) or its input wrapper (rpc style); empty for a
// document-style operation whose input has no body part.
func (op *Operation) InputName() xml.Name {
	if op.Style == "rpc" {
		return op.Input.Wrapper
	}
	if len(op.Input.Elements) > 0 {
		return op.Input.Elements[0]
	}
	return xml.Name{}
}

// Operation finds the operation whose input the Body's first child el
// (namespace and local name) is.
func (c *Contract) Operation(el xml.Name) *Operation {
	for _, op := range c.Operations {
		if op.InputName() == el && el.Local != "" {
			return op
		}
	}
	return nil
}
