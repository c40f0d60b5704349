package wsdl

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/soap"
)

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A document/literal wrapped service over SOAP 1.1 in three files: the
// service WSDL imports the abstract WSDL, whose types import a schema file.
var multiFile = map[string]string{
	"orders.wsdl": `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:o="urn:test:orders" targetNamespace="urn:test:orders">
  <wsdl:import namespace="urn:test:orders" location="abstract/orders-abstract.wsdl"/>
  <wsdl:binding name="OrdersSoap" type="o:Orders">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="PlaceOrder">
      <soap:operation soapAction="urn:test:orders:PlaceOrder"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
      <wsdl:fault name="Rejected"><soap:fault name="Rejected" use="literal"/></wsdl:fault>
    </wsdl:operation>
    <wsdl:operation name="Cancel">
      <soap:operation soapAction=""/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="OrderService">
    <wsdl:port name="OrdersPort" binding="o:OrdersSoap"><soap:address location="http://backend.internal/orders"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>`,
	"abstract/orders-abstract.wsdl": `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:o="urn:test:orders" xmlns:wsam="http://www.w3.org/2007/05/addressing/metadata" targetNamespace="urn:test:orders">
  <wsdl:types>
    <xs:schema targetNamespace="urn:test:orders" elementFormDefault="qualified">
      <xs:import namespace="urn:test:common" schemaLocation="common.xsd"/>
      <xs:element name="PlaceOrder"><xs:complexType><xs:sequence>
        <xs:element name="sku" type="c:Sku" xmlns:c="urn:test:common"/><xs:element name="qty" type="xs:positiveInteger"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="PlaceOrderResponse"><xs:complexType><xs:sequence><xs:element name="id" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
      <xs:element name="Rejected" type="xs:string"/>
      <xs:element name="Cancel"><xs:complexType><xs:sequence><xs:element name="id" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="PlaceOrderIn"><wsdl:part name="parameters" element="o:PlaceOrder"/></wsdl:message>
  <wsdl:message name="PlaceOrderOut"><wsdl:part name="parameters" element="o:PlaceOrderResponse"/></wsdl:message>
  <wsdl:message name="RejectedFault"><wsdl:part name="detail" element="o:Rejected"/></wsdl:message>
  <wsdl:message name="CancelIn"><wsdl:part name="parameters" element="o:Cancel"/></wsdl:message>
  <wsdl:portType name="Orders">
    <wsdl:operation name="PlaceOrder">
      <wsdl:input message="o:PlaceOrderIn"/><wsdl:output message="o:PlaceOrderOut"/><wsdl:fault name="Rejected" message="o:RejectedFault"/>
    </wsdl:operation>
    <wsdl:operation name="Cancel"><wsdl:input message="o:CancelIn" wsam:Action="urn:test:orders:Cancel"/></wsdl:operation>
  </wsdl:portType>
</wsdl:definitions>`,
	"abstract/common.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:common">
  <xs:simpleType name="Sku"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{2}-[0-9]{4}"/></xs:restriction></xs:simpleType>
</xs:schema>`,
}

func TestLoadDocumentLiteralMultiFile(t *testing.T) {
	dir := write(t, multiFile)
	c, err := Load(filepath.Join(dir, "orders.wsdl"), xml.Name{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != soap.V11 || c.Port != "OrdersPort" || c.Service.Local != "OrderService" || c.Address != "http://backend.internal/orders" {
		t.Errorf("contract %+v", c)
	}
	if len(c.Operations) != 2 || len(c.Documents) != 2 || len(c.Inline) != 1 {
		t.Fatalf("%d operations, documents %v, %d inline schemas", len(c.Operations), c.Documents, len(c.Inline))
	}
	place := c.Operation(xml.Name{Space: "urn:test:orders", Local: "PlaceOrder"})
	if place == nil || place.Action != "urn:test:orders:PlaceOrder" || place.Style != "document" || place.Output == nil ||
		place.Output.Elements[0].Local != "PlaceOrderResponse" || len(place.Faults) != 1 || place.Faults[0].Elements[0].Local != "Rejected" {
		t.Errorf("PlaceOrder %+v", place)
	}
	cancel := c.Operation(xml.Name{Space: "urn:test:orders", Local: "Cancel"})
	if cancel == nil || cancel.Action != "urn:test:orders:Cancel" || cancel.Output != nil {
		t.Errorf("Cancel %+v", cancel)
	}
	if c.Operation(xml.Name{Space: "urn:test:orders", Local: "PlaceOrderResponse"}) != nil {
		t.Error("an output element was taken for an operation's input")
	}
	set, err := c.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate([]byte(`<PlaceOrder xmlns="urn:test:orders"><sku>AB-1234</sku><qty>2</qty></PlaceOrder>`)); err != nil {
		t.Errorf("a correct request was refused: %v", err)
	}
	if err := set.Validate([]byte(`<PlaceOrder xmlns="urn:test:orders"><sku>ab-12</sku><qty>2</qty></PlaceOrder>`)); err == nil {
		t.Error("a SKU breaking the imported schema's pattern was accepted")
	}
}

// rpc/literal over SOAP 1.2, with two services to choose from.
const rpc12 = `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:test:quotes" targetNamespace="urn:test:quotes">
  <message name="GetQuote"><part name="symbol" type="xsd:string"/><part name="day" type="xsd:date"/></message>
  <message name="GetQuoteResponse"><part name="price" type="xsd:decimal"/></message>
  <portType name="Quotes"><operation name="GetQuote"><input message="t:GetQuote"/><output message="t:GetQuoteResponse"/></operation></portType>
  <binding name="Quotes12" type="t:Quotes">
    <soap12:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="GetQuote">
      <soap12:operation soapAction="urn:test:quotes#GetQuote"/>
      <input><soap12:body use="literal" namespace="urn:test:quotes:rpc"/></input>
      <output><soap12:body use="literal" namespace="urn:test:quotes:rpc"/></output>
    </operation>
  </binding>
  <service name="QuoteService"><port name="Q12" binding="t:Quotes12"><soap12:address location="https://quotes/"/></port></service>
  <service name="Other"><port name="Q12b" binding="t:Quotes12"><soap12:address location="https://other/"/></port></service>
</definitions>`

func TestLoadRPCLiteralSOAP12(t *testing.T) {
	dir := write(t, map[string]string{"quotes.wsdl": rpc12})
	if _, err := Load(filepath.Join(dir, "quotes.wsdl"), xml.Name{}, ""); err == nil || !strings.Contains(err.Error(), "several services") {
		t.Errorf("two services, none named: %v", err)
	}
	c, err := Load(filepath.Join(dir, "quotes.wsdl"), xml.Name{Space: "urn:test:quotes", Local: "QuoteService"}, "")
	if err != nil {
		t.Fatal(err)
	}
	op := c.Operation(xml.Name{Space: "urn:test:quotes:rpc", Local: "GetQuote"})
	if c.Version != soap.V12 || op == nil || op.Style != "rpc" || op.Action != "urn:test:quotes#GetQuote" || len(op.Input.Parts) != 2 ||
		op.Input.Parts[1].Type != (xml.Name{Space: "http://www.w3.org/2001/XMLSchema", Local: "date"}) ||
		op.Output.Wrapper != (xml.Name{Space: "urn:test:quotes:rpc", Local: "GetQuoteResponse"}) {
		t.Errorf("contract %+v, operation %+v", c, op)
	}
}

// Bad WSDLs are refused with the file and line of the problem.
func TestLoadRefusals(t *testing.T) {
	base := multiFile["orders.wsdl"]
	abstract := multiFile["abstract/orders-abstract.wsdl"]
	for _, tc := range []struct {
		name, file string
		files      map[string]string
		line       int
		want       string
	}{
		{"missing import", "orders.wsdl", map[string]string{"orders.wsdl": base}, 4, "no such file"},
		{"remote import", "orders.wsdl", map[string]string{"orders.wsdl": strings.Replace(base, `location="abstract/orders-abstract.wsdl"`, `location="http://example.com/a.wsdl"`, 1)}, 4, "never fetched"},
		{"import outside", "orders.wsdl", map[string]string{"orders.wsdl": strings.Replace(base, `location="abstract/orders-abstract.wsdl"`, `location="../a.wsdl"`, 1)}, 4, "outside the WSDL's directory"},
		{"duplicate operation", "abstract/orders-abstract.wsdl", map[string]string{"orders.wsdl": base, "abstract/common.xsd": multiFile["abstract/common.xsd"],
			"abstract/orders-abstract.wsdl": strings.Replace(abstract, `<wsdl:operation name="Cancel">`, `<wsdl:operation name="PlaceOrder"><wsdl:input message="o:CancelIn"/></wsdl:operation><wsdl:operation name="Cancel">`, 1)}, 23, "defined twice"},
		{"encoded use", "orders.wsdl", map[string]string{"orders.wsdl": strings.Replace(base, `<wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output>`, `<wsdl:input><soap:body use="encoded"/></wsdl:input>
      <wsdl:output>`, 1), "abstract/orders-abstract.wsdl": abstract, "abstract/common.xsd": multiFile["abstract/common.xsd"]}, 9, "not supported"},
		{"unknown style", "orders.wsdl", map[string]string{"orders.wsdl": strings.Replace(base, `style="document"`, `style="message"`, 1), "abstract/orders-abstract.wsdl": abstract, "abstract/common.xsd": multiFile["abstract/common.xsd"]}, 6, "neither document nor rpc"},
		{"DOCTYPE", "orders.wsdl", map[string]string{"orders.wsdl": `<!DOCTYPE x [<!ENTITY e "x">]>` + base}, 1, "DOCTYPE"},
		{"undefined message", "quotes.wsdl", map[string]string{"quotes.wsdl": strings.Replace(rpc12, `<input message="t:GetQuote"/>`, `<input message="t:Nope"/>`, 1)}, 5, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			main := "orders.wsdl"
			if _, ok := tc.files["quotes.wsdl"]; ok {
				main = "quotes.wsdl"
			}
			_, err := Load(filepath.Join(dir, main), xml.Name{Local: "QuoteService"}, "")
			if main == "orders.wsdl" {
				_, err = Load(filepath.Join(dir, main), xml.Name{}, "")
			}
			var we *Error
			if !errors.As(err, &we) || !strings.Contains(we.Msg, tc.want) || filepath.Base(we.File) != filepath.Base(tc.file) || (tc.line != 0 && we.Line != tc.line) {
				t.Errorf("got %v, want %s:%d: …%s…", err, tc.file, tc.line, tc.want)
			}
		})
	}
}
