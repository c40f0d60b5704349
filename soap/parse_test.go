package soap

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const env11 = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
  <soap:Header>
    <wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:1234</wsa:MessageID>
    <wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:example:GetBalance</wsa:Action>
  </soap:Header>
  <soap:Body wsu:Id="body">
    <a:GetBalance xmlns:a="urn:example:accounts"><a:Account>42</a:Account></a:GetBalance>
  </soap:Body>
</soap:Envelope>`

const env12 = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><GetBalance xmlns="urn:example:accounts"><Account>42</Account></GetBalance></env:Body></env:Envelope>`

// wrap puts payload into a SOAP 1.1 Body.
func wrap(payload string) string {
	return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + payload + `</s:Body></s:Envelope>`
}

func TestParseValid(t *testing.T) {
	e, err := Parse([]byte(env11), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != V11 || e.Header == nil || e.Body == nil {
		t.Fatalf("version %v header %v body %v", e.Version, e.Header, e.Body)
	}
	if got := e.Operation(); got != (QName{"urn:example:accounts", "GetBalance"}) {
		t.Errorf("operation = %v", got)
	}
	if e.Addressing.MessageID != "urn:uuid:1234" || e.Addressing.Action != "urn:example:GetBalance" {
		t.Errorf("addressing = %+v", e.Addressing)
	}
	if e.ElementByID("body") != e.Body {
		t.Error("wsu:Id body does not resolve to the Body element")
	}

	e2, err := Parse([]byte(env12), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if e2.Version != V12 || e2.Header != nil {
		t.Fatalf("1.2: version %v header %v", e2.Version, e2.Header)
	}
	if got := e2.Operation(); got != (QName{"urn:example:accounts", "GetBalance"}) {
		t.Errorf("1.2 operation (default namespace) = %v", got)
	}
	// a UTF-8 byte order mark is fine
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), env12...), DefaultLimits()); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

// TestParseRoundTrip checks that what the gateway forwards is the document it
// parsed: prefixes, attributes and text survive.
func TestParseRoundTrip(t *testing.T) {
	e, err := Parse([]byte(env11), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	e2, err := Parse(out, DefaultLimits())
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, out)
	}
	for _, s := range []string{`wsu:Id="body"`, `<a:Account>42</a:Account>`, `xmlns:a="urn:example:accounts"`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("serialized envelope lost %q:\n%s", s, out)
		}
	}
	if e2.Operation() != e.Operation() {
		t.Error("operation changed in round trip")
	}
}

