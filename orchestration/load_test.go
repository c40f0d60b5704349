package orchestration

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/soap"
)

func TestLoadExample(t *testing.T) {
	c, err := Load("testdata/open-account.xml", exampleCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Name() != "open-account" || c.Deadline().String() != "5s" {
		t.Errorf("name %q deadline %v", c.Name(), c.Deadline())
	}
	if want := (soap.QName{Space: "urn:gatehouse:demo:bank", Local: "OpenAccount"}); c.Input() != want {
		t.Errorf("input %v", c.Input())
	}
	var sites []string
	for _, s := range c.Calls() {
		sites = append(sites, s.Step+" "+s.Service+" "+s.Operation.Local+map[bool]string{true: " (compensation)"}[s.Compensation])
	}
	want := "lookup customers GetCustomer|kyc kyc Check|create cics-accounts CreateAccount|create cics-accounts CloseAccount (compensation)|add-owner cics-accounts AddOwner|welcome customers SendWelcome"
	if got := strings.Join(sites, "|"); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
}

// exampleCatalog is what the gateway's configuration would say for the
// example.
type exampleCatalog struct{}

func (exampleCatalog) Service(name string) bool {
	return name == "customers" || name == "kyc" || name == "cics-accounts"
}

func (exampleCatalog) Operation(service string, o soap.QName) (bool, bool) {
	ops := map[string]map[string]bool{
		"customers":     {"GetCustomer": true, "SendWelcome": false},
		"kyc":           {"Check": true},
		"cics-accounts": {"CreateAccount": false, "CloseAccount": false, "AddOwner": false},
	}
	idem, ok := ops[service][o.Local]
	return idem, ok && strings.HasPrefix(o.Space, "urn:gatehouse:demo:")
}

// Each case lists the problems Load must report, as "line: text" fragments
// of the error, all of them (problems are collected, not the first only).
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"schema: unknown activity", def(`<sequence>
  <wait/>
</sequence>`), []string{"test.xml:7: wait: This element is not expected"}},
		{"schema: bad duration", strings.Replace(def(replyOK), `deadline="2s"`, `deadline="soon"`, 1),
			[]string{"test.xml:1: composite: attribute 'deadline'"}},
		{"not well-formed", def(`<sequence>`), []string{"test.xml:7: not well-formed XML"}},
		{"undeclared prefix in a template", def(`<reply><x:Resp/></reply>`),
			[]string{"test.xml:6: not well-formed XML: Namespace prefix x on Resp is not defined"}},
		{"doctype", "<?xml version=\"1.0\"?>\n<!DOCTYPE composite [<!ENTITY x \"y\">]>\n" + def(replyOK),
			[]string{"test.xml:2: DOCTYPE is not allowed"}},
		{"unknown service and operation, all reported", def(`<sequence>
  <invoke name="a" service="nope" operation="{urn:svc}A"><request><s:A/></request></invoke>
  <invoke name="b" service="svc" operation="{urn:svc}Nope"><request><s:Nope/></request></invoke>
  <invoke name="c" service="svc" operation="{urn:svc}A"><request><s:A/></request>
    <compensate service="other" operation="{urn:svc}Undo"><request><s:Undo/></request></compensate></invoke>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: invoke name="a": unknown service "nope"`,
			`test.xml:8: invoke name="b": service "svc" has no operation {urn:svc}Nope`,
			`test.xml:10: invoke name="c" compensate: service "other" has no operation {urn:svc}Undo`,
		}},
		{"xpath syntax error with line", def(`<sequence>
  <assign variable="x" select="$input/"/>
  <assign variable="y" select="count(1"/>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: assign select: XPath "$input/": invalid expression`,
			`test.xml:8: assign select: XPath "count(1": `,
		}},
		{"undeclared prefix in XPath", def(`<sequence>
  <assign variable="x" select="$input/q:Id"/>
  <reply><b:Resp><value-of select="$input/z:Name"/></b:Resp></reply>
</sequence>`), []string{
			`test.xml:7: assign select: XPath "$input/q:Id": undeclared namespace prefix "q"`,
			`test.xml:8: value-of select: XPath "$input/z:Name": undeclared namespace prefix "z"`,
		}},
		{"prefix bound two ways", def(`<sequence>
  <assign variable="x" select="$input/r:Id" xmlns:r="urn:other"/>
  ` + replyOK + `
</sequence>`), []string{`test.xml:7: assign select: XPath "$input/r:Id": prefix "r" is bound to "urn:resp" by the namespace element on line 2 but to "urn:other" by xmlns here`}},
		{"variables: unknown, before assignment, reserved, fault outside catch", def(`<sequence>
  <assign variable="a" select="$nothing"/>
  <assign variable="b" select="$later"/>
  <assign variable="later" select="1"/>
  <assign variable="input" select="1"/>
  <assign variable="c" select="$fault"/>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: XPath "$nothing": unknown variable $nothing (nothing assigns it)`,
			`test.xml:8: XPath "$later": variable $later may be read before it is assigned`,
			`test.xml:10: assign: variable: variable $input is reserved`,
			`test.xml:11: XPath "$fault": $fault is set only inside a catch`,
		}},
		{"choice: assigned in one branch only", def(`<sequence>
  <choice>
    <when test="$input/b:Id = 1"><assign variable="x" select="1"/></when>
  </choice>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`), []string{`test.xml:10: XPath "$x": variable $x may be read before it is assigned`}},
		{"scope: assigned in the body only", def(`<sequence>
  <scope>
    <assign variable="x" select="1"/>
    <catch/>
  </scope>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`), []string{`test.xml:11: XPath "$x": variable $x may be read before it is assigned`}},
		{"parallel: branches share a variable", def(`<sequence>
  <parallel>
    <assign variable="x" select="1"/>
    <assign variable="y" select="$x"/>
  </parallel>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:9: XPath "$x": variable $x may be read before it is assigned`,
			`test.xml:7: parallel (line 7): variable $x is assigned in one branch and used in another (line 8 and line 9)`,
		}},
		{"reply inside parallel", def(`<parallel>
  ` + replyOK + `
  <assign variable="x" select="1"/>
</parallel>`), []string{`test.xml:7: reply: reply inside a parallel or a foreach`}},
		{"no reply", def(`<sequence><assign variable="x" select="1"/></sequence>`),
			[]string{`test.xml:6: sequence: the composite can complete without a reply`}},
		{"retries need idempotence", def(`<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A" retries="2"><request><s:A/></request></invoke>
  <invoke name="b" service="svc" operation="{urn:svc}B" idempotent="true" retries="1"><request><s:B/></request></invoke>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: invoke name="a": retries need an idempotent operation`,
			`test.xml:8: invoke name="b": idempotent="true" but the catalog does not mark {urn:svc}B of service "svc" idempotent`,
			`test.xml:8: invoke name="b": retries need an idempotent operation`,
		}},
		{"request and reply elements", def(`<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:B/></request></invoke>
  <invoke name="b" service="svc" operation="{urn:svc}B"><request><s:B/><s:B/></request></invoke>
  <reply><b:Other/></reply>
</sequence>`), []string{
			`test.xml:7: request: the request element {urn:svc}B is not the operation {urn:svc}A`,
			`test.xml:8: request: the request must be exactly one literal element`,
			`test.xml:9: reply: the reply element {urn:bank}Other is not the output {urn:bank}Resp`,
		}},
		{"template instructions", def(`<sequence>
  <reply><b:Resp><sequence/><value-of/><copy-of select="1" extra="x"/></b:Resp></reply>
</sequence>`), []string{
			`test.xml:7: sequence: element in the orchestration namespace is not a template instruction`,
			`test.xml:7: value-of: select is required`,
			`test.xml:7: copy-of: unexpected attribute extra`,
		}},
		{"functions: document, extension, unknown", def(`<sequence>
  <assign variable="a" select="document('file:///etc/passwd')"/>
  <assign variable="b" select="exsl:node-set($input)" xmlns:exsl="http://exslt.org/common"/>
  <assign variable="c" select="evaluate('1')"/>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: assign select: XPath "document('file:///etc/passwd')": function document(): only the XPath 1.0 core functions are available`,
			`test.xml:8: assign select: XPath "exsl:node-set($input)": function exsl:node-set(): extension functions are not available`,
			`test.xml:9: assign select: XPath "evaluate('1')": function evaluate(): only the XPath 1.0 core functions are available`,
		}},
		{"names and durations", def(`<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A" timeout="3s"><request><s:A/></request></invoke>
  <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  ` + replyOK + `
</sequence>`), []string{
			`test.xml:7: invoke name="a": timeout 3s exceeds the composite's deadline 2s`,
			`test.xml:8: invoke: name "a" is already used on line 7`,
		}},
		{"foreach collect not assigned on every path", def(`<sequence>
  <foreach select="$input/b:Item" variable="it" max="3" collect="got">
    <choice><when test="$it = 1"><assign variable="got" select="$it"/></when></choice>
  </foreach>
  ` + replyOK + `
</sequence>`), []string{`test.xml:7: foreach (line 7): collect $got is not assigned on every path through the body`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadBytes("test.xml", []byte(tt.doc), testCatalog{})
			if err == nil {
				c.Close()
				t.Fatal("loaded")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("missing %q in\n%s", w, msg)
				}
			}
			if len(es) < len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(es), len(tt.want), msg)
			}
		})
	}
}

