package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/gatehouse/gatehouse/soap"
)

const diffNS = "urn:example:diff"

// diffSchema exercises what tree validation must reproduce: facets,
// enumerations with '&', xsi:type (abstract base, derived types), QName
// values, nil, mixed and empty content, a lax wildcard, defaulted
// attributes and identity constraints (key, keyref, unique).
var diffSchema = xsd(diffNS, "", `
<xs:simpleType name="Code"><xs:restriction base="xs:string">
  <xs:enumeration value="a&amp;b"/><xs:enumeration value="x y"/><xs:enumeration value="&amp;#38;"/>
</xs:restriction></xs:simpleType>
<xs:complexType name="Shape" abstract="true"><xs:sequence>
  <xs:element name="Label" type="xs:string" minOccurs="0"/>
</xs:sequence></xs:complexType>
<xs:complexType name="Circle"><xs:complexContent><xs:extension base="tns:Shape"><xs:sequence>
  <xs:element name="Radius" type="xs:decimal"/>
</xs:sequence></xs:extension></xs:complexContent></xs:complexType>
<xs:complexType name="Square"><xs:complexContent><xs:extension base="tns:Shape"><xs:sequence>
  <xs:element name="Side" type="xs:positiveInteger"/>
</xs:sequence><xs:attribute name="unit" type="xs:token" default="cm"/></xs:extension></xs:complexContent></xs:complexType>
<xs:element name="Doc">
 <xs:complexType>
  <xs:sequence>
   <xs:element name="Name" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string">
     <xs:pattern value="[A-Z][a-z]+"/><xs:maxLength value="8"/>
   </xs:restriction></xs:simpleType></xs:element>
   <xs:element name="Shape" type="tns:Shape" minOccurs="0" maxOccurs="unbounded"/>
   <xs:element name="Ref" type="xs:QName" minOccurs="0"/>
   <xs:element name="Item" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
     <xs:attribute name="id" type="xs:NCName" use="required"/><xs:attribute name="code" type="tns:Code"/>
   </xs:complexType></xs:element>
   <xs:element name="Use" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
     <xs:attribute name="ref" type="xs:NCName" use="required"/>
   </xs:complexType></xs:element>
   <xs:element name="When" type="xs:dateTime" nillable="true" minOccurs="0"/>
   <xs:element name="Note" minOccurs="0"><xs:complexType mixed="true"><xs:sequence>
     <xs:element name="B" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
   </xs:sequence></xs:complexType></xs:element>
   <xs:element name="Empty" minOccurs="0"><xs:complexType/></xs:element>
   <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence>
  <xs:attribute name="kind" type="xs:QName"/>
  <xs:attribute name="code" type="tns:Code"/>
 </xs:complexType>
 <xs:key name="itemKey"><xs:selector xpath="tns:Item"/><xs:field xpath="@id"/></xs:key>
 <xs:keyref name="itemRef" refer="tns:itemKey"><xs:selector xpath="tns:Use"/><xs:field xpath="@ref"/></xs:keyref>
 <xs:unique name="shapeLabel"><xs:selector xpath="tns:Shape"/><xs:field xpath="tns:Label"/></xs:unique>
</xs:element>
<xs:element name="Flat" type="xs:string"/>
`)

