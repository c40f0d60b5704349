package samlsts

import (
	"testing"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/internal/benchbase"
)

type benchKey struct {
	name string
	kp   keyPair
}

// benchKeys are the STS keys the benchmarks sign with.
func benchKeys(b *testing.B) []benchKey {
	k := testKeys(b, now)
	return []benchKey{{"RSA-2048", k.stsRSA}, {"ECDSA-P256", k.stsEC}}
}

// BenchmarkVerifyAssertion: VerifyAssertion of an issued bearer assertion,
// parsed once from its serialized form as the Security header parser would
// hand it over; an op is the signature check, the re-read of the signed
// bytes and the checks on them. x-verify is an op as a multiple of one bare
// signature verification with the issuer's key, timed in the same run.
func BenchmarkVerifyAssertion(b *testing.B) {
	k := testKeys(b, now)
	for _, c := range benchKeys(b) {
		b.Run(c.name, func(b *testing.B) {
			el, err := issuer(c.kp).Issue(bearerRequest())
			if err != nil {
				b.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromString(serialize(b, el)); err != nil {
				b.Fatal(err)
			}
			v := verifier(k)
			base, err := benchbase.VerifyNs(c.kp.key)
			if err != nil {
				b.Fatal(err)
			}
			defer benchbase.Report(b, base, "verify")
			b.ReportAllocs()
			for b.Loop() {
				a, err := v.VerifyAssertion(doc.Root())
				if err != nil {
					b.Fatal(err)
				}
				if a.Principal.Subject != aliceNameID {
					b.Fatalf("subject %q", a.Principal.Subject)
				}
			}
		})
	}
}

// BenchmarkVerifyReusedHolderKey: Verify of a message carrying a
// holder-of-key assertion that the consumer reuses (its message signature
// is checked by wssec before, outside the loop), without the assertion
// cache ("cold": the assertion's signature is verified every time) and
// with it ("cached": after the first op every op is a hit, which still
// checks the times, the audience and the confirmation against the
// message). x-verify as in BenchmarkVerifyAssertion.
func BenchmarkVerifyReusedHolderKey(b *testing.B) {
	k := testKeys(b, now)
	for _, c := range benchKeys(b) {
		r := bearerRequest()
		r.Method, r.HolderKey = CMHolderOfKey, k.client.cert
		el, err := issuer(c.kp).Issue(r)
		if err != nil {
			b.Fatal(err)
		}
		m := message(b, serialize(b, el), &k.client, false)
		base, err := benchbase.VerifyNs(c.kp.key)
		if err != nil {
			b.Fatal(err)
		}
		for _, cached := range []bool{false, true} {
			name := c.name + "/cold"
			if cached {
				name = c.name + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				v := verifier(k)
				if cached {
					v.Cache = NewAssertionCache(0)
				}
				defer benchbase.Report(b, base, "verify")
				b.ReportAllocs()
				for b.Loop() {
					p, _, err := v.Verify(m)
					if err != nil {
						b.Fatal(err)
					}
					if p.Subject != aliceNameID || p.Confirmation != CMHolderOfKey {
						b.Fatalf("principal %+v", p)
					}
				}
			})
		}
	}
}

// BenchmarkIssue: Issue of a bearer assertion, one per op.
func BenchmarkIssue(b *testing.B) {
	for _, c := range benchKeys(b) {
		b.Run(c.name, func(b *testing.B) {
			is, r := issuer(c.kp), bearerRequest()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := is.Issue(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
