package wsdl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// maxDocument bounds one WSDL or imported document.
const maxDocument = 16 << 20

// node is an element of a WSDL document, with what error messages and the
// extraction of inline schemas need: its line and byte range, and the
// namespace declarations in scope.
type node struct {
	name       xml.Name // namespace URI and local name
	attr       []xml.Attr
	scope      map[string]string // prefix ("" default) → namespace, in scope here
	declared   map[string]bool   // prefixes declared on this element
	kids       []*node
	text       strings.Builder
	line       int
	start, end int64 // byte range of the element in the document
}

// document is one parsed file.
type document struct {
	path  string
	data  []byte
	lines []int // offsets of line starts
	root  *node
}

func (d *document) lineAt(off int64) int {
	return sort.Search(len(d.lines), func(i int) bool { return int64(d.lines[i]) > off })
}

// Error is a problem with a WSDL document, at a line of it when known.
type Error struct {
	File string
	Line int
	Msg  string
	err  error
}

func (e *Error) Unwrap() error { return e.err }

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

func (d *document) errorf(n *node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.line
	}
	return &Error{File: d.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// readDocument reads and parses one local file. encoding/xml never
// processes a DTD; one is refused anyway, as are encodings other than
// UTF-8 and US-ASCII.
func readDocument(path string) (*document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if len(data) > maxDocument {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d MiB", maxDocument>>20)}
	}
	return parseDocument(path, data)
}

func parseDocument(path string, data []byte) (*document, error) {
	d := &document{path: path, data: data, lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			d.lines = append(d.lines, i+1)
		}
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported (UTF-8 or US-ASCII)", label)
	}
	var stack []*node
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &Error{File: path, Line: se.Line, Msg: "not well-formed: " + se.Msg}
			}
			return nil, &Error{File: path, Line: d.lineAt(off), Msg: err.Error()}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, &Error{File: path, Line: d.lineAt(off), Msg: "DOCTYPE and other declarations are not allowed"}
		case xml.StartElement:
			n := &node{name: t.Name, line: d.lineAt(off), start: off, declared: map[string]bool{}}
			parent := map[string]string{"xml": "http://www.w3.org/XML/1998/namespace"}
			if len(stack) > 0 {
				parent = stack[len(stack)-1].scope
			}
			n.scope = parent
			for _, a := range t.Attr {
				prefix, isDecl := "", false
				switch {
				case a.Name.Space == "xmlns":
					prefix, isDecl = a.Name.Local, true
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					isDecl = true
				}
				if !isDecl {
					n.attr = append(n.attr, a)
					continue
				}
				if !n.declared[prefix] && len(n.declared) == 0 {
					n.scope = make(map[string]string, len(parent)+1)
					for k, v := range parent {
						n.scope[k] = v
					}
				}
				n.declared[prefix] = true
				n.scope[prefix] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else if d.root == nil {
				d.root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.end = dec.InputOffset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if d.root == nil {
		return nil, &Error{File: path, Msg: "no root element"}
	}
	return d, nil
}

// get is the unqualified attribute local of n ("" when absent).
func (n *node) get(local string) string {
	for _, a := range n.attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// getNS is the attribute {ns}local of n.
func (n *node) getNS(ns, local string) (string, bool) {
	for _, a := range n.attr {
		if a.Name.Space == ns && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func (n *node) children(ns, local string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name.Space == ns && k.name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

func (n *node) child(ns, local string) *node {
	for _, k := range n.kids {
		if k.name.Space == ns && k.name.Local == local {
			return k
		}
	}
	return nil
}

// qname resolves a QName attribute value in n's scope.
func (n *node) qname(v string) (xml.Name, bool) {
	v = strings.TrimSpace(v)
	prefix, local, ok := strings.Cut(v, ":")
	if !ok {
		prefix, local = "", v
	}
	if local == "" || strings.Contains(local, ":") {
		return xml.Name{}, false
	}
	ns, ok := n.scope[prefix]
	if !ok && prefix != "" {
		return xml.Name{}, false
	}
	return xml.Name{Space: ns, Local: local}, true
}

// standalone is n (an xs:schema element) as a document of its own: its
// bytes in d with the namespace declarations it inherits added to its
// start tag, after as many newlines as put it on its line.
func (d *document) standalone(n *node) []byte {
	src := d.data[n.start:n.end]
	i := bytes.IndexByte(src, '<') + 1
	for i < len(src) && !strings.ContainsRune(" \t\r\n/>", rune(src[i])) {
		i++
	}
	var decls []string
	for prefix, uri := range n.scope {
		if n.declared[prefix] || prefix == "xml" {
			continue
		}
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;").Replace(uri)
		if prefix == "" {
			decls = append(decls, ` xmlns="`+esc+`"`)
		} else {
			decls = append(decls, ` xmlns:`+prefix+`="`+esc+`"`)
		}
	}
	sort.Strings(decls)
	var b bytes.Buffer
	b.WriteString(strings.Repeat("\n", n.line-1))
	b.Write(src[:i])
	b.WriteString(strings.Join(decls, ""))
	b.Write(src[i:])
	return b.Bytes()
}
