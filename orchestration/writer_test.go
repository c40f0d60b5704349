package orchestration

import (
	"testing"

	"github.com/gatehouse/gatehouse/soap"
)

func TestXMLWriter(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *xmlWriter)
		want  string
	}{
		{"prefixed element declares its prefix once", func(w *xmlWriter) {
			w.start("a", "urn:a", "x", nil)
			w.start("a", "urn:a", "y", nil)
			w.end()
			w.end()
		}, `<a:x xmlns:a="urn:a"><a:y/></a:x>`},
		{"a prefix rebound inside", func(w *xmlWriter) {
			w.start("a", "urn:a", "x", nil)
			w.start("a", "urn:other", "y", nil)
			w.end()
			w.start("a", "urn:a", "z", nil)
			w.end()
			w.end()
		}, `<a:x xmlns:a="urn:a"><a:y xmlns:a="urn:other"/><a:z/></a:x>`},
		{"no namespace inside a default namespace", func(w *xmlWriter) {
			w.start("", "urn:d", "x", nil)
			w.start("", "", "y", nil)
			w.start("", "", "z", nil)
			w.end()
			w.end()
			w.start("", "urn:d", "back", nil)
			w.end()
			w.end()
		}, `<x xmlns="urn:d"><y xmlns=""><z/></y><back/></x>`},
		{"attributes: a conflicting prefix gets a fresh one, xml: needs none", func(w *xmlWriter) {
			w.start("p", "urn:e", "x", []xattr{
				{prefix: "p", space: "urn:attr", local: "a", value: `1"<&>` + "\t\n\r"},
				{space: soap.NSXML, local: "lang", value: "en"},
				{local: "plain", value: "v"},
			})
			w.text("a<b>&c\r\n")
			w.end()
		}, `<p:x xmlns:p="urn:e" xmlns:ns0="urn:attr" ns0:a="1&quot;&lt;&amp;&gt;&#x9;&#xA;&#xD;" xml:lang="en" plain="v">a&lt;b&gt;&amp;c&#xD;` + "\n" + `</p:x>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &xmlWriter{}
			tt.write(w)
			if got := string(w.buf); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if len(w.scope) != 0 || len(w.open) != 0 {
				t.Errorf("scope %v open %v left", w.scope, w.open)
			}
		})
	}
}
