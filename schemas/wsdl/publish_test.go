package wsdl

import (
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"
)

// rpcTyped is rpc/literal with a part of a type from the WSDL's own
// schema and a schema already in the wrappers' namespace.
var rpcTyped = strings.Replace(strings.Replace(rpc12,
	`<message name="GetQuote"><part name="symbol" type="xsd:string"/>`,
	`<types>
    <xsd:schema targetNamespace="urn:test:quotes:types"><xsd:simpleType name="Symbol"><xsd:restriction base="xsd:string"><xsd:pattern value="[A-Z]{1,5}"/></xsd:restriction></xsd:simpleType></xsd:schema>
    <xsd:schema targetNamespace="urn:test:quotes:rpc"><xsd:element name="Unrelated" type="xsd:string"/></xsd:schema>
  </types>
  <message name="GetQuote"><part name="symbol" type="qt:Symbol"/>`, 1),
	`xmlns:t="urn:test:quotes"`, `xmlns:t="urn:test:quotes" xmlns:qt="urn:test:quotes:types"`, 1)

// The rpc wrappers get a generated schema: one unqualified element per
// part, in order, of the part's type.
func TestRPCWrapperSchema(t *testing.T) {
	dir := write(t, map[string]string{"quotes.wsdl": rpcTyped})
	c, err := Load(filepath.Join(dir, "quotes.wsdl"), xml.Name{Local: "QuoteService"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.RPCSchemas()); n != 1 {
		t.Fatalf("%d generated schemas, want 1 (one wrapper namespace)", n)
	}
	set, err := c.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	const open = `<r:GetQuote xmlns:r="urn:test:quotes:rpc">`
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{open + `<symbol>ACME</symbol><day>2026-12-07</day></r:GetQuote>`, true},
		{`<r:GetQuoteResponse xmlns:r="urn:test:quotes:rpc"><price>12.5</price></r:GetQuoteResponse>`, true},
		{`<r:Unrelated xmlns:r="urn:test:quotes:rpc">x</r:Unrelated>`, true},                                           // the WSDL's own schema of that namespace is kept
		{open + `<symbol>acme</symbol><day>2026-12-07</day></r:GetQuote>`, false},                                      // the part's type
		{open + `<symbol>ACME</symbol><day>7.12.2026</day></r:GetQuote>`, false},                                       // xsd:date
		{open + `<day>2026-12-07</day><symbol>ACME</symbol></r:GetQuote>`, false},                                      // order
		{open + `<symbol>ACME</symbol></r:GetQuote>`, false},                                                           // a part missing
		{open + `<symbol>ACME</symbol><day>2026-12-07</day><extra/></r:GetQuote>`, false},                              // an extra element
		{open + `<r:symbol>ACME</r:symbol><day>2026-12-07</day></r:GetQuote>`, false},                                  // parts are unqualified (R2735)
		{`<r:GetQuote xmlns:r="urn:test:quotes:other"><symbol>ACME</symbol><day>2026-12-07</day></r:GetQuote>`, false}, // another namespace
	} {
		if err := set.Validate([]byte(tc.doc)); (err == nil) != tc.ok {
			t.Errorf("%s: valid %v, want %v (%v)", tc.doc, err == nil, tc.ok, err)
		}
	}
}

// Publish points every address at the public URL and every local import
// at its published copy; nothing of the backend's address is left.
func TestPublish(t *testing.T) {
	dir := write(t, multiFile)
	c, err := Load(filepath.Join(dir, "orders.wsdl"), xml.Name{}, "")
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://gw.example:8443/services/orders"
	docs, err := c.Publish(base)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, d := range docs {
		queries = append(queries, d.Query+"="+filepath.Base(d.File))
	}
	if got := strings.Join(queries, " "); got != "wsdl=orders.wsdl wsdl=1=orders-abstract.wsdl xsd=1=common.xsd" {
		t.Fatalf("documents %s", got)
	}
	main, abstract := string(docs[0].Data), string(docs[1].Data)
	for _, want := range []string{`<soap:address location="` + base + `"/>`, `location="` + base + `?wsdl=1"`} {
		if !strings.Contains(main, want) {
			t.Errorf("published WSDL lacks %s:\n%s", want, main)
		}
	}
	if strings.Contains(main, "backend.internal") || strings.Contains(main, "abstract/") {
		t.Errorf("published WSDL still names the backend or a file:\n%s", main)
	}
	if !strings.Contains(abstract, `schemaLocation="`+base+`?xsd=1"`) {
		t.Errorf("imported WSDL's schema import not rewritten:\n%s", abstract)
	}
	// The published documents are still a contract: load them back.
	back := write(t, map[string]string{
		"orders.wsdl":          strings.ReplaceAll(main, base+"?wsdl=1", "orders-abstract.wsdl"),
		"orders-abstract.wsdl": strings.ReplaceAll(abstract, base+"?xsd=1", "common.xsd"),
		"common.xsd":           string(docs[2].Data),
	})
	c2, err := Load(filepath.Join(back, "orders.wsdl"), xml.Name{}, "")
	if err != nil || c2.Address != base || len(c2.Operations) != 2 {
		t.Fatalf("published contract reloaded: %v, %+v", err, c2)
	}
}

// Only the ports served are published: another service's ports, and ports
// of the service the gateway does not serve, would name addresses around
// the gateway.
func TestPublishServedPortsOnly(t *testing.T) {
	two := strings.Replace(rpc12, `<service name="QuoteService"><port name="Q12" binding="t:Quotes12"><soap12:address location="https://quotes/"/></port></service>`,
		`<service name="QuoteService"><port name="Q12" binding="t:Quotes12"><soap12:address location="https://quotes/"/></port><port name="Direct" binding="t:Quotes12"><soap12:address location="https://quotes-direct/"/></port></service>`, 1)
	dir := write(t, map[string]string{"quotes.wsdl": two})
	c, err := Load(filepath.Join(dir, "quotes.wsdl"), xml.Name{Local: "QuoteService"}, "Q12")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := c.Publish("https://gw/quotes")
	if err != nil {
		t.Fatal(err)
	}
	out := string(docs[0].Data)
	if !strings.Contains(out, `<port name="Q12"`) || strings.Contains(out, "Direct") || strings.Contains(out, "Other") || strings.Contains(out, "https://quotes") {
		t.Errorf("published:\n%s", out)
	}
}
