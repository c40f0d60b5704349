package schemas

import (
	"os"
	"path/filepath"
	"testing"
)

// A namespace imported from two locations, each defining part of it: both
// are read (libxml2 alone reads only the first and skips the second), as
// in vendor WSDLs that import one namespace from several files.
func TestImportOneNamespaceFromSeveralLocations(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"main.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:v="urn:test:v" targetNamespace="urn:test:main" elementFormDefault="qualified">
  <xs:import namespace="urn:test:v" schemaLocation="v-first.xsd"/>
  <xs:import namespace="urn:test:v" schemaLocation="sub/v-second.xsd"/>
  <xs:element name="Order"><xs:complexType><xs:sequence>
    <xs:element name="id" type="v:Id"/><xs:element name="state" type="v:State"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`,
		"v-first.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:v">
  <xs:simpleType name="Id"><xs:restriction base="xs:string"><xs:pattern value="[0-9]{4}"/></xs:restriction></xs:simpleType>
</xs:schema>`,
		// The second location is also imported by the first's sibling below.
		"sub/v-second.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:v">
  <xs:simpleType name="State"><xs:restriction base="xs:string"><xs:enumeration value="open"/><xs:enumeration value="closed"/></xs:restriction></xs:simpleType>
</xs:schema>`,
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := CompileFiles([]string{filepath.Join(dir, "main.xsd")}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate([]byte(`<Order xmlns="urn:test:main"><id>0042</id><state>open</state></Order>`)); err != nil {
		t.Errorf("a valid document refused: %v", err)
	}
	for _, doc := range []string{
		`<Order xmlns="urn:test:main"><id>42</id><state>open</state></Order>`,   // the first location's type
		`<Order xmlns="urn:test:main"><id>0042</id><state>ajar</state></Order>`, // the second location's type
	} {
		if err := set.Validate([]byte(doc)); err == nil {
			t.Errorf("an invalid document accepted: %s", doc)
		}
	}
}
