package soap

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// fastCorpus holds envelopes in and out of the fast tokenizer's subset.
var fastCorpus = []string{
	`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + wrap(`<p:Op xmlns:p="urn:p" a='1' b = "2"><p:V>x &lt; y &amp;&amp; z &gt; w &quot;q&quot; &apos;a&apos;</p:V></p:Op>`),
	wrap(`<p:Op xmlns:p="urn:p"><p:V>&#65;&#x42;&#x1F600;&#9;&#10;</p:V><p:E/><p:F   /></p:Op>`),
	wrap(`<Op xmlns="urn:d" xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" w:Id="b1">Grüße, 東京 ✓</Op>`),
	wrap(`<p:Op xmlns:p="urn:p" p:x="v&#x9;&#xA;tab"><p:a.b-c_d/><p:_x/></p:Op>`),
	wrap("<x a=\"1\"\n\tb=\"2\">line\nbreak\ttab</x>"),
	wrap(`<x a="1"b="2"/>`), wrap(`<x a='it"s'b="2">t</x>`), wrap(`<x é="1"b="2"/>`), wrap(`<x a="1"/><y b="2">`),
	wrap(`<x>]]&gt; ]] > ] ]></x>`),
	wrap(`<x>a]]>b</x>`),
	wrap(`<x>&#13;&#xD;</x>`),
	wrap("<x>a\r\nb\rc</x>"),
	wrap(`<x>&#xD800;&#0;&#x110000;&#99999999999;&#x;&#;&#X41;&unknown;& amp;&amp</x>`),
	wrap(`<x a="<"/>`),
	wrap(`<x a="1" a="2"/>`),
	wrap(`<x a=1/>`),
	wrap(`<x a/>`),
	wrap(`<:x/>`), wrap(`<x:/>`), wrap(`<a:b:c xmlns:a="urn:a"/>`), wrap(`<1x/>`), wrap(`<-x/>`), wrap(`<x:1 xmlns:x="urn:x"/>`),
	wrap(`<é/>`), wrap(`<x é="1"/>`),
	wrap(`<x><!-- comment --></x>`), wrap(`<x><![CDATA[<a>]]></x>`),
	`<!DOCTYPE x>` + wrap(`<x/>`),
	wrap(`<?pi data?><x/>`),
	` <?xml version="1.0"?>` + wrap(`<x/>`),
	`<?xml version="1.1"?>` + wrap(`<x/>`),
	`<?xml version="1.0" encoding="ISO-8859-1"?>` + wrap(`<x/>`),
	`<?xml version="1.0"?><?xml version="1.0"?>` + wrap(`<x/>`),
	`<?xmlx?>` + wrap(`<x/>`),
	wrap(`<x>`), wrap(`</x>`), wrap(`<x></y>`), wrap(`<x></x >`), wrap(`<x></ x>`), wrap(`<x`), wrap(`<x a="1`), wrap(`<`),
	wrap(`<x>` + "\x01" + `</x>`), wrap("<x>\uFFFE</x>"), wrap("<x>\uFFFF</x>"), wrap("<x>\U0001FFFE</x>"),
	wrap(`<x ID="a"/><y ID="a"/>`),
	env11, env12,
	`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Header/></s:Envelope>`,
	`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>trailing`,
	`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>  ` + "\n",
	`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope><s:Envelope/>`,
}

// describe renders a parse result for comparison: the error text, or
// the serialized tree with the ID index and the envelope's parts.
func describe(env *Envelope, err error) string {
	if err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			return "not a fault: " + err.Error()
		}
		return fmt.Sprintf("fault %s %q %d: %v", f.Code, f.Public, f.Status, f.Err)
	}
	var b strings.Builder
	out, werr := env.Doc.WriteToString()
	fmt.Fprintf(&b, "%v %q %v\n", env.Version, out, werr)
	fmt.Fprintf(&b, "header %v body %v root %s\n", env.Header != nil, env.Body.Tag, env.Root.FullTag())
	var walk func(el *etree.Element)
	walk = func(el *etree.Element) {
		for _, a := range el.Attr {
			if env.ids[a.Value] == el {
				fmt.Fprintf(&b, "id %q on %s\n", a.Value, el.GetPath())
			}
		}
		for _, t := range el.Child {
			switch t := t.(type) {
			case *etree.Element:
				walk(t)
			case *etree.CharData:
				fmt.Fprintf(&b, "text %q cdata=%v\n", t.Data, t.IsCData())
			case *etree.Comment:
				fmt.Fprintf(&b, "comment %q\n", t.Data)
			}
		}
	}
	walk(env.Root)
	fmt.Fprintf(&b, "%d ids", len(env.ids))
	return b.String()
}

func parseBoth(data []byte, lim Limits) (fast, slow string) {
	data, err := checkEncoding(data)
	if err != nil {
		return "", ""
	}
	fe, ferr := parseTree(data, lim, true)
	se, serr := parseTree(data, lim, false)
	return describe(fe, ferr), describe(se, serr)
}

