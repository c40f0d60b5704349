package schemas

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestValidateEnvelope(t *testing.T) {
	soap11 := mustEmbedded(t, SOAP11Envelope)
	soap12 := mustEmbedded(t, SOAP12Envelope)
	orders := ordersSet(t)
	getOrder := "<o:GetOrder><o:OrderId>42</o:OrderId></o:GetOrder>"

	for _, v := range []struct {
		ns  string
		set *Set
	}{{soap11NS, soap11}, {soap12NS, soap12}} {
		for _, body := range []string{placeOrder("1", 3), getOrder, placeOrder("2", 1) + "\n" + getOrder, ""} {
			if err := ValidateEnvelope([]byte(envelope(v.ns, "", body)), v.set, orders); err != nil {
				t.Errorf("%s envelope with %.30q: %v", v.ns, body, err)
			}
		}
	}
	if err := ValidateEnvelope([]byte(envelope(soap12NS, "", "<o:Anything/>")), soap12, nil); err != nil {
		t.Errorf("nil payload schema: %v", err)
	}

	tests := []struct {
		name    string
		doc     string
		line    int
		element string
		msg     string
	}{
		{"payload value invalid", envelope(soap12NS, "", placeOrder("x1", 1)), 6, "{" + ordersNS + "}OrderId", "xs:int"},
		{"payload value invalid in an imported type", envelope(soap11NS, "", strings.Replace(placeOrder("1", 2), "<t:Quantity>3", "<t:Quantity>0", 1)),
			8, "{" + typesNS + "}Quantity", "positiveInteger"},
		{"payload element missing", envelope(soap12NS, "", "<o:GetOrder>\n</o:GetOrder>"), 5, "{" + ordersNS + "}GetOrder", "Missing child element"},
		{"second Body child invalid", envelope(soap12NS, "", getOrder+"\n<o:GetOrder><o:OrderId>x</o:OrderId></o:GetOrder>"), 6, "{" + ordersNS + "}OrderId", "xs:int"},
		{"Body child unknown to payload", envelope(soap12NS, "", "<o:DeleteOrder/>"), 5, "{" + ordersNS + "}DeleteOrder", "No matching global declaration"},
		{"Body child in no namespace", envelope(soap11NS, "", "<GetOrder/>"), 5, "GetOrder", "No matching global declaration"},
		{"text in Body", envelope(soap12NS, "", "some text"), 4, "{" + soap12NS + "}Body", ""},
		{"two Bodies", "<soap:Envelope xmlns:soap=\"" + soap11NS + "\">\n<soap:Body/>\n<soap:Body/>\n</soap:Envelope>", 3, "{" + soap11NS + "}Body", ""},
		{"Header after Body", "<soap:Envelope xmlns:soap=\"" + soap12NS + "\">\n<soap:Body/>\n<soap:Header/>\n</soap:Envelope>", 3, "{" + soap12NS + "}Header", ""},
		{"no Body", "<soap:Envelope xmlns:soap=\"" + soap12NS + "\">\n<soap:Header/>\n</soap:Envelope>", 1, "{" + soap12NS + "}Envelope", ""},
		{"SOAP 1.1 envelope against SOAP 1.2", envelope(soap11NS, "", getOrder), 2, "{" + soap11NS + "}Envelope", "No matching global declaration"},
		{"root is not an Envelope", "<o:GetOrder xmlns:o=\"" + ordersNS + "\"><o:OrderId>1</o:OrderId></o:GetOrder>", 1, "{" + ordersNS + "}GetOrder", ""},
		// The envelope is checked first: its problems hide the payload's.
		{"envelope and payload invalid", strings.Replace(envelope(soap12NS, "", placeOrder("x", 1)), "</soap:Body>", "</soap:Body><soap:Body/>", 1), 10, "{" + soap12NS + "}Body", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := soap12
			if strings.Contains(tt.doc, soap11NS) && !strings.Contains(tt.name, "against SOAP 1.2") {
				set = soap11
			}
			ve := asValidation(t, ValidateEnvelope([]byte(tt.doc), set, orders))
			p := ve.Problems[0]
			if p.Line != tt.line || p.Element != tt.element || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("problem %+v, want line %d, element %s, message with %q", p, tt.line, tt.element, tt.msg)
			}
			if s := ve.Error(); !strings.Contains(s, fmt.Sprintf("line %d: element %s: ", tt.line, tt.element)) {
				t.Errorf("Error() = %q", s)
			}
		})
	}
}

