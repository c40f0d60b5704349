package orchestration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/libxml2/xpath"
)

// canary is an HTTP server that counts every request it gets and a file
// whose content must never show up anywhere.
type canary struct {
	hits   atomic.Int64
	url    string
	file   string
	secret string
}

func newCanary(t *testing.T) *canary {
	c := &canary{secret: "CANARY-SECRET-4f1b"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte("<x>" + c.secret + "</x>"))
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/"
	c.file = filepath.Join(t.TempDir(), "secret.xml")
	if err := os.WriteFile(c.file, []byte("<x>"+c.secret+"</x>"), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *canary) check(t *testing.T, outputs ...string) {
	t.Helper()
	if n := c.hits.Load(); n != 0 {
		t.Errorf("the canary server got %d requests", n)
	}
	for _, o := range outputs {
		if strings.Contains(o, c.secret) {
			t.Errorf("the canary's secret leaked into %q", o)
		}
	}
}

// document() is refused when a definition is loaded...
func TestDocumentFunctionRefusedAtLoad(t *testing.T) {
	can := newCanary(t)
	for _, target := range []string{"file://" + can.file, "file:///etc/passwd", can.url} {
		for _, expr := range []string{"document('" + target + "')", "document ( '" + target + "' )/x", "count(document('" + target + "'))"} {
			doc := def(`<sequence>
  <assign variable="x" select="` + expr + `"/>
  ` + replyOK + `
</sequence>`)
			c, err := LoadBytes("test.xml", []byte(doc), testCatalog{})
			if err == nil {
				c.Close()
				t.Fatalf("%s: loaded", expr)
			}
			if !strings.Contains(err.Error(), "test.xml:7: ") || !strings.Contains(err.Error(), "function document()") {
				t.Errorf("%s: %v", expr, err)
			}
			can.check(t, err.Error())
		}
	}
}

// ...and libxml2 itself cannot run it either: an XPath context has only
// the core library, so an expression that got past the loader fails when
// evaluated, and reads nothing.
func TestDocumentFunctionFailsInLibxml2(t *testing.T) {
	can := newCanary(t)
	c := mustLoad(t, def(replyOK))
	for _, target := range []string{"file://" + can.file, "file:///etc/passwd", can.url} {
		comp, err := xpath.NewExpression("document('" + target + "')")
		if err != nil {
			t.Fatal(err)
		}
		e := &expr{src: "document('" + target + "')"}
		e.setCompiled(comp)
		r := &run{c: c}
		_, doc, root, err := r.parsePayload([]byte(inputReq))
		if err != nil {
			t.Fatal(err)
		}
		r.input = doc
		f := newFrame(nil, true)
		f.vars[varInput] = value{nodes: []uintptr{root}}
		var got string
		err = r.eval(e, f, func(res result) error {
			got = res.string()
			return nil
		})
		r.free()
		e.free()
		if err == nil || !strings.Contains(err.Error(), "unregistered function") {
			t.Errorf("%s: evaluated to %q, error %v", target, got, err)
		}
		can.check(t, got)
	}
}

// Neither the input nor a response can bring a DTD, an external entity or
// an XInclude, and the libxml2 parser the engine uses would not fetch one
// even if it got such a document.
func TestNoExternalLoads(t *testing.T) {
	can := newCanary(t)
	c := mustLoad(t, def(`<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A" result="x"><request><s:A/></request></invoke>
  <reply><b:Resp><copy-of select="$x"/></b:Resp></reply>
</sequence>`))
	hostile := []string{
		`<!DOCTYPE b:Req [<!ENTITY e SYSTEM "` + can.url + `">]><b:Req xmlns:b="urn:bank">&e;</b:Req>`,
		`<!DOCTYPE b:Req SYSTEM "` + can.url + `"><b:Req xmlns:b="urn:bank"/>`,
		`<!DOCTYPE b:Req [<!ENTITY e SYSTEM "file://` + can.file + `">]><b:Req xmlns:b="urn:bank">&e;</b:Req>`,
		`<b:Req xmlns:b="urn:bank"><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="` + can.url + `"/></b:Req>`,
		`<?xml-stylesheet href="` + can.url + `"?><b:Req xmlns:b="urn:bank"/>`,
		`<b:Req xmlns:b="urn:bank" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:bank ` + can.url + `"/>`,
	}
	for _, h := range hostile {
		out, err := c.Run(t.Context(), []byte(h), newInvoker(nil))
		if err == nil {
			t.Errorf("input %s accepted: %s", h, out)
		}
		can.check(t, string(out))

		// The same as a response.
		resp := strings.ReplaceAll(strings.ReplaceAll(h, "b:Req", "r:Resp"), `xmlns:b="urn:bank"`, `xmlns:r="urn:resp"`)
		out, err = c.Run(t.Context(), []byte(inputReq), newInvoker(map[string]behaviour{"a": {resp: resp}}))
		if err == nil {
			t.Errorf("response %s accepted: %s", resp, out)
		}
		can.check(t, string(out))
	}

	// The libxml2 parser on its own, without soap.Parse in front.
	for _, h := range hostile[:3] {
		doc, err := xmlParser.Parse([]byte(h))
		if err == nil {
			s := doc.String()
			doc.Free()
			can.check(t, s)
		}
		can.check(t)
	}
}