func TestParseRejects(t *testing.T) {
	big := strings.Repeat("a", 300<<10)
	deep := strings.Repeat("<x>", 70) + strings.Repeat("</x>", 70)
	manyAttrs := "<x"
	for i := range 40 {
		manyAttrs += fmt.Sprintf(` a%d="1"`, i)
	}
	manyAttrs += "/>"
	manyNS := "<x"
	for i := range 20 {
		manyNS += fmt.Sprintf(` xmlns:p%d="urn:%d"`, i, i)
	}
	manyNS += "/>"
	manyEls := strings.Repeat("<y/>", 20001)

	tests := []struct {
		name   string
		in     string
		code   Code
		status int // 0: the binding default
		reason string
	}{
		{"doctype", `<!DOCTYPE s:Envelope>` + wrap(`<x/>`), Sender, 0, "markup declaration"},
		{"external entity file", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + wrap(`<x>&e;</x>`), Sender, 0, "markup declaration"},
		{"external entity http", `<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:1/x">]>` + wrap(`<x>&e;</x>`), Sender, 0, "markup declaration"},
		{"parameter entity", `<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]>` + wrap(`<x/>`), Sender, 0, "markup declaration"},
		{"billion laughs", `<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>` + wrap(`<x>&b;</x>`), Sender, 0, "markup declaration"},
		{"undefined entity without DTD", wrap(`<x>&e;</x>`), Sender, 0, "not well-formed"},
		{"xinclude", wrap(`<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>`), Sender, 0, "XInclude"},
		{"xsi:schemaLocation", wrap(`<x xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x http://127.0.0.1:1/x.xsd"/>`), Sender, 0, "schemaLocation"},
		{"xsi:noNamespaceSchemaLocation", wrap(`<x xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://127.0.0.1:1/x.xsd"/>`), Sender, 0, "noNamespaceSchemaLocation"},
		{"processing instruction", wrap(`<?evil x?><x/>`), Sender, 0, "processing instruction"},
		{"late xml declaration", " " + `<?xml version="1.0"?>` + wrap(`<x/>`), Sender, 0, ""},
		{"latin1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?>` + wrap(`<x/>`), Sender, 0, "not well-formed"},
		{"invalid utf-8", wrap("<x>\xff\xfe</x>"), Sender, 0, "UTF-8"},
		{"utf-16 bom", "\xff\xfe<\x00", Sender, 0, "UTF-16"},
		{"too big", wrap(`<x>` + strings.Repeat("a", 2<<20) + `</x>`), Sender, http.StatusRequestEntityTooLarge, "exceeds"},
		{"text too big", wrap(`<x>` + big + `</x>`), Sender, 0, "text in"},
		{"attribute value too big", wrap(`<x a="` + big + `"/>`), Sender, 0, "attribute"},
		{"comment too big", wrap(`<!--` + big + `-->`), Sender, 0, "comment"},
		{"too deep", wrap(deep), Sender, 0, "depth"},
		{"too many attributes", wrap(manyAttrs), Sender, 0, "attributes"},
		{"too many namespaces", wrap(manyNS), Sender, 0, "namespaces"},
		{"too many elements", wrap(manyEls), Sender, 0, "elements"},
		{"long name", wrap(`<` + strings.Repeat("n", 300) + `/>`), Sender, 0, "name"},
		{"duplicate attribute", wrap(`<x a="1" a="2"/>`), Sender, 0, "not well-formed|duplicate attribute"},
		{"duplicate expanded attribute", wrap(`<x xmlns:p="urn:a" xmlns:q="urn:a" p:a="1" q:a="2"/>`), Sender, 0, "duplicate attribute"},
		{"duplicate namespace declaration", wrap(`<x xmlns:p="urn:a" xmlns:p="urn:b"/>`), Sender, 0, "duplicate"},
		{"undeclared element prefix", wrap(`<p:x/>`), Sender, 0, "undeclared"},
		{"undeclared attribute prefix", wrap(`<x p:a="1"/>`), Sender, 0, "undeclared"},
		{"prefix undeclaration", wrap(`<x xmlns:p=""/>`), Sender, 0, "empty URI"},
		{"duplicate wsu:Id", wrap(`<x xmlns:wsu="` + NSWSU + `" wsu:Id="a"/><y Id="a"/>`), Sender, 0, "duplicate ID"},
		{"duplicate ID across names", wrap(`<x ID="a"/><y AssertionID="a"/>`), Sender, 0, "duplicate ID"},
		{"not an envelope", `<Request/>`, Sender, 0, "not a SOAP Envelope"},
		{"envelope without namespace", `<Envelope><Body/></Envelope>`, VersionMismatch, 0, "namespace"},
		{"wrong envelope namespace", `<s:Envelope xmlns:s="urn:other"><s:Body/></s:Envelope>`, VersionMismatch, 0, "namespace"},
		{"no body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>`, Sender, 0, "no Body"},
		{"two bodies", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Body/></s:Envelope>`, Sender, 0, "out of place"},
		{"two headers", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Header/><s:Body/></s:Envelope>`, Sender, 0, "out of place"},
		{"header after body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Header/></s:Envelope>`, Sender, 0, "out of place"},
		{"element after body", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><x xmlns="urn:x"/></s:Envelope>`, Sender, 0, "inside Envelope"},
		{"body in other namespace", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><Body/></s:Envelope>`, Sender, 0, "inside Envelope"},
		{"text in envelope", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">x<s:Body/></s:Envelope>`, Sender, 0, "text directly"},
		{"two roots", wrap(`<x/>`) + wrap(`<x/>`), Sender, 0, "second root|not well-formed"},
		{"unclosed", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>`, Sender, 0, "ends inside|not well-formed"},
		{"mismatched end tag", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></x:Body></s:Envelope>`, Sender, 0, "does not match|not well-formed"},
		{"colon name", wrap(`<a:b:c xmlns:a="urn:a"/>`), Sender, 0, "malformed|not well-formed"},
		{"duplicate MessageID", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><wsa:MessageID>a</wsa:MessageID><wsa:MessageID>b</wsa:MessageID></s:Header><s:Body/></s:Envelope>`, Sender, 0, "duplicate wsa:MessageID"},
		{"empty input", ``, Sender, 0, "no root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), DefaultLimits())
			if err == nil {
				t.Fatal("accepted")
			}
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("error %v is not a *Fault", err)
			}
			if f.Code != tt.code {
				t.Errorf("code = %v, want %v (%v)", f.Code, tt.code, err)
			}
			if tt.status != 0 && f.Status != tt.status {
				t.Errorf("status = %d, want %d", f.Status, tt.status)
			}
			if tt.reason != "" && !matchesAny(f.Reason(), tt.reason) {
				t.Errorf("reason %q does not mention %q", f.Reason(), tt.reason)
			}
			// The public text never echoes input or the internal reason.
			if strings.Contains(f.Public, "passwd") || f.Public == f.Reason() {
				t.Errorf("public text %q leaks detail", f.Public)
			}
		})
	}
}

func matchesAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// TestCommentDoesNotTruncate guards the comment-splitting trick: a comment in
// a value must not cut it short.
func TestCommentDoesNotTruncate(t *testing.T) {
	in := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><wsa:To>https://a.example<!---->.evil</wsa:To></s:Header><s:Body/></s:Envelope>`
	e, err := Parse([]byte(in), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if e.Addressing.To != "https://a.example.evil" {
		t.Errorf("To = %q", e.Addressing.To)
	}
}

func TestLimitsBoundary(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxDepth = 4 // Envelope, Body, x, y
	if _, err := Parse([]byte(wrap(`<x><y/></x>`)), lim); err != nil {
		t.Errorf("depth exactly at the limit refused: %v", err)
	}
	if _, err := Parse([]byte(wrap(`<x><y><z/></y></x>`)), lim); err == nil {
		t.Error("depth over the limit accepted")
	}
}

func TestReadBinding(t *testing.T) {
	tests := []struct {
		ct      string
		action  []string
		want    Binding
		wantErr bool
	}{
		{"text/xml; charset=utf-8", []string{`"urn:a"`}, Binding{V11, "urn:a", true}, false},
		{"text/xml", []string{`""`}, Binding{V11, "", true}, false},
		{"text/xml", nil, Binding{}, true},
		{"text/xml", []string{"a", "b"}, Binding{}, true},
		{"text/xml; charset=iso-8859-1", []string{`""`}, Binding{}, true},
		{`application/soap+xml; charset=utf-8; action="urn:b"`, nil, Binding{V12, "urn:b", true}, false},
		{"application/soap+xml", nil, Binding{V12, "", false}, false},
		{"application/soap+xml", []string{"urn:b"}, Binding{}, true},
		{"application/json", nil, Binding{}, true},
		{"", nil, Binding{}, true},
	}
	for _, tt := range tests {
		got, err := ReadBinding(tt.ct, tt.action)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q %q: err = %v", tt.ct, tt.action, err)
			continue
		}
		if err != nil && !errors.Is(err, ErrMediaType) {
			t.Errorf("%q: error does not wrap ErrMediaType", tt.ct)
		}
		if got != tt.want {
			t.Errorf("%q %q = %+v, want %+v", tt.ct, tt.action, got, tt.want)
		}
	}
}

func TestActionMatches(t *testing.T) {
	op := QName{"urn:example:accounts", "GetBalance"}
	for action, want := range map[string]bool{
		"":                                       true,
		"urn:example:accounts:GetBalance":        true,
		"http://example.com/accounts/GetBalance": true,
		"http://example.com/accounts#GetBalance": true,
		"GetBalance":                             true,
		"urn:example:accounts:Transfer":          false,
		"http://example.com/GetBalanceX":         false,
		"urn:example:accounts:":                  false,
	} {
		if got := ActionMatches(action, op); got != want {
			t.Errorf("ActionMatches(%q) = %v, want %v", action, got, want)
		}
	}
}

// Bytes writes what etree's WriteToBytes writes, before and after edits.
func TestBytesMatchesEtree(t *testing.T) {
	for _, msg := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><h:A xmlns:h="urn:h" v="1&amp;2">x &lt; y</h:A></soap:Header><soap:Body><b:Op xmlns:b="urn:b">text<b:c/></b:Op></soap:Body></soap:Envelope>`,
		`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` + strings.Repeat(`<x:e xmlns:x="urn:x" a="'q'">&#233;</x:e>`, 500) + `</env:Body></env:Envelope>`,
	} {
		env, err := Parse([]byte(msg), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			got, err := env.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			want, err := env.Doc.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d:\n got %s\nwant %s", round, got, want)
			}
			env.EnsureHeader().CreateElement("h:Added").CreateAttr("xmlns:h", "urn:added")
			env = env.Copy()
		}
	}
}
