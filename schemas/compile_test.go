package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// xsd writes a schema of namespace tns (none if ""): refs start on line 3,
// decls follow them.
func xsd(tns, refs, decls string) string {
	ns := ""
	if tns != "" {
		ns = ` targetNamespace="` + tns + `" xmlns:tns="` + tns + `"`
	}
	return xsdHeader +
		`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"` + ns + ` elementFormDefault="qualified">` + "\n" +
		refs + "\n" + decls + "\n</xs:schema>\n"
}

func TestCompileFilesSiblingImport(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"a.xsd": xsd("urn:a",
			`<xs:import namespace="urn:b" schemaLocation="b.xsd"/>`,
			`<xs:element name="A" xmlns:b="urn:b"><xs:complexType><xs:sequence><xs:element ref="b:B"/></xs:sequence></xs:complexType></xs:element>`),
		"b.xsd": xsd("urn:b", "", `<xs:element name="B" type="xs:int"/>`),
	})
	s, err := CompileFiles([]string{filepath.Join(dir, "a.xsd")}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Validate([]byte(`<A xmlns="urn:a"><B xmlns="urn:b">7</B></A>`)); err != nil {
		t.Errorf("valid: %v", err)
	}
	ve := asValidation(t, s.Validate([]byte("<A xmlns=\"urn:a\">\n<B xmlns=\"urn:b\">seven</B></A>")))
	if p := ve.Problems[0]; p.Line != 2 || p.Element != "{urn:b}B" {
		t.Errorf("problem %+v, want line 2 on {urn:b}B", p)
	}
}

func TestCompileFilesSubdirectoryAndIncludes(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"main.xsd":         xsd("urn:m", `<xs:include schemaLocation="common/part.xsd"/>`, `<xs:element name="M" type="tns:Part"/>`),
		"common/part.xsd":  xsd("urn:m", `<xs:include schemaLocation="more.xsd"/>`, `<xs:complexType name="Part"><xs:sequence><xs:element ref="tns:More"/></xs:sequence></xs:complexType>`),
		"common/more.xsd":  xsd("urn:m", "", `<xs:element name="More" type="xs:boolean"/>`),
		"unused/other.xsd": xsd("urn:o", "", ""),
	})
	s, err := CompileFiles([]string{filepath.Join(dir, "main.xsd")}, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Validate([]byte(`<M xmlns="urn:m"><More>true</More></M>`)); err != nil {
		t.Errorf("valid: %v", err)
	}
	asValidation(t, s.Validate([]byte(`<M xmlns="urn:m"><More>yes</More></M>`)))
}

