package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/schemas"
)

// redactSchema has one element per facet and kind of libxml2 message that
// quotes a value.
const redactSchema = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:t="urn:t" elementFormDefault="qualified">
  <xs:element name="r"><xs:complexType><xs:sequence>
    <xs:element name="maxLen" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string"><xs:maxLength value="8"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="minLen" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string"><xs:minLength value="80"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="pat" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="[0-9]{4}"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="enum" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="red"/><xs:enumeration value="blue"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="int" type="xs:int" minOccurs="0"/>
    <xs:element name="maxInc" minOccurs="0"><xs:simpleType><xs:restriction base="xs:int"><xs:maxInclusive value="10"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="minExc" minOccurs="0"><xs:simpleType><xs:restriction base="xs:int"><xs:minExclusive value="10"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="digits" minOccurs="0"><xs:simpleType><xs:restriction base="xs:decimal"><xs:totalDigits value="3"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="fraction" minOccurs="0"><xs:simpleType><xs:restriction base="xs:decimal"><xs:fractionDigits value="1"/></xs:restriction></xs:simpleType></xs:element>
    <xs:element name="fixed" type="xs:string" fixed="ok" minOccurs="0"/>
    <xs:element name="list" minOccurs="0"><xs:simpleType><xs:list itemType="xs:int"/></xs:simpleType></xs:element>
    <xs:element name="union" minOccurs="0"><xs:simpleType><xs:union memberTypes="xs:int xs:boolean"/></xs:simpleType></xs:element>
    <xs:element name="qname" type="xs:QName" minOccurs="0"/>
    <xs:element name="withAttr" minOccurs="0"><xs:complexType><xs:attribute name="n" type="xs:int"/></xs:complexType></xs:element>
    <xs:element name="ref" minOccurs="0"><xs:complexType><xs:attribute name="to" type="xs:string"/></xs:complexType></xs:element>
    <xs:element name="item" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:attribute name="id" type="xs:string"/></xs:complexType></xs:element>
  </xs:sequence></xs:complexType>
  <xs:key name="k"><xs:selector xpath="t:item"/><xs:field xpath="@id"/></xs:key>
  <xs:keyref name="kr" refer="t:k"><xs:selector xpath="t:ref"/><xs:field xpath="@to"/></xs:keyref>
  </xs:element>
