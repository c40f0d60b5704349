package schemas

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzValidateEnvelope: any input yields nil, a *ValidationError or a
// *ParseError with bounded, printable problems, never a crash.
func FuzzValidateEnvelope(f *testing.F) {
	soap11 := mustEmbedded(f, SOAP11Envelope)
	orders := ordersSet(f)
	f.Add([]byte(envelope(soap11NS, "", placeOrder("1", 2))))
	f.Add([]byte(envelope(soap11NS, "", placeOrder("x", 1))))
	f.Add([]byte(envelope(soap11NS, "", "<o:GetOrder>&amp;&#1;</o:GetOrder>")))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Add([]byte("\xff\xfe<\x00a\x00/\x00>\x00"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := ValidateEnvelope(doc, soap11, orders)
		var ve *ValidationError
		var pe *ParseError
		switch {
		case err == nil:
		case errors.As(err, &ve):
			if len(ve.Problems) == 0 || len(ve.Problems) > 16 {
				t.Fatalf("%d problems", len(ve.Problems))
			}
			for _, p := range ve.Problems {
				if len(p.Message) > 600 || !utf8.ValidString(p.Message) {
					t.Fatalf("message %q", p.Message)
				}
			}
		case errors.As(err, &pe):
		default:
			t.Fatalf("unexpected error %T %v", err, err)
		}
	})
}