// The shim insists on exactly one Body even when the envelope schema
// would allow more.
func TestValidateEnvelopeBodyCount(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"loose.xsd": xsd("urn:loose", "",
		`<xs:element name="Envelope"><xs:complexType><xs:sequence><xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>`)})
	loose, err := CompileFiles([]string{dir + "/loose.xsd"}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	for doc, want := range map[string]string{
		`<e:Envelope xmlns:e="urn:loose"><e:Header/></e:Envelope>`:                        "no Body",
		`<e:Envelope xmlns:e="urn:loose"><e:Body/><e:Body/></e:Envelope>`:                 "more than one Body",
		`<e:Envelope xmlns:e="urn:loose"><Body xmlns="urn:other"/></e:Envelope>`:          "no Body",
		`<e:Envelope xmlns:e="urn:loose"><e:Body/><Body xmlns="urn:other"/></e:Envelope>`: "",
	} {
		err := ValidateEnvelope([]byte(doc), loose, nil)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", doc, err)
			}
			continue
		}
		if ve := asValidation(t, err); !strings.Contains(ve.Problems[0].Message, want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

func TestNotWellFormed(t *testing.T) {
	soap12 := mustEmbedded(t, SOAP12Envelope)
	orders := ordersSet(t)
	tests := []struct {
		name, doc string
		line      int
	}{
		{"mismatched tags", envelope(soap12NS, "", "<o:GetOrder></o:Get>"), 5},
		{"undeclared prefix", envelope(soap12NS, "", "<x:GetOrder/>"), 5},
		{"undeclared entity", envelope(soap12NS, "", "<o:GetOrder>&nope;</o:GetOrder>"), 5},
		{"truncated", envelope(soap12NS, "", "")[:60], 2},
		{"two roots", "<a/>\n<b/>", 2},
		{"empty", "", 0},
		{"only a declaration", `<?xml version="1.0"?>`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, err := range []error{ValidateEnvelope([]byte(tt.doc), soap12, orders), soap12.Validate([]byte(tt.doc))} {
				pe := asParse(t, err)
				if pe.Line != tt.line || pe.Message == "" {
					t.Errorf("got %+v, want line %d", pe, tt.line)
				}
				var ve *ValidationError
				if errors.As(err, &ve) {
					t.Errorf("a parse error is also a ValidationError")
				}
			}
		})
	}
}

// The gateway rejects DTDs before libxml2 sees the message; the shim must
// be safe anyway: it stops at "<!DOCTYPE", so nothing is declared, expanded
// or loaded.
func TestDTDsAreNeverProcessed(t *testing.T) {
	canary := newCanary(t)
	soap11 := mustEmbedded(t, SOAP11Envelope)
	orders := ordersSet(t)
	body := "<o:GetOrder><o:OrderId>&xxe;</o:OrderId></o:GetOrder>"
	tests := map[string]string{
		"external entity":        `<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`,
		"external entity (http)": `<!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM "` + canary.URL + `/xxe">]>`,
		"parameter entity":       `<!DOCTYPE soap:Envelope [<!ENTITY % p SYSTEM "` + canary.URL + `/p.dtd"> %p; <!ENTITY xxe "x">]>`,
		"external subset":        `<!DOCTYPE soap:Envelope SYSTEM "` + canary.URL + `/e.dtd">`,
		"internal entity":        `<!DOCTYPE soap:Envelope [<!ENTITY xxe "42">]>`,
		"entity expansion":       `<!DOCTYPE soap:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY xxe "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>`,
	}
	for name, doctype := range tests {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(envelope(soap11NS, "", body), "\n", "\n"+doctype+"\n", 1)
			for _, err := range []error{ValidateEnvelope([]byte(doc), soap11, orders), soap11.Validate([]byte(doc))} {
				pe := asParse(t, err)
				if pe.Line != 2 || !strings.Contains(pe.Message, "DOCTYPE is not allowed") {
					t.Errorf("got %+v, want the DOCTYPE refused on line 2", pe)
				}
				if strings.Contains(err.Error(), "root:") || strings.Contains(err.Error(), "42") {
					t.Errorf("error shows entity content: %v", err)
				}
			}
		})
	}
}

