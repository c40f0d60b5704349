package soap

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Namespaces the parser treats specially.
const (
	NSXML        = "http://www.w3.org/XML/1998/namespace"
	NSXMLNS      = "http://www.w3.org/2000/xmlns/"
	NSXInclude   = "http://www.w3.org/2001/XInclude"
	NSXInclude03 = "http://www.w3.org/2003/XInclude"
	NSXSI        = "http://www.w3.org/2001/XMLSchema-instance"
)

// Envelope is a parsed SOAP envelope. The elements are etree elements that
// keep their prefixes, so that XML-DSig canonicalization sees what was sent;
// compare names through NamespaceURI, never through prefixes.
type Envelope struct {
	Version Version
	Doc     *etree.Document
	Root    *etree.Element // the Envelope element
	Header  *etree.Element // nil when the message has no Header
	Body    *etree.Element
	// Addressing holds the WS-Addressing headers, if any.
	Addressing Addressing

	ids map[string]*etree.Element
	// size is the length of the message parsed, a hint for Bytes.
	size int
}

// ElementByID returns the element carrying the ID-like attribute (wsu:Id, Id,
// ID, AssertionID, xml:id) with value id, or nil. IDs are unique in a parsed
// envelope, so the answer is never ambiguous.
func (e *Envelope) ElementByID(id string) *etree.Element { return e.ids[id] }

// HeaderBlocks returns the element children of the Header (nil without one).
func (e *Envelope) HeaderBlocks() []*etree.Element {
	if e.Header == nil {
		return nil
	}
	return e.Header.ChildElements()
}

// Payload returns the first element child of the Body, or nil if the Body is
// empty.
func (e *Envelope) Payload() *etree.Element {
	for _, t := range e.Body.Child {
		if el, ok := t.(*etree.Element); ok {
			return el
		}
	}
	return nil
}

// Operation is the expanded name of the Body's first child, which names the
// operation in document/literal SOAP.
func (e *Envelope) Operation() QName {
	p := e.Payload()
	if p == nil {
		return QName{}
	}
	return QName{Space: p.NamespaceURI(), Local: p.Tag}
}

// Bytes serializes the envelope as it is now (after any edits): the
// bytes etree's Document.WriteToBytes writes, into a buffer sized from the
// message parsed and through a pooled bufio.Writer (etree allocates a new
// 4 KB one per call and grows its buffer from nothing).
func (e *Envelope) Bytes() ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, e.size+e.size/4+512))
	w := bufioPool.Get().(*bufio.Writer)
	w.Reset(buf)
	for _, c := range e.Doc.Child {
		c.WriteTo(w, &e.Doc.WriteSettings)
	}
	err := w.Flush()
	w.Reset(nil)
	bufioPool.Put(w)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// IsIDAttribute reports whether an attribute with this expanded name is
// ID-like: wsu:Id, xml:id, or the unqualified Id, ID and AssertionID used by
// XML-DSig, SAML 2.0 and SAML 1.1.
func IsIDAttribute(space, local string) bool {
	switch space {
	case NSWSU:
		return local == "Id"
	case NSXML:
		return local == "id"
	case "":
		return local == "Id" || local == "ID" || local == "AssertionID"
	}
	return false
}

// parseFault is the fault of every parse failure: a Sender fault with a
// public text that says little and the reason kept inside.
func parseFault(format string, args ...any) *Fault {
	return SenderFault("message is not a well-formed, permitted SOAP envelope", fmt.Errorf(format, args...))
}

func limitFault(format string, args ...any) *Fault {
	return SenderFault("message exceeds a limit", fmt.Errorf(format, args...))
}