func TestCompileFilesRefusals(t *testing.T) {
	canary := newCanary(t)
	root := t.TempDir()
	other := writeFiles(t, filepath.Join(root, "other"), map[string]string{"b.xsd": xsd("urn:b", "", `<xs:element name="B"/>`)})
	dir := filepath.Join(root, "conf")
	remote := canary.URL + "/x.xsd"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "b.xsd"), filepath.Join(dir, "link.xsd")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ref      string // on line 3 of conf/a.xsd
		location string // the refused location
		reason   string
		opts     CompileOptions
	}{
		{"outside the allowed dirs", `<xs:import namespace="urn:b" schemaLocation="../other/b.xsd"/>`, "../other/b.xsd", "outside the allowed directories", CompileOptions{}},
		{"absolute path outside", `<xs:include schemaLocation="/etc/hostname"/>`, "/etc/hostname", "outside the allowed directories", CompileOptions{}},
		{"file URL outside", `<xs:include schemaLocation="file:///etc/hostname"/>`, "file:///etc/hostname", "outside the allowed directories", CompileOptions{}},
		{"symlink leading outside", `<xs:import namespace="urn:b" schemaLocation="link.xsd"/>`, "link.xsd", "outside the allowed directories", CompileOptions{}},
		{"http import", `<xs:import namespace="urn:x" schemaLocation="` + remote + `"/>`, remote, "never fetched", CompileOptions{}},
		{"https include", `<xs:include schemaLocation="https://127.0.0.1:1/x.xsd"/>`, "https://127.0.0.1:1/x.xsd", "never fetched", CompileOptions{}},
		{"http redefine", `<xs:redefine schemaLocation="` + remote + `"/>`, remote, "never fetched", CompileOptions{}},
		{"ftp import", `<xs:import namespace="urn:x" schemaLocation="ftp://127.0.0.1/x.xsd"/>`, "ftp://127.0.0.1/x.xsd", "never fetched", CompileOptions{}},
		{"missing file", `<xs:import namespace="urn:b" schemaLocation="missing.xsd"/>`, "missing.xsd", "no such file", CompileOptions{}},
		{"unknown embedded", `<xs:import namespace="urn:b" schemaLocation="embedded:/nope.xsd"/>`, "embedded:/nope.xsd", "no such embedded schema", CompileOptions{}},
		{"data URL", `<xs:import namespace="urn:b" schemaLocation="data:,x"/>`, "data:,x", "not allowed", CompileOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFiles(t, dir, map[string]string{"a.xsd": xsd("urn:a", tt.ref, `<xs:element name="A"/>`)})
			a := filepath.Join(dir, "a.xsd")
			_, err := CompileFiles([]string{a}, tt.opts)
			ce := asCompile(t, err)
			if len(ce.Problems) != 1 {
				t.Errorf("%d problems, want 1: %v", len(ce.Problems), ce.Problems)
			}
			p := ce.Problems[0]
			if p.File != a || p.Line != 3 || p.Location != tt.location || !strings.Contains(p.Message, tt.reason) {
				t.Errorf("problem %+v, want %s:3 refusing %q (%s)", p, a, tt.location, tt.reason)
			}
			for _, want := range []string{a + ":3", tt.location} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}

	// The same import is fine once the directory is allowed.
	writeFiles(t, dir, map[string]string{"a.xsd": xsd("urn:a", `<xs:import namespace="urn:b" schemaLocation="../other/b.xsd"/>`, "")})
	s, err := CompileFiles([]string{filepath.Join(dir, "a.xsd")}, CompileOptions{AllowedDirs: []string{other}})
	if err != nil {
		t.Fatalf("with AllowedDirs: %v", err)
	}
	s.Close()
}

// A refusal deep in the import graph names the file that holds it.
func TestCompileFilesNestedRemoteImport(t *testing.T) {
	canary := newCanary(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"a.xsd": xsd("urn:a", `<xs:import namespace="urn:b" schemaLocation="b.xsd"/>`, ""),
		"b.xsd": xsd("urn:b", "<!-- line 3 -->\n"+`<xs:import namespace="urn:c" schemaLocation="`+canary.URL+`/c.xsd"/>`, ""),
	})
	_, err := CompileFiles([]string{filepath.Join(dir, "a.xsd")}, CompileOptions{})
	p := asCompile(t, err).Problems[0]
	if p.File != filepath.Join(dir, "b.xsd") || p.Line != 4 || p.Location != canary.URL+"/c.xsd" {
		t.Errorf("problem %+v, want b.xsd:4 refusing the canary", p)
	}
}

