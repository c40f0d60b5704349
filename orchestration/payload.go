package orchestration

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/lestrrat-go/libxml2/parser"
	"github.com/lestrrat-go/libxml2/types"
)

// xmlParser reads documents for XPath: no network, no entity substitution,
// no DTD loading or validation, no XInclude, no huge-document mode; errors
// come back as values instead of being printed. CDATA sections become text.
// Nothing reaches it that soap.Parse's rules have not accepted first, or
// that the engine has not written itself.
var xmlParser = parser.New(parser.XMLParseNoNet | parser.XMLParseNoError | parser.XMLParseNoWarning | parser.XMLParseNoCDATA)

// checkPayload applies soap.Parse's rules (no DTD or other markup
// declaration, no processing instruction, UTF-8 only, limits, declared
// prefixes, unique attributes and IDs) to a Body payload element by
// parsing it inside a SOAP 1.1 envelope, and returns its name. The
// payload must be exactly one element; white space around it is allowed.
// The error is a *soap.Fault.
func checkPayload(data []byte, lim soap.Limits) (soap.QName, error) {
	prefix, ok := unusedPrefix(data)
	if !ok {
		return soap.QName{}, soap.SenderFault("payload is not a permitted element", errors.New("no unused prefix for the envelope around the payload"))
	}
	var b bytes.Buffer
	b.Grow(len(data) + 2*len(prefix) + 128)
	b.WriteString("<" + prefix + ":Envelope xmlns:" + prefix + `="` + soap.NS11 + `"><` + prefix + ":Body>")
	b.Write(data)
	b.WriteString("</" + prefix + ":Body></" + prefix + ":Envelope>")
	lim.MaxBytes += int64(b.Len() - len(data))
	lim.MaxDepth += 2
	lim.MaxElements += 2
	env, err := soap.Parse(b.Bytes(), lim)
	if err != nil {
		return soap.QName{}, err
	}
	var payload *etree.Element
	for _, t := range env.Body.Child {
		switch c := t.(type) {
		case *etree.Element:
			if payload != nil {
				return soap.QName{}, soap.SenderFault("payload is not a permitted element", errors.New("more than one payload element"))
			}
			payload = c
		case *etree.CharData:
			if strings.TrimSpace(c.Data) != "" {
				return soap.QName{}, soap.SenderFault("payload is not a permitted element", errors.New("text beside the payload element"))
			}
		}
	}
	if payload == nil {
		return soap.QName{}, soap.SenderFault("payload is not a permitted element", errors.New("no payload element"))
	}
	return soap.QName{Space: payload.NamespaceURI(), Local: payload.Tag}, nil
}

// unusedPrefix picks a prefix for the wrapping envelope that data does not
// contain followed by ':'. The payload therefore cannot use the wrapper's
// prefix without declaring it, which would make soap.Parse accept a
// payload that is not namespace-well-formed on its own.
func unusedPrefix(data []byte) (string, bool) {
	for i := 0; i < 64; i++ {
		p := "gh-env" + strconv.Itoa(i)
		if !bytes.Contains(data, []byte(p+":")) {
			return p, true
		}
	}
	return "", false
}

// parseDoc parses XML with libxml2 for XPath; the run frees the document.
func (r *run) parseDoc(data []byte) (types.Document, error) {
	doc, err := xmlParser.Parse(data)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.docs = append(r.docs, doc)
	r.mu.Unlock()
	return doc, nil
}

// parsePayload checks a payload element (the input or a response) with
// soap.Parse's rules, parses it with libxml2 and returns its name, its
// document and its root element.
func (r *run) parsePayload(data []byte) (soap.QName, types.Document, uintptr, error) {
	name, err := checkPayload(data, r.c.Limits)
	if err != nil {
		return name, nil, 0, err
	}
	doc, err := r.parseDoc(data)
	if err != nil {
		return name, nil, 0, fmt.Errorf("libxml2: %w", err)
	}
	root, err := doc.DocumentElement()
	if err != nil {
		return name, nil, 0, err
	}
	return name, doc, root.Pointer(), nil
}

// parseFragment parses XML content the engine wrote itself (a literal
// template's output) and returns its top-level nodes.
func (r *run) parseFragment(content []byte) ([]uintptr, error) {
	data := make([]byte, 0, len(content)+len("<fragment></fragment>"))
	data = append(data, "<fragment>"...)
	data = append(data, content...)
	data = append(data, "</fragment>"...)
	doc, err := r.parseDoc(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.DocumentElement()
	if err != nil {
		return nil, err
	}
	children, err := root.ChildNodes()
	if err != nil {
		return nil, err
	}
	nodes := make([]uintptr, len(children))
	for i, c := range children {
		nodes[i] = c.Pointer()
	}
	return nodes, nil
}