// Parse reads a SOAP envelope with the hardening described in the package
// comment. Every error is a *Fault.
func Parse(data []byte, lim Limits) (*Envelope, error) {
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitFault("message of %d bytes exceeds %d", len(data), lim.MaxBytes).WithStatus(http.StatusRequestEntityTooLarge)
	}
	data, err := checkEncoding(data)
	if err != nil {
		return nil, err
	}
	env, err := parseTree(data, lim, true)
	if err != nil {
		return nil, err
	}
	if err := env.readAddressing(); err != nil {
		return nil, err
	}
	env.size = len(data)
	return env, nil
}

// ParseFragment reads one XML element that is not a SOAP envelope, with
// the hardening of Parse (limits, no DTD, entities, XInclude, processing
// instructions or schema locations, unique IDs, namespace checks), for
// example canonical XML that was just verified and is read back so that
// only what was verified is used.
func ParseFragment(data []byte, lim Limits) (*etree.Element, error) {
	if int64(len(data)) > lim.MaxBytes {
		return nil, limitFault("fragment of %d bytes exceeds %d", len(data), lim.MaxBytes)
	}
	data, err := checkEncoding(data)
	if err != nil {
		return nil, err
	}
	p := newParser(lim)
	p.fragment = true
	done, err := p.parseFast(data)
	if !done {
		p = newParser(lim)
		p.fragment = true
		err = p.slowTokens(data)
	}
	if err != nil {
		return nil, err
	}
	if len(p.stack) != 0 {
		return nil, parseFault("fragment ends inside element %q", p.stack[len(p.stack)-1].local)
	}
	if p.doc.Root() == nil {
		return nil, parseFault("no root element")
	}
	return p.doc.Root(), nil
}

// checkEncoding drops a UTF-8 byte order mark and refuses what is not
// UTF-8 without NUL bytes, which both tokenizers rely on.
func checkEncoding(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.IndexByte(data, 0) >= 0 {
		return nil, parseFault("UTF-16 or NUL bytes: only UTF-8 is accepted")
	}
	if !utf8.Valid(data) {
		return nil, parseFault("input is not valid UTF-8")
	}
	return data, nil
}

// binding is one namespace declaration in scope.
type binding struct{ prefix, uri string }

type frame struct {
	el       *etree.Element
	prefix   string
	local    string
	uri      string
	nsMark   int // len(p.scope) before this element's declarations
	textSeen int64
}

// expanded is an attribute's expanded name.
type expanded struct{ uri, local string }

type parser struct {
	lim      Limits
	fragment bool       // ParseFragment: any root, no envelope structure
	seen     []expanded // scratch of start
	doc      *etree.Document
	stack    []frame
	scope    []binding
	elements int
	tokens   int
	rootDone bool
	env      *Envelope
	ids      map[string]*etree.Element
	// envelope structure: 0 nothing yet, 1 after Header, 2 after Body
	envState int
	// slabs of newElement and newText
	elSlab               []etree.Element
	textSlab             []etree.CharData
	attrSlab             []etree.Attr
	childSlab            []etree.Token
	elChunks, textChunks int
	attrChunks           int
	childChunks          int
	hint                 int // elements expected (0: unknown)
}

func (p *parser) lookup(prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return NSXML, true
	case "xmlns":
		return "", false
	}
	for i := len(p.scope) - 1; i >= 0; i-- {
		if p.scope[i].prefix == prefix {
			return p.scope[i].uri, true
		}
	}
	if prefix == "" {
		return "", true // no default namespace in scope
	}
	return "", false
}

// parseTree builds the tree with the fast tokenizer when fast is set and
// the input stays in its subset, and with encoding/xml otherwise.
func parseTree(data []byte, lim Limits, fast bool) (*Envelope, error) {
	p := newParser(lim)
	done := false
	var err error
	if fast {
		done, err = p.parseFast(data)
	}
	if !done {
		p = newParser(lim)
		err = p.slowTokens(data)
	}
	if err != nil {
		return nil, err
	}
	return p.finish()
}

func newParser(lim Limits) *parser {
	return &parser{lim: lim, doc: etree.NewDocument(), ids: map[string]*etree.Element{}}
}