// Definitions that must load: the analysis must not refuse what is sound.
func TestLoadAccepts(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"choice: assigned on every branch", def(`<sequence>
  <choice>
    <when test="$input/b:Id = 1"><assign variable="x" select="1"/></when>
    <otherwise><assign variable="x" select="2"/></otherwise>
  </choice>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`)},
		{"choice: a faulting branch assigns nothing", def(`<sequence>
  <choice>
    <when test="$input/b:Id = 1"><assign variable="x" select="1"/></when>
    <otherwise><fault code="Sender" text="no"/></otherwise>
  </choice>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`)},
		{"scope: assigned in body and catch", def(`<sequence>
  <scope>
    <assign variable="x" select="1"/>
    <catch><assign variable="x" select="$fault/@code"/></catch>
  </scope>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`)},
		{"reply in a catch", def(`<scope>
  <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  ` + replyOK + `
  <catch><reply><b:Resp>sorry</b:Resp></reply></catch>
</scope>`)},
		{"parallel: results used after", def(`<sequence>
  <parallel>
    <invoke name="a" service="svc" operation="{urn:svc}A" result="ra"><request><s:A/></request></invoke>
    <invoke name="b" service="svc" operation="{urn:svc}B" result="rb"><request><s:B><value-of select="$input/b:Id"/></s:B></request></invoke>
  </parallel>
  <reply><b:Resp><copy-of select="$ra | $rb"/></b:Resp></reply>
</sequence>`)},
		{"operators, axes and literals", def(`<sequence>
  <assign variable="x" select="count($input/descendant-or-self::node()) div 2 mod 3 * 4 - -1"/>
  <assign variable="y" select="$input/child::b:Id[. > 1 and position() != last() or @b:x = 'document(1)']/@*"/>
  <assign variable="z" select="string-length(normalize-space(concat($x, &quot;a:b&quot;)))"/>
  <reply><b:Resp><value-of select="$y | $input/processing-instruction('x') | $input/text()"/></b:Resp></reply>
</sequence>`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustLoad(t, tt.doc)
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.xml")
	if err := os.WriteFile(path, []byte(def(`<sequence>
  <assign variable="x" select="$y"/>
  `+replyOK+`
</sequence>`)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, testCatalog{})
	if err == nil || !strings.Contains(err.Error(), path+":7: ") {
		t.Fatalf("error %v, want one at %s:7", err, path)
	}
	if _, err := Load(filepath.Join(dir, "missing.xml"), testCatalog{}); err == nil {
		t.Fatal("missing file loaded")
	}
	big := make([]byte, maxDefinitionBytes+1)
	if _, err := LoadBytes("big.xml", big, testCatalog{}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("large definition: %v", err)
	}
}

func TestCloseRefusesRuns(t *testing.T) {
	c, err := LoadBytes("test.xml", []byte(def(replyOK)), testCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	_, err = c.Run(t.Context(), []byte(inputReq), newInvoker(nil))
	if f := asFault(t, err); f.Code != soap.Receiver || !errors.Is(err, errClosed) {
		t.Fatalf("run after close: %v", err)
	}
}
