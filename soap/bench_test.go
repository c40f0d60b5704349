package soap

import (
	"fmt"
	"strings"
	"testing"
)

// benchEnvelope builds a SOAP 1.1 envelope of about size bytes: a header
// block and a payload of repeated account entries.
func benchEnvelope(size int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header><wsa:MessageID>urn:uuid:0c1f</wsa:MessageID><wsa:Action>urn:example:accounts:Statement</wsa:Action></soap:Header><soap:Body><a:Statement xmlns:a="urn:example:accounts">`)
	for i := 0; b.Len() < size-64; i++ {
		fmt.Fprintf(&b, `<a:Entry id="e%d"><a:Date>2026-11-%02d</a:Date><a:Amount currency="EUR">%d.25</a:Amount></a:Entry>`, i, i%28+1, i*7)
	}
	b.WriteString(`</a:Statement></soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

func BenchmarkParse(b *testing.B) {
	for _, size := range []int{2 << 10, 50 << 10} {
		data := benchEnvelope(size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