func (p *parser) finish() (*Envelope, error) {
	if len(p.stack) != 0 {
		return nil, parseFault("document ends inside element %q", p.stack[len(p.stack)-1].local)
	}
	if p.env == nil {
		return nil, parseFault("no root element")
	}
	if p.env.Body == nil {
		return nil, parseFault("envelope has no Body")
	}
	p.env.ids = p.ids
	return p.env, nil
}

func (p *parser) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.ProcInst:
		return p.procInst(t.Target)
	case xml.Directive:
		return p.directive()
	case xml.Comment:
		return p.comment(string(t))
	case xml.CharData:
		return p.text(string(t))
	case xml.StartElement:
		return p.start(t.Name, t.Attr, nil)
	case xml.EndElement:
		return p.end(t.Name)
	}
	return parseFault("unexpected token %T", tok)
}

func (p *parser) procInst(target string) error {
	// The tokenizer has already refused a declared encoding other than UTF-8.
	if target == "xml" && p.tokens == 1 {
		return nil
	}
	return parseFault("processing instruction %q not allowed", target)
}

func (p *parser) directive() error {
	return parseFault("markup declaration (DOCTYPE, ENTITY, …) not allowed")
}

func (p *parser) comment(t string) error {
	if int64(len(t)) > p.lim.MaxTextBytes {
		return limitFault("comment of %d bytes exceeds %d", len(t), p.lim.MaxTextBytes)
	}
	if len(p.stack) > 0 {
		p.stack[len(p.stack)-1].el.CreateComment(t)
	}
	return nil
}

func (p *parser) text(t string) error {
	if len(p.stack) == 0 {
		if len(strings.TrimSpace(t)) != 0 {
			return parseFault("text outside the root element")
		}
		return nil
	}
	top := &p.stack[len(p.stack)-1]
	top.textSeen += int64(len(t))
	if top.textSeen > p.lim.MaxTextBytes {
		return limitFault("text in %q exceeds %d bytes", top.local, p.lim.MaxTextBytes)
	}
	if len(p.stack) == 1 && !p.fragment && len(strings.TrimSpace(t)) != 0 {
		return parseFault("text directly inside Envelope")
	}
	c := p.newText()
	c.SetData(t)
	top.el.AddChild(c)
	return nil
}

// Elements, their attribute and child slices and text nodes of an
// envelope come from slabs: one allocation for many (the tree is read as a
// whole and dropped as a whole). They are what etree.NewElement and
// Element.CreateText make, but for the index an unparented token has,
// which AddChild and SetRoot set. The first slab of each kind is sized
// from the number of tags the fast path counted, later ones (a wrong
// estimate, or the slow path) are smaller. Fragments, which may be kept
// (a verified assertion in the cache), get their own allocations so that
// they hold no slab of the envelope's.
const (
	slabMin = 32
	maxHint = 4096
)

// slabSize is the size of the next slab of a kind: the estimate for the
// first one (n says how many the kind had), slabMin after it.
func (p *parser) slabSize(n *int, per int) int {
	size := slabMin
	if *n == 0 && p.hint > 0 {
		size = max(p.hint*per, slabMin)
	}
	*n++
	return size
}

func (p *parser) newElement(space, local string, attrs int) *etree.Element {
	var el *etree.Element
	if p.fragment {
		el = etree.NewElement(local)
	} else {
		if len(p.elSlab) == 0 {
			p.elSlab = make([]etree.Element, p.slabSize(&p.elChunks, 1))
		}
		el, p.elSlab = &p.elSlab[0], p.elSlab[1:]
		el.Tag = local
	}
	el.Space = space
	if attrs > 0 {
		if p.fragment {
			el.Attr = make([]etree.Attr, 0, attrs)
		} else {
			el.Attr = p.attrWindow(attrs)
		}
	}
	if !p.fragment {
		// Most elements have one or two children (text, or a child and
		// the white space after it); more grow out of the window.
		if len(p.childSlab) < 2 {
			p.childSlab = make([]etree.Token, p.slabSize(&p.childChunks, 2))
		}
		el.Child, p.childSlab = p.childSlab[:0:2], p.childSlab[2:]
	}
	return el
}

