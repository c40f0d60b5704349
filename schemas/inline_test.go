package schemas

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Inline schemas (a WSDL's types) import each other by namespace alone,
// include files beside their document, and report problems at the
// document's own lines.
func TestCompileSchemasInline(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"common.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:b" elementFormDefault="qualified">
  <xs:simpleType name="Code"><xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction></xs:simpleType>
</xs:schema>`,
	})
	wsdl := filepath.Join(dir, "svc.wsdl")
	a := InlineSchema{File: wsdl, Index: 1, Data: []byte("\n\n\n" + `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:b="urn:b" targetNamespace="urn:a" elementFormDefault="qualified">
  <xs:import namespace="urn:b"/>
  <xs:element name="Get"><xs:complexType><xs:sequence><xs:element name="code" type="b:Code"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>`)}
	b := InlineSchema{File: wsdl, Index: 2, Data: []byte("\n\n\n\n\n\n\n" + `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:b" elementFormDefault="qualified">
  <xs:include schemaLocation="common.xsd"/>
</xs:schema>`)}
	set, err := CompileSchemas(nil, []InlineSchema{a, b}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate([]byte(`<Get xmlns="urn:a"><code>ABC</code></Get>`)); err != nil {
		t.Errorf("valid document refused: %v", err)
	}
	if err := set.Validate([]byte(`<Get xmlns="urn:a"><code>abcd</code></Get>`)); err == nil {
		t.Error("a code that breaks the included type was accepted")
	}

	// A problem in the second inline schema is reported at the WSDL's line.
	bad := InlineSchema{File: wsdl, Index: 2, Data: []byte("\n\n\n\n\n\n\n" + `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:b">
  <xs:include schemaLocation="common.xsd"/>
  <xs:element name="x" type="b:Nowhere"/>
</xs:schema>`)}
	_, err = CompileSchemas(nil, []InlineSchema{a, bad}, CompileOptions{})
	var ce *CompileError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		t.Fatalf("want a compile error, got %v", err)
	}
	if p := ce.Problems[0]; p.File != wsdl || p.Line != 10 {
		t.Errorf("problem at %s:%d (%s), want %s:10", p.File, p.Line, p.Message, wsdl)
	}

	// A remote location in an inline schema is refused with its line.
	remote := InlineSchema{File: wsdl, Index: 1, Data: []byte("\n" + `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
  <xs:import namespace="urn:c" schemaLocation="http://example.com/c.xsd"/>
</xs:schema>`)}
	_, err = CompileSchemas(nil, []InlineSchema{remote}, CompileOptions{})
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "never fetched") || ce.Problems[0].File != wsdl || ce.Problems[0].Line != 3 {
		t.Errorf("remote import: %v", err)
	}
}