</xs:schema>`

// TestRedactValues validates payloads through libxml2 against a schema with
// each facet, so the messages are libxml2's own, and checks that the
// redacted error keeps line, element and the schema's text, and no value.
func TestRedactValues(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.xsd")
	if err := os.WriteFile(path, []byte(redactSchema), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := schemas.CompileFiles([]string{path}, schemas.CompileOptions{AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)

	tests := []struct {
		name    string
		payload string   // on line 3 of the document
		secrets []string // in the payload; none may survive
		element string   // the element the redacted error still names
		keep    []string // schema text the redacted error still says
		quoted  bool     // libxml2's message quotes the secret (else: the test's premise is wrong)
	}{
		{"maxLength", `<maxLen>S3CRET-max</maxLen>`, []string{"S3CRET"}, "maxLen", []string{"maxLength", "'8'"}, false},
		{"minLength", `<minLen>S3CRET-min</minLen>`, []string{"S3CRET"}, "minLen", []string{"minLength", "'80'"}, false},
		{"pattern", `<pat>S3CRET-pat</pat>`, []string{"S3CRET"}, "pat", []string{"[facet 'pattern']", "'[0-9]{4}'"}, true},
		{"pattern with the template's words", `<pat>S3C'RET' is not accepted by the pattern 'x</pat>`, []string{"S3C", "RET", "pattern 'x"}, "pat", []string{"'[0-9]{4}'"}, true},
		{"enumeration", `<enum>S3CRET-enum</enum>`, []string{"S3CRET"}, "enum", []string{"[facet 'enumeration']", "{'red', 'blue'}"}, true},
		{"enumeration with quotes", `<enum>S3C', 'RET'}</enum>`, []string{"S3C", "RET"}, "enum", []string{"{'red', 'blue'}"}, true},
		{"atomic type", `<int>S3CRET-int</int>`, []string{"S3CRET"}, "int", []string{"'xs:int'"}, true},
		{"maxInclusive", `<maxInc>987654</maxInc>`, []string{"987654"}, "maxInc", []string{"maxInclusive", "'10'"}, true},
		{"minExclusive", `<minExc>-7777</minExc>`, []string{"7777"}, "minExc", []string{"minExclusive", "'10'"}, true},
		{"totalDigits", `<digits>98765</digits>`, []string{"98765"}, "digits", []string{"totalDigits", "'3'"}, true},
		{"fractionDigits", `<fraction>1.98765</fraction>`, []string{"98765"}, "fraction", []string{"fractionDigits", "'1'"}, true},
		{"fixed", `<fixed>S3CRET-fixed</fixed>`, []string{"S3CRET"}, "fixed", []string{"'ok'"}, true},
		{"list", `<list>1 S3CRET-list</list>`, []string{"S3CRET"}, "list", nil, true},
		{"union", `<union>S3CRET-union</union>`, []string{"S3CRET"}, "union", nil, true},
		{"QName", `<qname>S3CRET:x</qname>`, []string{"S3CRET"}, "qname", nil, true},
		{"attribute", `<withAttr n="S3CRET-attr"/>`, []string{"S3CRET"}, "withAttr", []string{"attribute 'n'", "'xs:int'"}, true},
		{"duplicate key", `<item id="S3CRET-key"/><item id="S3CRET-key"/>`, []string{"S3CRET"}, "item", []string{"identity-constraint"}, true},
		{"keyref", `<ref to="S3CRET-ref"/><item id="x"/>`, []string{"S3CRET"}, "ref", []string{"keyref"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "<r xmlns=\"urn:t\">\n\n" + tt.payload + "\n</r>"
			verr := set.Validate([]byte(doc))
			var ve *schemas.ValidationError
			if !errors.As(verr, &ve) {
				t.Fatalf("Validate = %v, want a validation error", verr)
			}
			if raw := allText(verr); tt.quoted != strings.Contains(raw, tt.secrets[0]) {
				t.Fatalf("libxml2's message quotes the value: %v, want %v: %s", !tt.quoted, tt.quoted, raw)
			}
			red := redactValues(verr)
			got := allText(red)
			t.Logf("%s\n  → %s", allText(verr), got)
			for _, s := range tt.secrets {
				if strings.Contains(got, s) {
					t.Errorf("redacted error still holds %q: %s", s, got)
				}
			}
			var rve *schemas.ValidationError
			if !errors.As(red, &rve) || len(rve.Problems) != len(ve.Problems) {
				t.Fatalf("redacted error %T lost its problems", red)
			}
			if !strings.Contains(red.Error(), "line 3: ") || !strings.Contains(red.Error(), "{urn:t}"+tt.element) {
				t.Errorf("redacted error lost the line or the element: %s", red)
			}
			for _, k := range tt.keep {
				if !strings.Contains(got, k) {
					t.Errorf("redacted error lost the schema's %q: %s", k, got)
				}
			}
		})
	}
}

// allText is the error and every problem message it carries.
func allText(err error) string {
	var b strings.Builder
	b.WriteString(err.Error())
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			b.WriteString(" | " + p.Element + ": " + p.Message)
		}
	}
	return b.String()
}

// TestRedactMessage: the form other libxml2 versions give a length facet
// loses its value too; a message of no known template that quotes anything
// is withheld, its element and facet kept; messages that quote only names
// stay as they are.
func TestRedactMessage(t *testing.T) {
	for msg, want := range map[string]string{
		"[facet 'maxLength'] The value 'S3CRET' has a length of '6'; this exceeds the allowed maximum length of '4'.": "[facet 'maxLength'] The value '<value withheld>' has a length of '6'; this exceeds the allowed maximum length of '4'.",
		"[facet 'whatever'] Something about 'S3CRET' went wrong.":                                                     "[facet 'whatever'] message withheld: it may quote a value",
		"Element '{urn:t}x': The value 'S3CRET' is too long to be cut...":                                             "Element '{urn:t}x': message withheld: it may quote a value",
		"attribute 'm': The attribute 'm' is not allowed.":                                                            "attribute 'm': The attribute 'm' is not allowed.",
		"This element is not expected. Expected is ( {urn:t}y ).":                                                     "This element is not expected. Expected is ( {urn:t}y ).",
		"Character content other than whitespace is not allowed because the content type is 'element-only'.":          "Character content other than whitespace is not allowed because the content type is 'element-only'.",
	} {
		if got := redactMessage(msg); got != want {
			t.Errorf("redactMessage(%q)\n = %q\nwant %q", msg, got, want)
		}
	}
	// Errors that are not libxml2's stay as they are.
	plain := errors.New("schemas: set closed")
	if redactValues(plain) != plain {
		t.Error("a plain error was rewritten")
	}
	pe := redactValues(&schemas.ParseError{Line: 4, Message: "Entity 'S3CRET' not defined"})
	if strings.Contains(pe.Error(), "S3CRET") || !strings.Contains(pe.Error(), "line 4") {
		t.Errorf("parse error redacted to %q", pe)
	}
}