func (p *parser) newText() *etree.CharData {
	if p.fragment {
		return etree.NewText("")
	}
	if len(p.textSlab) == 0 {
		p.textSlab = make([]etree.CharData, p.slabSize(&p.textChunks, 1))
	}
	c := &p.textSlab[0]
	p.textSlab = p.textSlab[1:]
	return c
}

// attrWindow is an empty slice with room for n attributes, carved from a
// slab so that no other slice shares that room.
func (p *parser) attrWindow(n int) []etree.Attr {
	if len(p.attrSlab) < n {
		p.attrSlab = make([]etree.Attr, max(n, p.slabSize(&p.attrChunks, 1)))
	}
	w := p.attrSlab[:0:n]
	p.attrSlab = p.attrSlab[n:]
	return w
}

// checkName checks a name's form and length. tokenized is set for names
// from the fast tokenizer, which has already split them at their only
// colon and refused an empty part.
func (p *parser) checkName(kind string, n xml.Name, tokenized bool) error {
	if !tokenized && (n.Local == "" || strings.IndexByte(n.Local, ':') >= 0) {
		return parseFault("malformed %s name %q:%q", kind, n.Space, n.Local)
	}
	if l := len(n.Space) + len(n.Local) + 1; l > p.lim.MaxNameLength {
		return limitFault("%s name of %d bytes exceeds %d", kind, l, p.lim.MaxNameLength)
	}
	return nil
}