// Instance documents load nothing: libxml2 does not follow
// xsi:schemaLocation when it has a schema, and the entity loader refuses
// everything outside a compilation anyway.
func TestSchemaLocationInDocumentIsIgnored(t *testing.T) {
	canary := newCanary(t)
	soap12 := mustEmbedded(t, SOAP12Envelope)
	orders := ordersSet(t)
	doc := strings.Replace(envelope(soap12NS, "", "<o:GetOrder><o:OrderId>1</o:OrderId></o:GetOrder>"), `<soap:Envelope `,
		`<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="`+soap12NS+` `+canary.URL+`/evil.xsd `+ordersNS+` `+canary.URL+`/orders.xsd" xsi:noNamespaceSchemaLocation="`+canary.URL+`/none.xsd" `, 1)
	doc = strings.Replace(doc, "<o:GetOrder>", `<o:GetOrder xsi:schemaLocation="urn:x `+canary.URL+`/inner.xsd">`, 1)
	if err := ValidateEnvelope([]byte(doc), soap12, orders); err != nil {
		t.Errorf("ValidateEnvelope: %v", err)
	}
	if err := soap12.Validate([]byte(doc)); err != nil {
		t.Errorf("Validate: %v", err)
	}
	xinclude := envelope(soap12NS, "", `<o:GetOrder><o:OrderId>1</o:OrderId><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="`+canary.URL+`/x.xml"/></o:GetOrder>`)
	asValidation(t, ValidateEnvelope([]byte(xinclude), soap12, orders))
}

// Regression: lestrrat-go/libxml2's collector crashed on messages longer
// than its 1 KB buffer. A huge invalid xs:int yields a short problem.
func TestLongInvalidValue(t *testing.T) {
	soap11 := mustEmbedded(t, SOAP11Envelope)
	orders := ordersSet(t)
	for _, size := range []int{50 << 10, 1 << 20} {
		value := strings.Repeat("1234567890", size/10) + "x"
		doc := envelope(soap11NS, "", placeOrder(value, 1))
		payloadOnly := `<o:GetOrder xmlns:o="` + ordersNS + `"><o:OrderId>` + value + `</o:OrderId></o:GetOrder>`
		for name, err := range map[string]error{
			"ValidateEnvelope": ValidateEnvelope([]byte(doc), soap11, orders),
			"Validate":         orders.Validate([]byte(payloadOnly)),
		} {
			ve := asValidation(t, err)
			// Our copy cuts at 512 bytes and says so with "..."; above
			// about 64 KB libxml2 itself gives up formatting and keeps
			// only the first 150 bytes of its message.
			m := ve.Problems[0].Message
			cutByUs := size < 64<<10
			if len(m) > 600 || strings.HasSuffix(m, "...") != cutByUs || !strings.HasPrefix(m, "'123456789") || !utf8.ValidString(m) {
				t.Errorf("%s, %d bytes: message of %d bytes: %.80q...%q", name, size, len(m), m, m[max(0, len(m)-20):])
			}
			if ve.Problems[0].Element != "{"+ordersNS+"}OrderId" {
				t.Errorf("%s, %d bytes: element %q", name, size, ve.Problems[0].Element)
			}
		}
	}
}

func TestProblemsAreBounded(t *testing.T) {
	orders := ordersSet(t)
	var b strings.Builder
	b.WriteString(`<o:PlaceOrder xmlns:o="` + ordersNS + `" xmlns:t="` + typesNS + `"><o:OrderId>1</o:OrderId><o:Customer>c</o:Customer>`)
	for i := range 40 {
		fmt.Fprintf(&b, "<o:Item><t:Sku>s</t:Sku><t:Quantity>-%d</t:Quantity></o:Item>\n", i)
	}
	b.WriteString("</o:PlaceOrder>")
	ve := asValidation(t, orders.Validate([]byte(b.String())))
	if len(ve.Problems) != 16 || !ve.Truncated {
		t.Errorf("%d problems, truncated %v; want 16, true", len(ve.Problems), ve.Truncated)
	}
	if !strings.Contains(ve.Error(), "(16+ problems)") {
		t.Errorf("Error() = %q", ve.Error())
	}
}

