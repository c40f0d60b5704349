package schemas

import (
	"fmt"
	"testing"
)

// envelopeOfSize returns a valid SOAP 1.1 PlaceOrder envelope of at least
// size bytes.
func envelopeOfSize(size int) []byte {
	n := 1
	for len(envelope(soap11NS, "", placeOrder("1", n))) < size {
		n++
	}
	return []byte(envelope(soap11NS, "", placeOrder("1", n)))
}

func BenchmarkValidateEnvelope(b *testing.B) {
	soap11 := mustEmbedded(b, SOAP11Envelope)
	orders := ordersSet(b)
	for _, size := range []int{2 << 10, 50 << 10} {
		doc := envelopeOfSize(size)
		if err := ValidateEnvelope(doc, soap11, orders); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := ValidateEnvelope(doc, soap11, orders); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dKB-parallel", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := ValidateEnvelope(doc, soap11, orders); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkValidateEnvelopeInvalid(b *testing.B) {
	soap11 := mustEmbedded(b, SOAP11Envelope)
	orders := ordersSet(b)
	doc := []byte(envelope(soap11NS, "", placeOrder("not-a-number", 20)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateEnvelope(doc, soap11, orders); err == nil {
			b.Fatal("want an error")
		}
	}
}

// Compile and Close in a loop: run with -benchtime=2000x and watch the
// process's memory to look for leaks in the compile path.
func BenchmarkCompileAndClose(b *testing.B) {
	for _, name := range []string{SOAP12Envelope, SAML20} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, err := CompileEmbedded(name)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
	b.Run("orders.xsd", func(b *testing.B) {
		b.ReportAllocs()
		files := []string{mustAbs(b, "testdata/orders.xsd")}
		for b.Loop() {
			s, err := CompileFiles(files, CompileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}