// start handles a start tag. qnames, when not nil, are the attributes'
// names as written (the fast tokenizer's substrings of the input).
func (p *parser) start(name xml.Name, attrs []xml.Attr, qnames []string) error {
	t := xml.StartElement{Name: name, Attr: attrs}
	if p.rootDone {
		return parseFault("second root element %q", t.Name.Local)
	}
	depth := len(p.stack) + 1
	if depth > p.lim.MaxDepth {
		return limitFault("depth %d exceeds %d", depth, p.lim.MaxDepth)
	}
	p.elements++
	if p.elements > p.lim.MaxElements {
		return limitFault("more than %d elements", p.lim.MaxElements)
	}
	if err := p.checkName("element", t.Name, qnames != nil); err != nil {
		return err
	}
	if len(t.Attr) > p.lim.MaxAttributes {
		return limitFault("element %q has %d attributes, limit %d", t.Name.Local, len(t.Attr), p.lim.MaxAttributes)
	}

	// Namespace declarations first: they apply to the element's own name and attributes.
	mark := len(p.scope)
	decls := 0
	for _, a := range t.Attr {
		if err := p.checkName("attribute", a.Name, qnames != nil); err != nil {
			return err
		}
		if int64(len(a.Value)) > p.lim.MaxTextBytes {
			return limitFault("attribute %q value exceeds %d bytes", a.Name.Local, p.lim.MaxTextBytes)
		}
		var prefix string
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			prefix = ""
		case a.Name.Space == "xmlns":
			prefix = a.Name.Local
			if a.Value == "" {
				return parseFault("namespace prefix %q undeclared with an empty URI", prefix)
			}
			if prefix == "xmlns" || (prefix == "xml") != (a.Value == NSXML) || a.Value == NSXMLNS {
				return parseFault("reserved namespace prefix or URI in xmlns:%s", prefix)
			}
		default:
			continue
		}
		if a.Name.Local == "xmlns" && a.Name.Space == "" && (a.Value == NSXML || a.Value == NSXMLNS) {
			return parseFault("reserved namespace URI as default namespace")
		}
		decls++
		if decls > p.lim.MaxNamespaces {
			return limitFault("element %q declares more than %d namespaces", t.Name.Local, p.lim.MaxNamespaces)
		}
		for _, b := range p.scope[mark:] {
			if b.prefix == prefix {
				return parseFault("duplicate namespace declaration for prefix %q", prefix)
			}
		}
		p.scope = append(p.scope, binding{prefix, a.Value})
	}

	uri, ok := p.lookup(t.Name.Space)
	if !ok {
		return parseFault("undeclared namespace prefix %q on element %q", t.Name.Space, t.Name.Local)
	}
	if t.Name.Space == "xmlns" {
		return parseFault("element with the reserved prefix xmlns")
	}
	if uri == NSXInclude || uri == NSXInclude03 {
		return parseFault("XInclude element %q not allowed", t.Name.Local)
	}

	var parent *etree.Element
	if len(p.stack) > 0 {
		parent = p.stack[len(p.stack)-1].el
	}
	el := p.newElement(t.Name.Space, t.Name.Local, len(t.Attr))
	if err := p.structure(depth, uri, t.Name.Local, el); err != nil {
		return err
	}

	// At most MaxAttributes names: a scan beats a map per element.
	seen := p.seen[:0]
	for i, a := range t.Attr {
		auri := ""
		isDecl := (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "xmlns"
		switch {
		case isDecl:
			auri = NSXMLNS
		case a.Name.Space != "":
			u, ok := p.lookup(a.Name.Space)
			if !ok || u == "" {
				return parseFault("undeclared namespace prefix %q on attribute %q", a.Name.Space, a.Name.Local)
			}
			auri = u
		}
		if auri == NSXSI && (a.Name.Local == "schemaLocation" || a.Name.Local == "noNamespaceSchemaLocation") {
			// Schemas come from the configuration; a message never names its own.
			return parseFault("xsi:%s not allowed", a.Name.Local)
		}
		key := expanded{auri, a.Name.Local}
		if isDecl {
			if qnames != nil {
				key.local = qnames[i]
			} else {
				key.local = a.Name.Space + ":" + a.Name.Local
			}
		}
		if slices.Contains(seen, key) {
			return parseFault("duplicate attribute %q on element %q", a.Name.Local, t.Name.Local)
		}
		seen = append(seen, key)
		if !isDecl && IsIDAttribute(auri, a.Name.Local) && a.Value != "" {
			if _, dup := p.ids[a.Value]; dup {
				return parseFault("duplicate ID %q", a.Value)
			}
			p.ids[a.Value] = el
		}
		name := a.Name.Local
		switch {
		case a.Name.Space == "":
		case qnames != nil:
			name = qnames[i]
		default:
			name = a.Name.Space + ":" + a.Name.Local
		}
		el.CreateAttr(name, a.Value)
	}
	p.seen = seen[:0]

	if parent == nil {
		p.doc.SetRoot(el)
	} else {
		parent.AddChild(el)
	}
	p.stack = append(p.stack, frame{el: el, prefix: t.Name.Space, local: t.Name.Local, uri: uri, nsMark: mark})
	return nil
}

// structure enforces Envelope → [Header] Body at the top of the document.
func (p *parser) structure(depth int, uri, local string, el *etree.Element) error {
	if p.fragment {
		return nil
	}
	switch depth {
	case 1:
		if local != "Envelope" {
			return parseFault("root element %q is not a SOAP Envelope", local)
		}
		v := versionOfNamespace(uri)
		if v == 0 {
			return &Fault{Code: VersionMismatch, Public: "unsupported SOAP envelope namespace",
				Err: fmt.Errorf("envelope namespace %q", uri)}
		}
		p.env = &Envelope{Version: v, Doc: p.doc, Root: el}
	case 2:
		if uri != p.env.Version.Namespace() {
			return parseFault("element {%s}%s directly inside Envelope", uri, local)
		}
		switch {
		case local == "Header" && p.envState == 0:
			p.env.Header = el
			p.envState = 1
		case local == "Body" && p.envState < 2:
			p.env.Body = el
			p.envState = 2
		default:
			return parseFault("element %s out of place inside Envelope (one optional Header, then one Body)", local)
		}
	}
	return nil
}