func TestFastParseDifferential(t *testing.T) {
	lim := DefaultLimits()
	small := lim
	small.MaxAttributes, small.MaxDepth, small.MaxTextBytes, small.MaxNameLength = 2, 3, 8, 6
	fastOnes := 0
	for _, s := range fastCorpus {
		for _, l := range []Limits{lim, small} {
			fast, slow := parseBoth([]byte(s), l)
			if fast != slow {
				t.Errorf("%q:\n fast %s\n slow %s", s, fast, slow)
			}
		}
		p := newParser(lim)
		if done, _ := p.parseFast([]byte(s)); done {
			fastOnes++
		}
	}
	// The fast path must really be taken by the plain envelopes.
	if fastOnes < 20 {
		t.Errorf("only %d of %d corpus documents took the fast path", fastOnes, len(fastCorpus))
	}
}

// A signed message as WS-Security stacks send it stays on the fast path.
func TestFastParseTakesSignedMessages(t *testing.T) {
	msg := `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" soapenv:mustUnderstand="1">` +
		`<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsu:Timestamp>` +
		`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#TS-1"><ds:DigestValue>q+/=</ds:DigestValue></ds:Reference></ds:SignedInfo></ds:Signature>` +
		`</wsse:Security></soapenv:Header><soapenv:Body wsu:Id="B-1" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><m:Op xmlns:m="urn:m">1 &lt; 2</m:Op></soapenv:Body></soapenv:Envelope>`
	p := newParser(DefaultLimits())
	done, err := p.parseFast([]byte(msg))
	if !done || err != nil {
		t.Fatalf("fast path not taken (%v, %v)", done, err)
	}
	if fast, slow := parseBoth([]byte(msg), DefaultLimits()); fast != slow {
		t.Errorf("fast %s\nslow %s", fast, slow)
	}
}

// FuzzParseDifferential holds the fast tokenizer to encoding/xml: the
// same tree, the same IDs, the same fault.
func FuzzParseDifferential(f *testing.F) {
	for _, s := range fastCorpus {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxBytes = 64 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.Contains(data, []byte("Envelope")) {
			data = []byte(wrap(string(data)))
		}
		fast, slow := parseBoth(data, lim)
		if fast != slow {
			t.Fatalf("%q:\n fast %s\n slow %s", data, fast, slow)
		}
	})
}

// Every declaration the fast path takes without asking encoding/xml is
// one encoding/xml accepts, and the envelope after it parses the same.
func TestFastParseCommonDeclarations(t *testing.T) {
	for decl := range commonDeclarations {
		doc := decl + wrap(`<x/>`)
		fast, slow := parseBoth([]byte(doc), DefaultLimits())
		if fast != slow || strings.HasPrefix(slow, "fault") {
			t.Errorf("%s:\n fast %s\n slow %s", decl, fast, slow)
		}
	}
}

// XML 1.0 [40] separates attributes by white space; encoding/xml does not
// insist, so both paths refuse it themselves, with the same fault.
func TestAttributesNeedSpace(t *testing.T) {
	for _, bad := range []string{
		wrap(`<x a="1"b="2"/>`),
		wrap(`<x a='1'b="2">t</x>`),
		wrap(`<x a="it's"b="2"/>`),
		wrap(`<x é="1"b="2"/>`), // not in the fast path's subset
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"A=""><s:Body/></s:Envelope>`,
	} {
		for _, fast := range []bool{true, false} {
			data, _ := checkEncoding([]byte(bad))
			_, err := parseTree(data, DefaultLimits(), fast)
			if err == nil || !strings.Contains(err.Error(), "separated by white space") {
				t.Errorf("fast=%v %q: %v", fast, bad, err)
			}
		}
	}
	for _, good := range []string{
		wrap(`<x a="1" b="2"/>`), wrap("<x a='1'\tb=\"2\"\n>t</x>"), wrap(`<x a="1"/>`), wrap(`<x a="b>c"/>`), wrap(`<x é="1" b="2"/>`),
	} {
		for _, fast := range []bool{true, false} {
			data, _ := checkEncoding([]byte(good))
			if _, err := parseTree(data, DefaultLimits(), fast); err != nil {
				t.Errorf("fast=%v %q: %v", fast, good, err)
			}
		}
	}
}

func TestParseFragment(t *testing.T) {
	el, err := ParseFragment([]byte(`<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">text<ds:Reference URI="#a">&lt;</ds:Reference></ds:SignedInfo>`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if el.Tag != "SignedInfo" || el.NamespaceURI() != "http://www.w3.org/2000/09/xmldsig#" || len(el.ChildElements()) != 1 || el.ChildElements()[0].Text() != "<" {
		t.Errorf("fragment read as %s", describeElement(el))
	}
	for _, bad := range []string{
		`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`,
		`<a><?pi x?></a>`,
		`<p:a/>`,
		`<a ID="1"><b ID="1"/></a>`,
		`<a/><b/>`,
		`<a>`,
		``,
		`<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>`,
	} {
		if _, err := ParseFragment([]byte(bad), DefaultLimits()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func describeElement(el *etree.Element) string {
	d := etree.NewDocument()
	d.SetRoot(el.Copy())
	s, _ := d.WriteToString()
	return s
}
