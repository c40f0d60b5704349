package wsdl

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"
)

// Document is one published document of a contract: the WSDL (Query
// "wsdl") or a document it reaches through wsdl:import, xs:import,
// xs:include or xs:redefine ("wsdl=N" for WSDL documents, "xsd=N" for
// schema documents, numbered from 1 in the order they are first named).
type Document struct {
	Query string
	File  string
	Data  []byte
}

// Publish returns the contract's documents as a gateway publishes them at
// publicURL (see the function Publish).
func (c *Contract) Publish(publicURL string) ([]Document, error) { return Publish(publicURL, c) }

// Publish returns the documents of a WSDL whose ports cs (of one service)
// a gateway serves at publicURL: the soap:address and soap12:address of
// each of those ports names publicURL, the WSDL's other ports and services
// are left out (the gateway does not serve them, and their addresses would
// lead around it), and every local import or include location names the
// published copy of its document (publicURL?xsd=N or ?wsdl=N), as CXF and
// Membrane publish a service's WSDL. Locations with a scheme (an embedded
// standard schema's URL) are left as they are. Only files in the WSDL's
// directory tree are read.
func Publish(publicURL string, cs ...*Contract) ([]Document, error) {
	if len(cs) == 0 {
		return nil, errors.New("wsdl: publish: no contract")
	}
	c := cs[0]
	p := &publisher{base: publicURL, dir: filepath.Dir(c.File), query: map[string]string{}, service: c.Service, ports: map[string]bool{}}
	for _, ct := range cs {
		p.ports[ct.Port] = true
	}
	if _, err := p.add(c.File); err != nil {
		return nil, err
	}
	for i := 0; i < len(p.queue); i++ {
		if err := p.rewrite(p.queue[i]); err != nil {
			return nil, err
		}
	}
	docs := make([]Document, len(p.queue))
	for i, q := range p.queue {
		data, err := q.doc.WriteToBytes()
		if err != nil {
			return nil, fmt.Errorf("wsdl: publish %s: %w", q.file, err)
		}
		docs[i] = Document{Query: q.query, File: q.file, Data: data}
	}
	return docs, nil
}

type publisher struct {
	base       string
	service    xml.Name        // the service served
	ports      map[string]bool // its ports served
	dir        string
	query      map[string]string // file → its query
	queue      []*pubDoc
	wsdl, xsds int
}

type pubDoc struct {
	file, query string
	doc         *etree.Document
}

// add reads file (once) and gives it its query.
func (p *publisher) add(file string) (string, error) {
	if q, ok := p.query[file]; ok {
		return q, nil
	}
	if len(p.queue) >= maxImports {
		return "", fmt.Errorf("wsdl: publish: more than %d documents", maxImports)
	}
	if rel, err := filepath.Rel(p.dir, file); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("wsdl: publish: %s is outside the WSDL's directory", file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("wsdl: publish: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return "", fmt.Errorf("wsdl: publish %s: %w", file, err)
	}
	root := doc.Root()
	if root == nil {
		return "", fmt.Errorf("wsdl: publish %s: no root element", file)
	}
	var q string
	switch {
	case len(p.queue) == 0:
		q = "wsdl"
	case root.NamespaceURI() == NSWSDL:
		p.wsdl++
		q = fmt.Sprintf("wsdl=%d", p.wsdl)
	default:
		p.xsds++
		q = fmt.Sprintf("xsd=%d", p.xsds)
	}
	p.query[file] = q
	p.queue = append(p.queue, &pubDoc{file: file, query: q, doc: doc})
	return q, nil
}

// rewrite points d's addresses and local locations at the published URLs.
func (p *publisher) rewrite(d *pubDoc) error {
	tns := d.doc.Root().SelectAttrValue("targetNamespace", "")
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		ns := el.NamespaceURI()
		if ns == NSWSDL && el.Tag == "service" {
			if (xml.Name{Space: tns, Local: el.SelectAttrValue("name", "")}) != p.service {
				el.Parent().RemoveChild(el)
				return nil
			}
			for _, port := range el.SelectElements("port") {
				if port.NamespaceURI() == NSWSDL && !p.ports[port.SelectAttrValue("name", "")] {
					el.RemoveChild(port)
				}
			}
		}
		switch {
		case (ns == NSSOAP11 || ns == NSSOAP12) && el.Tag == "address":
			if a := el.SelectAttr("location"); a != nil {
				a.Value = p.base
			}
		case ns == NSWSDL && el.Tag == "import":
			if err := p.relocate(d, el, "location"); err != nil {
				return err
			}
		case ns == NSXSD && (el.Tag == "import" || el.Tag == "include" || el.Tag == "redefine"):
			if err := p.relocate(d, el, "schemaLocation"); err != nil {
				return err
			}
		}
		for _, c := range el.ChildElements() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(d.doc.Root())
}

func (p *publisher) relocate(d *pubDoc, el *etree.Element, attr string) error {
	a := el.SelectAttr(attr)
	if a == nil || a.Value == "" {
		return nil
	}
	u, err := url.Parse(a.Value)
	if err != nil {
		return fmt.Errorf("wsdl: publish %s: %s %q is not a URI", d.file, attr, a.Value)
	}
	if u.Scheme != "" || u.Host != "" {
		return nil // not a file beside the WSDL: the loader allowed only embedded standard schemas
	}
	if filepath.IsAbs(filepath.FromSlash(u.Path)) {
		return fmt.Errorf("wsdl: publish %s: %s %q is not relative", d.file, attr, a.Value)
	}
	q, err := p.add(filepath.Join(filepath.Dir(d.file), filepath.FromSlash(u.Path)))
	if err != nil {
		return err
	}
	a.Value = p.base + "?" + q
	return nil
}
