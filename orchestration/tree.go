package orchestration

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/soap"
)

// xnode is an element of a definition as written: its prefix and resolved
// namespace, its attributes, the namespace declarations it carries and its
// content, with the line its start tag begins on. Templates are rendered
// from it, and XPath prefixes resolve through its in-scope declarations.
type xnode struct {
	line    int
	parent  *xnode
	prefix  string
	space   string // namespace URI, "" for none
	local   string
	attrs   []xattr
	decls   []nsBinding // xmlns declarations on this element; prefix "" is the default
	content []xchild
}

type xattr struct {
	prefix, space, local, value string
}

// xchild is one piece of content: an element or a run of text.
type xchild struct {
	el   *xnode
	text string
}

type nsBinding struct {
	prefix, uri string
}

// lookupNS resolves prefix in the element's scope ("" is the default
// namespace, which may be unset).
func (n *xnode) lookupNS(prefix string) (string, bool) {
	if prefix == "xml" {
		return soap.NSXML, true
	}
	for e := n; e != nil; e = e.parent {
		for _, d := range e.decls {
			if d.prefix == prefix {
				return d.uri, true
			}
		}
	}
	return "", false
}

// attr returns the value of the unqualified attribute local.
func (n *xnode) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.space == "" && a.local == local {
			return a.value, true
		}
	}
	return "", false
}

// elements returns the element children.
func (n *xnode) elements() []*xnode {
	var els []*xnode
	for _, c := range n.content {
		if c.el != nil {
			els = append(els, c.el)
		}
	}
	return els
}

func (n *xnode) is(local string) bool { return n.space == Namespace && n.local == local }

// readTree reads a definition that libxml2 has already found well-formed
// and valid, keeping prefixes and the line of each start tag.
func readTree(data []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	lines := lineCounter{data: data, line: 1}
	var root, cur *xnode
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{line: lines.at(off), parent: cur, prefix: t.Name.Space, local: t.Name.Local}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					n.decls = append(n.decls, nsBinding{"", a.Value})
				case a.Name.Space == "xmlns":
					n.decls = append(n.decls, nsBinding{a.Name.Local, a.Value})
				}
			}
			uri, ok := n.lookupNS(n.prefix)
			if !ok && n.prefix != "" {
				return nil, fmt.Errorf("line %d: undeclared namespace prefix %q", n.line, n.prefix)
			}
			n.space = uri
			for _, a := range t.Attr {
				if (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "xmlns" {
					continue
				}
				xa := xattr{prefix: a.Name.Space, local: a.Name.Local, value: a.Value}
				if xa.prefix != "" {
					if xa.space, ok = n.lookupNS(xa.prefix); !ok {
						return nil, fmt.Errorf("line %d: undeclared namespace prefix %q", n.line, xa.prefix)
					}
				}
				n.attrs = append(n.attrs, xa)
			}
			if cur == nil {
				root = n
			} else {
				cur.content = append(cur.content, xchild{el: n})
			}
			cur = n
		case xml.EndElement:
			if cur == nil {
				return nil, errors.New("unbalanced end tag")
			}
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				if k := len(cur.content); k > 0 && cur.content[k-1].el == nil {
					cur.content[k-1].text += string(t)
				} else {
					cur.content = append(cur.content, xchild{text: string(t)})
				}
			}
		case xml.Directive:
			return nil, fmt.Errorf("line %d: markup declarations are not allowed", lines.at(off))
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// lineCounter turns increasing byte offsets into line numbers.
type lineCounter struct {
	data []byte
	off  int64
	line int
}

func (l *lineCounter) at(off int64) int {
	if off > int64(len(l.data)) {
		off = int64(len(l.data))
	}
	if off > l.off {
		l.line += bytes.Count(l.data[l.off:off], []byte{'\n'})
		l.off = off
	}
	return l.line
}

// parseExpanded reads "{uri}local".
func parseExpanded(s string) (soap.QName, bool) {
	if !strings.HasPrefix(s, "{") {
		return soap.QName{}, false
	}
	end := strings.IndexByte(s, '}')
	if end < 2 || end == len(s)-1 {
		return soap.QName{}, false
	}
	return soap.QName{Space: s[1:end], Local: s[end+1:]}, true
}