func (p *parser) end(name xml.Name) error {
	if len(p.stack) == 0 {
		return parseFault("end tag %q without start", name.Local)
	}
	top := p.stack[len(p.stack)-1]
	if top.prefix != name.Space || top.local != name.Local {
		return parseFault("end tag %q does not match %q", name.Local, top.local)
	}
	p.scope = p.scope[:top.nsMark]
	p.stack = p.stack[:len(p.stack)-1]
	if len(p.stack) == 0 {
		p.rootDone = true
	}
	return nil
}

// Text returns the character content of a simple element: all its text nodes
// joined, with comments skipped, so a comment cannot truncate the value (the
// XPath string-value of the element). An element child makes it an error.
func Text(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range el.Child {
		switch c := t.(type) {
		case *etree.CharData:
			b.WriteString(c.Data)
		case *etree.Element:
			return "", fmt.Errorf("element %s has element content where text was expected", el.Tag)
		}
	}
	return b.String(), nil
}

// Copy returns a deep copy of the envelope, for building an outbound
// message from an inbound one: edits to the copy never touch what was
// verified. The copy has no ID index (it is not parsed input).
func (e *Envelope) Copy() *Envelope {
	doc := e.Doc.Copy()
	cp := &Envelope{Version: e.Version, Doc: doc, Root: doc.Root(), Addressing: e.Addressing, size: e.size}
	cp.Addressing.Elements = nil
	for _, c := range cp.Root.ChildElements() {
		if c.NamespaceURI() != e.Version.Namespace() {
			continue
		}
		switch c.Tag {
		case "Header":
			cp.Header = c
		case "Body":
			cp.Body = c
		}
	}
	return cp
}

// Detach copies el and declares on the copy every namespace in scope at el
// that an ancestor declared, so that the copy means the same on its own
// (a canonicalization input, a payload handed to another document).
func Detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range el.Attr {
		if p, ok := nsDeclPrefix(a); ok {
			declared[p] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			prefix, ok := nsDeclPrefix(a)
			if !ok || declared[prefix] {
				continue
			}
			declared[prefix] = true
			if prefix == "" {
				cp.CreateAttr("xmlns", a.Value)
			} else {
				cp.CreateAttr("xmlns:"+prefix, a.Value)
			}
		}
	}
	return cp
}

func nsDeclPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

// EnsureHeader returns the envelope's Header, creating an empty one before
// the Body (in the envelope's prefix) when there is none.
func (e *Envelope) EnsureHeader() *etree.Element {
	if e.Header == nil {
		e.Header = etree.NewElement("Header")
		e.Header.Space = e.Root.Space
		e.Root.InsertChildAt(e.Body.Index(), e.Header)
	}
	return e.Header
}

// NewSecurityHeader inserts a new, empty wsse:Security header block first
// in the Header (made when missing), mustUnderstand and, when actor is not
// "", targeted at it (actor in SOAP 1.1, role in 1.2), and returns it.
func (e *Envelope) NewSecurityHeader(actor string) *etree.Element {
	e.EnsureHeader()
	sec := etree.NewElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	prefix := e.Root.Space
	if prefix == "" {
		// The envelope uses a default namespace; attributes need a prefix.
		prefix = "soapenv"
		sec.CreateAttr("xmlns:"+prefix, e.Version.Namespace())
	}
	mu, role := "1", "actor"
	if e.Version == V12 {
		mu, role = "true", "role"
	}
	sec.CreateAttr(prefix+":mustUnderstand", mu)
	if actor != "" {
		sec.CreateAttr(prefix+":"+role, actor)
	}
	e.Header.InsertChildAt(0, sec)
	return sec
}
