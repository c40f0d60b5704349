package wssec

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/benchbase"
	"github.com/gatehouse/gatehouse/soap"
	dsig "github.com/russellhaering/goxmldsig"
)

// benchMessage signs a SOAP 1.1 message of about 2 KB (Body + Timestamp).
func benchMessage(b *testing.B, kp keyPair) []byte {
	var body strings.Builder
	body.WriteString(`<p:Invoice xmlns:p="urn:example:billing">`)
	for i := 0; body.Len() < 200; i++ {
		fmt.Fprintf(&body, `<p:Line n="%d"><p:Item>widget-%d</p:Item><p:Amount>%d.50</p:Amount></p:Line>`, i, i, i*3)
	}
	body.WriteString(`</p:Invoice>`)
	env := parse(b, strings.Replace(plainEnvelope(soap.V11), requestBody, body.String(), 1))
	if err := (&Signer{Key: kp.key, Cert: kp.cert, Clock: clock}).Sign(env); err != nil {
		b.Fatal(err)
	}
	out, _ := env.Bytes()
	return out
}

// BenchmarkVerify measures parse + verify of a signed ~2 KB message, and
// reports it as a multiple of one bare signature verification with the
// same key, timed in the same run (x-verify).
func BenchmarkVerify(b *testing.B) {
	p := newPKI(b)
	for _, tc := range []struct {
		name string
		kp   keyPair
	}{{"RSA2048", p.rsa}, {"ECDSAP256", p.ecdsa}} {
		msg := benchMessage(b, tc.kp)
		vr := verifier(p, strictPolicy())
		base, err := benchbase.VerifyNs(tc.kp.key)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%dB", tc.name, len(msg)), func(b *testing.B) {
			defer benchbase.Report(b, base, "verify")
			b.ReportAllocs()
			for b.Loop() {
				env, err := soap.Parse(msg, soap.DefaultLimits())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := vr.Verify(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyEnveloped measures the verification of a signed token
// (a SAML assertion of about 1.5 KB, RSA-2048) by VerifyEnveloped and by
// goxmldsig, each as a multiple of one bare RSA verification (x-verify).
func BenchmarkVerifyEnveloped(b *testing.B) {
	p := newPKI(b)
	a, sig := envelopedDoc(b, p.rsa, "", nil)
	base, err := benchbase.VerifyNs(p.rsa.key)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wssec", func(b *testing.B) {
		defer benchbase.Report(b, base, "verify")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := VerifyEnveloped(a, sig, p.rsa.cert, "ID", false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goxmldsig", func(b *testing.B) {
		defer benchbase.Report(b, base, "verify")
		b.ReportAllocs()
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{p.rsa.cert}})
		vc.IdAttribute = "ID"
		vc.Clock = dsig.NewFakeClockAt(now)
		for b.Loop() {
			if _, err := vc.Validate(a.Copy()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