func diffSet(t testing.TB) *Set {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), map[string]string{"diff.xsd": diffSchema})
	s, err := CompileFiles([]string{dir + "/diff.xsd"}, CompileOptions{})
	if err != nil {
		t.Fatalf("CompileFiles(diff.xsd): %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// gatewayEnvelopeSet is the envelope set the gateway compiles: the SOAP
// envelope schema and the header schemas.
func gatewayEnvelopeSet(t testing.TB, envelopeSchema string) *Set {
	t.Helper()
	s, err := CompileEmbedded(envelopeSchema, WSSecext10, WSUtility10, WSSecext11, XMLDSig,
		SAML20, SAMLDelegation, SAML11, WSAddressing)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// skipEnvelopeSet is an envelope schema for namespace ns whose Body skips
// its content, so that payloads with xsi:type reach the payload schema (the
// SOAP schemas validate the Body's content laxly, and an xsi:type must then
// resolve in the envelope set).
func skipEnvelopeSet(t testing.TB, ns string) *Set {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), map[string]string{"skip.xsd": xsd(ns, "", `
<xs:element name="Envelope"><xs:complexType><xs:sequence>
  <xs:element name="Header" minOccurs="0"><xs:complexType><xs:sequence>
    <xs:any namespace="##other" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence><xs:anyAttribute namespace="##other" processContents="lax"/></xs:complexType></xs:element>
  <xs:element name="Body"><xs:complexType><xs:sequence>
    <xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:sequence><xs:anyAttribute namespace="##other" processContents="lax"/></xs:complexType></xs:element>`)})
	s, err := CompileFiles([]string{dir + "/skip.xsd"}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// diffEnvelope wraps a diff payload; prefixes d and xsi are declared on the
// Envelope, so they resolve only through the payload's ancestors.
func diffEnvelope(ns, header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + ns + `" xmlns:d="` + diffNS + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n" +
		`<soap:Header>` + header + `</soap:Header>` + "\n" +
		`<soap:Body>` + "\n" + body + "\n" + `</soap:Body>` + "\n" +
		`</soap:Envelope>` + "\n"
}

func diffDoc(inner string) string { return "<d:Doc>" + inner + "</d:Doc>" }

// diffPayloads are Body contents for the diff schema, valid and invalid.
var diffPayloads = []string{
	diffDoc(""),
	diffDoc(`<d:Name>Abc</d:Name><d:Shape xsi:type="d:Circle"><d:Label>c</d:Label><d:Radius>1.5</d:Radius></d:Shape><d:Ref>d:Doc</d:Ref>` +
		`<d:Item id="i1" code="a&amp;b"/><d:Item id="i2" code="x y"/><d:Use ref="i1"/><d:When>2024-01-02T03:04:05Z</d:When>` +
		`<d:Note>some <d:B>bold</d:B> text</d:Note><d:Empty/><x:Other xmlns:x="urn:other">anything</x:Other>`),
	diffDoc(`<d:Name>abc</d:Name>`),
	diffDoc(`<d:Name>Abcdefghijk</d:Name>`),
	diffDoc(`<d:Name><![CDATA[Abc]]></d:Name>`),
	diffDoc(`<d:Name><![CDATA[abc]]></d:Name>`),
	diffDoc(`<d:Name>A<!-- c -->bc</d:Name>`),
	diffDoc(`<d:Shape xsi:type="d:Square"><d:Side>2</d:Side></d:Shape>`),
	diffDoc(`<d:Shape xsi:type="d:Square" unit="mm"><d:Side>0</d:Side></d:Shape>`),
	diffDoc(`<d:Shape xsi:type="d:Shape"/>`),
	diffDoc(`<d:Shape><d:Label>x</d:Label></d:Shape>`),
	diffDoc(`<d:Shape xsi:type="d:Nope"/>`),
	diffDoc(`<d:Shape xsi:type="q:Circle"><d:Radius>1</d:Radius></d:Shape>`),
	diffDoc(`<d:Shape xmlns:q="` + diffNS + `" xsi:type="q:Circle"><d:Radius>1</d:Radius></d:Shape>`),
	`<Doc xmlns="` + diffNS + `"><Shape xsi:type="Circle"><Radius>2</Radius></Shape></Doc>`,
	`<Doc xmlns="` + diffNS + `"><Shape xsi:type="Circle"><Radius>x</Radius></Shape></Doc>`,
	diffDoc(`<d:Shape xsi:type="d:Circle"><d:Label>a</d:Label><d:Radius>1</d:Radius></d:Shape><d:Shape xsi:type="d:Circle"><d:Label>a</d:Label><d:Radius>2</d:Radius></d:Shape>`),
	diffDoc(`<d:Ref>zz:Doc</d:Ref>`),
	diffDoc(`<d:Ref>xml:lang</d:Ref>`),
	diffDoc(`<d:Ref>not a qname</d:Ref>`),
	diffDoc(`<d:Ref>Doc</d:Ref>`),
	`<d:Doc kind="d:Doc"/>`,
	`<d:Doc kind="nope:Doc"/>`,
	`<d:Doc code="&amp;#38;"/>`,
	`<d:Doc code="a&amp;b"/>`,
	`<d:Doc code="a&amp;amp;b"/>`,
	`<d:Doc code="x&#10;y"/>`,
	`<d:Doc code="x y" other="1"/>`,
	`<d:Doc code="x y" d:code="x y"/>`,
	diffDoc(`<d:Item id="i1"/><d:Item id="i1"/>`),
	diffDoc(`<d:Item id="i1"/><d:Use ref="i2"/>`),
	diffDoc(`<d:Item id="1bad"/>`),
	diffDoc(`<d:Item/>`),
	diffDoc(`<d:Item id="i1" code="zzz"/><d:Item id="i2" code="a&amp;amp;b"/>`),
	diffDoc(`<d:When xsi:nil="true"/>`),
	diffDoc(`<d:When xsi:nil="true">2024-01-02T03:04:05Z</d:When>`),
	diffDoc(`<d:When xsi:nil="maybe"/>`),
	diffDoc(`<d:When>yesterday</d:When>`),
	diffDoc(`<d:Name xsi:nil="true"/>`),
	diffDoc(`<d:Note>text <d:B>b</d:B><d:C/></d:Note>`),
	diffDoc(`<d:Empty> </d:Empty>`),
	diffDoc(`<d:Empty>x</d:Empty>`),
	diffDoc(`<d:Empty><d:Name>Abc</d:Name></d:Empty>`),
	diffDoc(`text<d:Name>Abc</d:Name>`),
	diffDoc(`a<!-- split -->b<d:Name>Abc</d:Name>c`),
	diffDoc(`  <d:Name>Abc</d:Name>  `),
	diffDoc(`<d:Name>Abc</d:Name><d:Name>Abc</d:Name>`),
	diffDoc(`<d:Ref>d:Doc</d:Ref><d:Name>Abc</d:Name>`),
	diffDoc(`<d:Unknown/>`),
	diffDoc(`<x:Other xmlns:x="urn:other"><x:Deep a="1">t</x:Deep></x:Other>`),
	diffDoc(`<x:Doc xmlns:x="` + diffNS + `"/>`),
	diffDoc(`<Plain/>`),
	`<d:Flat>text</d:Flat>`,
	`<d:Flat><d:Name/></d:Flat>`,
	`<d:Flat/>`,
	`<d:Flat xsi:type="d:Circle"/>`,
	`<d:Nope/>`,
	`<Doc/>`,
	diffDoc("") + "\n" + `<d:Flat>x</d:Flat>` + "\n" + diffDoc(`<d:Name>bad</d:Name>`),
	diffDoc(`<d:Name>bad</d:Name>`) + diffDoc(`<d:Item/>`) + `<d:Nope/>`,
	strings.Repeat(diffDoc(`<d:Name>x</d:Name><d:Item id="1"/>`), 12),
}

// headers are header blocks for the gateway's envelope set.
var headers = []string{
	"",
	`<wsse:Security xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `"><wsu:Timestamp wsu:Id="ts"><wsu:Created>2024-01-02T03:04:05Z</wsu:Created></wsu:Timestamp></wsse:Security>`,
	`<wsse:Security xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `"><wsu:Timestamp wsu:Id="ts"><wsu:Created>not a date</wsu:Created></wsu:Timestamp></wsse:Security>`,
	`<wsse:Security xmlns:wsse="` + wsseNS + `"><wsse:UsernameToken><wsse:Username>u</wsse:Username><wsse:Password Type="bad type">p</wsse:Password></wsse:UsernameToken></wsse:Security>`,
	`<saml:Assertion xmlns:saml="` + samlNS + `" ID="a1" Version="2.0" IssueInstant="2024-01-02T03:04:05Z"><saml:Issuer>me</saml:Issuer></saml:Assertion>`,
	`<saml:Assertion xmlns:saml="` + samlNS + `" ID="a1" Version="2.0" IssueInstant="2024-01-02T03:04:05Z"><saml:Subject/></saml:Assertion>`,
	`<saml:Assertion xmlns:saml="` + samlNS + `" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="a1" Version="2.0" IssueInstant="2024-01-02T03:04:05Z"><saml:Issuer>me</saml:Issuer>` +
		`<saml:AttributeStatement><saml:Attribute Name="n"><saml:AttributeValue xsi:type="xs:int">12</saml:AttributeValue><saml:AttributeValue xsi:type="xs:int">x</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>`,
	`<wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:x</wsa:To><wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:1</wsa:MessageID>`,
	`<h:Custom xmlns:h="urn:h" soap:mustUnderstand="true">x</h:Custom>`,
	`<h:Custom xmlns:h="urn:h" soap:mustUnderstand="maybe">x</h:Custom>`,
	`<h:Custom xmlns:h="urn:h" soap:mustUnderstand="1">x</h:Custom>`,
}

// treeCase is one differential check: a document, the envelope set and the
// payload set (nil for none).
type treeCase struct {
	name         string
	doc          string
	env, payload *Set
}

func treeCorpus(t testing.TB) []treeCase {
	soap11, soap12 := mustEmbedded(t, SOAP11Envelope), mustEmbedded(t, SOAP12Envelope)
	gw11, gw12 := gatewayEnvelopeSet(t, SOAP11Envelope), gatewayEnvelopeSet(t, SOAP12Envelope)
	orders, diff := ordersSet(t), diffSet(t)
	var cs []treeCase
	add := func(name, doc string, env, payload *Set) {
		cs = append(cs, treeCase{name, doc, env, payload})
	}
	getOrder := "<o:GetOrder><o:OrderId>42</o:OrderId></o:GetOrder>"
	// The documents of TestValidateEnvelope and its neighbours.
	for _, v := range []struct {
		ns      string
		set, gw *Set
	}{{soap11NS, soap11, gw11}, {soap12NS, soap12, gw12}} {
		for i, body := range []string{placeOrder("1", 3), getOrder, placeOrder("2", 1) + "\n" + getOrder, "",
			placeOrder("x1", 1), strings.Replace(placeOrder("1", 2), "<t:Quantity>3", "<t:Quantity>0", 1),
			"<o:GetOrder>\n</o:GetOrder>", getOrder + "\n<o:GetOrder><o:OrderId>x</o:OrderId></o:GetOrder>",
			"<o:DeleteOrder/>", "<GetOrder/>", "some text", "<o:GetOrder>&amp;&#1;</o:GetOrder>",
			placeOrder(strings.Repeat("1234567890", 5000)+"x", 1),
			`<o:GetOrder xsi:schemaLocation="urn:x http://127.0.0.1:1/inner.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><o:OrderId>1</o:OrderId></o:GetOrder>`,
			"<o:GetOrder><o:OrderId>1&#10;INFO forged log line&#13;&#9;\xc3\xa9</o:OrderId></o:GetOrder>",
		} {
			doc := envelope(v.ns, "", body)
			add(fmt.Sprintf("%s orders %d", v.ns, i), doc, v.set, orders)
			add(fmt.Sprintf("%s orders %d (gateway set)", v.ns, i), doc, v.gw, orders)
			add(fmt.Sprintf("%s orders %d (no payload)", v.ns, i), doc, v.set, nil)
		}
		other := soap12
		if v.set == soap12 {
			other = soap11
		}
		add(v.ns+" against the other version", envelope(v.ns, "", getOrder), other, orders)
		// With the gateway's envelope set, an xsi:type in the Body must
		// resolve in that set too (the Body's lax wildcard): the payload
		// is reached only with the plain SOAP set.
		skip := skipEnvelopeSet(t, v.ns)
		for i, body := range diffPayloads {
			add(fmt.Sprintf("%s diff %d", v.ns, i), diffEnvelope(v.ns, "", body), skip, diff)
			add(fmt.Sprintf("%s diff %d (SOAP set)", v.ns, i), diffEnvelope(v.ns, "", body), v.set, diff)
			add(fmt.Sprintf("%s diff %d (gateway set)", v.ns, i), diffEnvelope(v.ns, "", body), v.gw, diff)
		}
		for i, h := range headers {
			add(fmt.Sprintf("%s header %d", v.ns, i), diffEnvelope(v.ns, h, diffPayloads[1]), v.gw, diff)
		}
		add(v.ns+" Envelope attribute", strings.Replace(envelope(v.ns, "", getOrder), "<soap:Envelope ", `<soap:Envelope soap:bogus="1" `, 1), v.set, orders)
		add(v.ns+" Body attribute", strings.Replace(envelope(v.ns, "", getOrder), "<soap:Body>", `<soap:Body xmlns:x="urn:x" x:a="1">`, 1), v.gw, orders)
		add(v.ns+" no Header", "<soap:Envelope xmlns:soap=\""+v.ns+"\"><soap:Body>"+`<o:GetOrder xmlns:o="`+ordersNS+`"><o:OrderId>1</o:OrderId></o:GetOrder>`+"</soap:Body></soap:Envelope>", v.set, orders)
		add(v.ns+" default namespaces", `<Envelope xmlns="`+v.ns+`"><Body><GetOrder xmlns="`+ordersNS+`"><OrderId>1</OrderId></GetOrder><GetOrder xmlns="`+ordersNS+`"><OrderId>z</OrderId></GetOrder></Body></Envelope>`, v.set, orders)
		add(v.ns+" undeclared default", `<Envelope xmlns="`+v.ns+`"><Body><GetOrder xmlns=""/></Body></Envelope>`, v.set, orders)
	}
	return cs
}

// sameOutcome compares a ValidateEnvelope result with a ValidateTree one,
// ignoring line numbers.
func sameOutcome(ref, got error) error {
	var rv, gv *ValidationError
	switch {
	case ref == nil && got == nil:
		return nil
	case ref == nil || got == nil:
		return fmt.Errorf("ValidateEnvelope: %v, ValidateTree: %v", ref, got)
	case !errors.As(ref, &rv) || !errors.As(got, &gv):
		return fmt.Errorf("not both validation errors: ValidateEnvelope: %v, ValidateTree: %v", ref, got)
	}
	if rv.Truncated != gv.Truncated || len(rv.Problems) != len(gv.Problems) {
		return fmt.Errorf("ValidateEnvelope: %d problems (truncated %v) %+v, ValidateTree: %d (truncated %v) %+v",
			len(rv.Problems), rv.Truncated, rv.Problems, len(gv.Problems), gv.Truncated, gv.Problems)
	}
	for i := range rv.Problems {
		r, g := rv.Problems[i], gv.Problems[i]
		if r.Element != g.Element || r.Message != g.Message {
			return fmt.Errorf("problem %d: ValidateEnvelope %+v, ValidateTree %+v", i, r, g)
		}
		if g.Line != 0 {
			return fmt.Errorf("problem %d: ValidateTree gives line %d", i, g.Line)
		}
	}
	return nil
}

// TestValidateTreeDifferential: for every document soap.Parse accepts,
// ValidateTree over its tree and ValidateEnvelope over its bytes give the
// same verdict and the same problems (elements and messages).
func TestValidateTreeDifferential(t *testing.T) {
	var accepted, invalid int
	for _, c := range treeCorpus(t) {
		env, err := soap.Parse([]byte(c.doc), soap.DefaultLimits())
		if err != nil {
			continue
		}
		accepted++
		ref := ValidateEnvelope([]byte(c.doc), c.env, c.payload)
		got := ValidateTree(env.Root, c.env, c.payload)
		if ref != nil {
			invalid++
		}
		if err := sameOutcome(ref, got); err != nil {
			t.Errorf("%s: %v\n%s", c.name, err, c.doc[:min(len(c.doc), 2000)])
		}
	}
	if accepted < 150 || invalid < 60 {
		t.Errorf("only %d documents accepted by soap.Parse, %d invalid", accepted, invalid)
	}
	t.Logf("%d documents, %d invalid", accepted, invalid)
}

// The Body rules and the streaming problems name their elements.
func TestValidateTreeProblems(t *testing.T) {
	soap12 := mustEmbedded(t, SOAP12Envelope)
	orders := ordersSet(t)
	build := func(s string) *etree.Element {
		d := etree.NewDocument()
		if err := d.ReadFromString(s); err != nil {
			t.Fatal(err)
		}
		return d.Root()
	}
	for doc, want := range map[string]Problem{
		`<s:Envelope xmlns:s="` + soap12NS + `"><s:Header/></s:Envelope>`:                                                                                   {Element: "{" + soap12NS + "}Envelope"},
		`<s:Envelope xmlns:s="` + soap12NS + `"><s:Body/><s:Body/></s:Envelope>`:                                                                            {Element: "{" + soap12NS + "}Body"},
		`<s:Envelope xmlns:s="` + soap12NS + `"><s:Body><o:GetOrder xmlns:o="` + ordersNS + `"><o:OrderId>x</o:OrderId></o:GetOrder></s:Body></s:Envelope>`: {Element: "{" + ordersNS + "}OrderId"},
	} {
		err := ValidateTree(build(doc), soap12, orders)
		ve := asValidation(t, err)
		p := ve.Problems[0]
		if p.Element != want.Element || (want.Message != "" && p.Message != want.Message) || p.Line != 0 {
			t.Errorf("%s: %+v, want %+v", doc, p, want)
		}
		if ref := sameOutcome(ValidateEnvelope([]byte(doc), soap12, orders), err); ref != nil {
			t.Errorf("%s: %v", doc, ref)
		}
	}
	// The Body count, where the envelope schema allows any count.
	dir := writeFiles(t, t.TempDir(), map[string]string{"loose.xsd": xsd("urn:loose", "",
		`<xs:element name="Envelope"><xs:complexType><xs:sequence><xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>`)})
	loose, err := CompileFiles([]string{dir + "/loose.xsd"}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	for doc, want := range map[string]Problem{
		`<e:Envelope xmlns:e="urn:loose"><e:Header/></e:Envelope>`:                        {Element: "{urn:loose}Envelope", Message: "the envelope has no Body"},
		`<e:Envelope xmlns:e="urn:loose"><e:Body/><e:Body/></e:Envelope>`:                 {Element: "{urn:loose}Body", Message: "the envelope has more than one Body"},
		`<e:Envelope xmlns:e="urn:loose"><Body xmlns="urn:other"/></e:Envelope>`:          {Element: "{urn:loose}Envelope", Message: "the envelope has no Body"},
		`<e:Envelope xmlns:e="urn:loose"><e:Body/><Body xmlns="urn:other"/></e:Envelope>`: {},
	} {
		err := ValidateTree(build(doc), loose, orders)
		if ref := sameOutcome(ValidateEnvelope([]byte(doc), loose, orders), err); ref != nil {
			t.Errorf("%s: %v", doc, ref)
		}
		if want.Message == "" {
			if err != nil {
				t.Errorf("%s: %v", doc, err)
			}
			continue
		}
		if p := asValidation(t, err).Problems[0]; p != want {
			t.Errorf("%s: %+v, want %+v", doc, p, want)
		}
	}

	// A tree that is not namespace-well-formed, or holds a NUL, is refused.
	bad := build(`<s:Envelope xmlns:s="` + soap12NS + `"><s:Body/></s:Envelope>`)
	bad.FindElement("Body").CreateElement("x:Undeclared")
	asParse(t, ValidateTree(bad, soap12, orders))
	nul := build(`<s:Envelope xmlns:s="` + soap12NS + `"><s:Body/></s:Envelope>`)
	nul.FindElement("Body").CreateText("a\x00b")
	asParse(t, ValidateTree(nul, soap12, orders))
	if err := ValidateTree(nil, soap12, orders); err == nil {
		t.Error("nil root accepted")
	}
	closed, err := CompileEmbedded(SOAP12Envelope)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := ValidateTree(build(`<s:Envelope xmlns:s="`+soap12NS+`"><s:Body/></s:Envelope>`), closed, orders); !errors.Is(err, errClosed) {
		t.Errorf("closed set: %v", err)
	}
}

// Contexts are pooled per kind: document validations after tree
// validations (and the reverse) on the same sets still resolve QNames.
func TestValidateTreeContextReuse(t *testing.T) {
	gw := skipEnvelopeSet(t, soap11NS)
	diff := diffSet(t)
	valid := diffEnvelope(soap11NS, "", diffPayloads[1])
	env, err := soap.Parse([]byte(valid), soap.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := ValidateTree(env.Root, gw, diff); err != nil {
			t.Fatalf("round %d: ValidateTree: %v", i, err)
		}
		if err := ValidateEnvelope([]byte(valid), gw, diff); err != nil {
			t.Fatalf("round %d: ValidateEnvelope: %v", i, err)
		}
	}
}

// treeFuzzSkip reports inputs outside what ValidateTree promises to match
// (see its documentation): CDATA sections (the hardened parser keeps them
// as text) and literal whitespace other than spaces in attribute values
// (libxml2 normalizes it, the tree keeps it).
func treeFuzzSkip(doc []byte, root *etree.Element) bool {
	if bytes.Contains(doc, []byte("<![CDATA[")) {
		return true
	}
	var walk func(*etree.Element) bool
	walk = func(e *etree.Element) bool {
		for _, a := range e.Attr {
			if strings.ContainsAny(a.Value, "\t\n\r") {
				return true
			}
		}
		for _, c := range e.ChildElements() {
			if walk(c) {
				return true
			}
		}
		return false
	}
	return walk(root)
}

func FuzzValidateTreeDifferential(f *testing.F) {
	gw := map[soap.Version]*Set{soap.V11: gatewayEnvelopeSet(f, SOAP11Envelope), soap.V12: gatewayEnvelopeSet(f, SOAP12Envelope)}
	payloads := []*Set{ordersSet(f), diffSet(f), nil}
	skip := map[soap.Version]*Set{soap.V11: skipEnvelopeSet(f, soap11NS), soap.V12: skipEnvelopeSet(f, soap12NS)}
	for i, c := range treeCorpus(f) {
		f.Add([]byte(c.doc), uint8(i))
	}
	f.Fuzz(func(t *testing.T, doc []byte, which uint8) {
		env, err := soap.Parse(doc, soap.DefaultLimits())
		if err != nil || treeFuzzSkip(doc, env.Root) {
			return
		}
		set := gw[env.Version]
		if which&0x80 != 0 {
			set = skip[env.Version]
		}
		payload := payloads[int(which&0x7f)%len(payloads)]
		ref := ValidateEnvelope(doc, set, payload)
		var pe *ParseError
		if errors.As(ref, &pe) {
			// libxml2's parser refuses what soap.Parse accepted (say, no
			// space between two attributes): a parser differential, not
			// one of validation, which is what is compared here.
			return
		}
		if err := sameOutcome(ref, ValidateTree(env.Root, set, payload)); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkValidateTree(b *testing.B) {
	soap11 := mustEmbedded(b, SOAP11Envelope)
	orders := ordersSet(b)
	for _, size := range []int{2 << 10, 50 << 10} {
		doc := envelopeOfSize(size)
		env, err := soap.Parse(doc, soap.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		if err := ValidateTree(env.Root, soap11, orders); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := ValidateTree(env.Root, soap11, orders); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The differences ValidateTree documents, pinned: libxml2 refuses a
// whitespace-only CDATA section in element-only content, which the hardened
// parser keeps as plain text; and it normalizes a literal newline in an
// attribute value to a space, which the tree keeps.
func TestValidateTreeKnownDifferences(t *testing.T) {
	skip := skipEnvelopeSet(t, soap11NS)
	diff := diffSet(t)
	for _, tc := range []struct {
		body            string
		refValid, valid bool
	}{
		{diffDoc(`<![CDATA[ ]]><d:Name>Abc</d:Name>`), false, true},
		{"<d:Doc code=\"x\ny\"/>", true, false},
		{`<d:Doc code="x&#10;y"/>`, false, false},
	} {
		doc := diffEnvelope(soap11NS, "", tc.body)
		env, err := soap.Parse([]byte(doc), soap.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		ref, got := ValidateEnvelope([]byte(doc), skip, diff), ValidateTree(env.Root, skip, diff)
		if (ref == nil) != tc.refValid || (got == nil) != tc.valid {
			t.Errorf("%q: ValidateEnvelope %v, ValidateTree %v", tc.body, ref, got)
		}
	}
}
