package schemas

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const (
	soap11NS  = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS  = "http://www.w3.org/2003/05/soap-envelope"
	ordersNS  = "urn:example:orders"
	typesNS   = "urn:example:orders:types"
	wsseNS    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	wsuNS     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	samlNS    = "urn:oasis:names:tc:SAML:2.0:assertion"
	xsdHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
)

// envelope wraps header and body content in a SOAP envelope of namespace ns.
// The body content starts on line 4 when header is empty.
func envelope(ns, header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + ns + `" xmlns:o="` + ordersNS + `" xmlns:t="` + typesNS + `">` + "\n" +
		`<soap:Header>` + header + `</soap:Header>` + "\n" +
		`<soap:Body>` + "\n" + body + "\n" + `</soap:Body>` + "\n" +
		`</soap:Envelope>` + "\n"
}

// placeOrder is a valid PlaceOrder payload with n items.
func placeOrder(orderID string, n int) string {
	var b strings.Builder
	b.WriteString("<o:PlaceOrder>\n<o:OrderId>" + orderID + "</o:OrderId>\n<o:Customer>ACME Corp</o:Customer>\n")
	for range n {
		b.WriteString("<o:Item><t:Sku>SKU-12345</t:Sku><t:Quantity>3</t:Quantity></o:Item>\n")
	}
	b.WriteString("</o:PlaceOrder>")
	return b.String()
}

func mustEmbedded(t testing.TB, name string) *Set {
	t.Helper()
	s, err := CompileEmbedded(name)
	if err != nil {
		t.Fatalf("CompileEmbedded(%s): %v", name, err)
	}
	t.Cleanup(s.Close)
	return s
}

func ordersSet(t testing.TB) *Set {
	t.Helper()
	abs, err := filepath.Abs("testdata/orders.xsd")
	if err != nil {
		t.Fatal(err)
	}
	s, err := CompileFiles([]string{abs}, CompileOptions{})
	if err != nil {
		t.Fatalf("CompileFiles(orders.xsd): %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// writeFiles writes name → content into dir and returns dir.
func writeFiles(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
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

// canary is an HTTP server that counts every request it gets.
type canary struct {
	*httptest.Server
	hits atomic.Int64
}

func newCanary(t testing.TB) *canary {
	c := &canary{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.Write([]byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>`))
	}))
	t.Cleanup(func() {
		c.Close()
		if n := c.hits.Load(); n != 0 {
			t.Errorf("canary server got %d requests, want none", n)
		}
	})
	return c
}

func asValidation(t testing.TB, err error) *ValidationError {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %v, want *ValidationError", err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("ValidationError without problems")
	}
	return ve
}

func asParse(t testing.TB, err error) *ParseError {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %T %v, want *ParseError", err, err)
	}
	return pe
}

func asCompile(t testing.TB, err error) *CompileError {
	t.Helper()
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want *CompileError", err, err)
	}
	if len(ce.Problems) == 0 {
		t.Fatalf("CompileError without problems")
	}
	return ce
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