func TestCompileFilesBadInput(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"doctype.xsd": "<?xml version=\"1.0\"?>\n<!DOCTYPE xs:schema [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n" +
			`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="A" type="xs:string" default="&e;"/></xs:schema>`,
		"imports-doctype.xsd": xsd("urn:a", `<xs:import namespace="urn:d" schemaLocation="doctype.xsd"/>`, ""),
		"not-schema.xsd":      `<a/>`,
		"broken.xsd":          `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">`,
		"utf16.xsd":           "\xff\xfe<\x00a\x00/\x00>\x00",
		"latin1.xsd":          `<?xml version="1.0" encoding="ISO-8859-1"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>`,
		"bad-type.xsd":        xsd("urn:a", "", `<xs:element name="A" type="tns:Missing"/>`),
	})
	tests := []struct{ file, want string }{
		{"doctype.xsd", "DOCTYPE"},
		{"imports-doctype.xsd", "DOCTYPE"},
		{"not-schema.xsd", "not a schema document"},
		{"broken.xsd", "not well-formed"},
		{"utf16.xsd", "not well-formed"},
		{"latin1.xsd", "must be UTF-8"},
		{"bad-type.xsd", "Missing"},
		{"absent.xsd", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := CompileFiles([]string{filepath.Join(dir, tt.file)}, CompileOptions{})
			asCompile(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "root:") {
				t.Errorf("error %q shows /etc/passwd", err)
			}
		})
	}
	if _, err := CompileFiles([]string{"testdata/orders.xsd"}, CompileOptions{}); err == nil {
		t.Error("relative path accepted")
	}
	if _, err := CompileFiles(nil, CompileOptions{}); err == nil {
		t.Error("no files accepted")
	}
	if _, err := CompileFiles([]string{filepath.Join(dir, "bad-type.xsd")}, CompileOptions{AllowedDirs: []string{"relative"}}); err == nil {
		t.Error("relative allowed dir accepted")
	}
}

// Imports of standard namespaces resolve to the embedded copies, by
// published URL or, with no schemaLocation, by namespace.
func TestCompileFilesCatalog(t *testing.T) {
	for name, ref := range map[string]string{
		"by namespace": `<xs:import namespace="` + wsseNS + `"/>`,
		"by URL":       `<xs:import namespace="` + wsseNS + `" schemaLocation="` + wsseNS + `"/>`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, t.TempDir(), map[string]string{
				"a.xsd": xsd("urn:a", ref, `<xs:element name="Login" xmlns:wsse="`+wsseNS+`"><xs:complexType><xs:sequence><xs:element ref="wsse:UsernameToken"/></xs:sequence></xs:complexType></xs:element>`),
			})
			s, err := CompileFiles([]string{filepath.Join(dir, "a.xsd")}, CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			doc := `<Login xmlns="urn:a"><wsse:UsernameToken xmlns:wsse="` + wsseNS + `"><wsse:Username>u</wsse:Username></wsse:UsernameToken></Login>`
			if err := s.Validate([]byte(doc)); err != nil {
				t.Errorf("valid: %v", err)
			}
			asValidation(t, s.Validate([]byte(strings.Replace(doc, "<wsse:Username>u</wsse:Username>", "", 1))))
		})
	}
}

// Several files: two of one namespace, one of another, one without.
func TestCompileFilesSeveral(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"x1.xsd":   xsd("urn:x", "", `<xs:element name="X1" type="xs:int"/>`),
		"x2.xsd":   xsd("urn:x", "", `<xs:element name="X2" type="xs:int"/>`),
		"y.xsd":    xsd("urn:y", `<xs:import namespace="urn:x" schemaLocation="x1.xsd"/>`, `<xs:element name="Y" type="xs:int"/>`),
		"none.xsd": xsd("", "", `<xs:element name="N" type="xs:int"/>`),
	})
	var files []string
	for _, f := range []string{"y.xsd", "x1.xsd", "none.xsd", "x2.xsd"} {
		files = append(files, filepath.Join(dir, f))
	}
	s, err := CompileFiles(files, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(s.Name(), "x2.xsd") {
		t.Errorf("Name() = %q", s.Name())
	}
	for _, doc := range []string{`<X1 xmlns="urn:x">1</X1>`, `<X2 xmlns="urn:x">2</X2>`, `<Y xmlns="urn:y">3</Y>`, `<N>4</N>`} {
		if err := s.Validate([]byte(doc)); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
		asValidation(t, s.Validate([]byte(strings.Replace(doc, ">", ">z", 1))))
	}
}