// Messages quote values; control characters from the document must not
// reach logs.
func TestMessagesAreSanitised(t *testing.T) {
	orders := ordersSet(t)
	doc := `<o:GetOrder xmlns:o="` + ordersNS + `"><o:OrderId>1&#10;INFO forged log line&#13;&#9;` + "\xc3\xa9" + `</o:OrderId></o:GetOrder>`
	ve := asValidation(t, orders.Validate([]byte(doc)))
	m := ve.Problems[0].Message
	if strings.ContainsAny(m, "\n\r\t") || !strings.Contains(m, "INFO forged log line") || !strings.Contains(m, "é") {
		t.Errorf("message %q", m)
	}
	if strings.HasPrefix(m, "Element ") {
		t.Errorf("message %q keeps the element prefix", m)
	}
}

func TestClosedSet(t *testing.T) {
	s, err := CompileEmbedded(SOAP11Envelope)
	if err != nil {
		t.Fatal(err)
	}
	orders := ordersSet(t)
	doc := []byte(envelope(soap11NS, "", ""))
	if err := s.Validate(doc); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Validate(doc); !errors.Is(err, errClosed) {
		t.Errorf("Validate after Close: %v", err)
	}
	if err := ValidateEnvelope(doc, s, orders); !errors.Is(err, errClosed) {
		t.Errorf("ValidateEnvelope with a closed envelope set: %v", err)
	}
	open := mustEmbedded(t, SOAP11Envelope)
	orders.Close()
	if err := ValidateEnvelope(doc, open, orders); !errors.Is(err, errClosed) {
		t.Errorf("ValidateEnvelope with a closed payload set: %v", err)
	}
	if err := ValidateEnvelope(doc, nil, nil); err == nil {
		t.Error("nil envelope set accepted")
	}
}

// Compiled schemas are shared read-only by concurrent validations, each
// with its own libxml2 contexts. Run with -race.
func TestConcurrentValidation(t *testing.T) {
	soap11 := mustEmbedded(t, SOAP11Envelope)
	soap12 := mustEmbedded(t, SOAP12Envelope)
	orders := ordersSet(t)
	type tc struct {
		env   *Set
		doc   []byte
		valid bool
		line  int
	}
	cases := []tc{
		{soap11, []byte(envelope(soap11NS, "", placeOrder("1", 5))), true, 0},
		{soap12, []byte(envelope(soap12NS, "", placeOrder("2", 2))), true, 0},
		{soap12, []byte(envelope(soap12NS, "", placeOrder("bad", 2))), false, 6},
		{soap11, []byte(envelope(soap11NS, "", "<o:Unknown/>")), false, 5},
		{soap12, []byte(envelope(soap11NS, "", placeOrder("3", 1))), false, 2},
		{soap12, []byte(envelope(soap12NS, "", strings.Repeat("x", 3000)+"<")), false, -1},
	}
	const goroutines, rounds = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				c := cases[(g+i)%len(cases)]
				err := ValidateEnvelope(c.doc, c.env, orders)
				var ve *ValidationError
				var pe *ParseError
				switch {
				case c.valid && err != nil:
					errs <- fmt.Errorf("case %d: want valid, got %v", (g+i)%len(cases), err)
				case !c.valid && c.line < 0 && !errors.As(err, &pe):
					errs <- fmt.Errorf("case %d: want a parse error, got %v", (g+i)%len(cases), err)
				case !c.valid && c.line > 0 && (!errors.As(err, &ve) || ve.Problems[0].Line != c.line):
					errs <- fmt.Errorf("case %d: want a problem on line %d, got %v", (g+i)%len(cases), c.line, err)
				default:
					continue
				}
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Close while validations run: they finish, later ones fail, nothing is
// freed under them.
func TestCloseDuringValidation(t *testing.T) {
	orders, err := CompileFiles([]string{mustAbs(t, "testdata/orders.xsd")}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	soap11 := mustEmbedded(t, SOAP11Envelope)
	doc := []byte(envelope(soap11NS, "", placeOrder("1", 200)))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if err := ValidateEnvelope(doc, soap11, orders); err != nil && !errors.Is(err, errClosed) {
					t.Error(err)
					return
				}
			}
		}()
	}
	orders.Close()
	wg.Wait()
}
