package wssec

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/soap"
)

// FuzzVerify runs parse + verify over mutations of valid signed messages.
// It must never panic, must answer with a *soap.Fault, and whatever it
// accepts must have its Body and Timestamp signed by one signature of the
// trusted key, and no reference to an element nested deeper.
func FuzzVerify(f *testing.F) {
	p := newPKI(f)
	f.Add([]byte(signed(f, p.rsa, soap.V11, 0, false)))
	f.Add([]byte(signed(f, p.ecdsa, soap.V12, 0, true)))
	f.Add([]byte(usernameMessage("legacy", "legacy-secret", true, []byte("0123456789abcdef"), now)))
	vr := verifier(p, strictPolicy())
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := soap.Parse(data, soap.DefaultLimits())
		if err != nil {
			return
		}
		v, err := vr.Verify(env)
		if err != nil {
			var fault *soap.Fault
			if !errors.As(err, &fault) {
				t.Fatalf("error is not a fault: %v", err)
			}
			return
		}
		if v.Signer == nil || !v.Signer.Covers(env.Body) || v.Timestamp == nil || !v.Signer.Covers(v.Timestamp.Element) {
			t.Fatal("accepted a message whose Body and Timestamp are not signed by one signature")
		}
		if err := p.trust().Verify(v.Signer.Certificate, now); err != nil {
			t.Fatalf("accepted an untrusted signer: %v", err)
		}
		sec, _ := FindSecurity(env, "")
		for _, s := range v.Signatures {
			for _, r := range s.References {
				if !referenceTarget(env, sec, r) {
					t.Fatalf("accepted a reference to %s, nested or outside Header and Body", r.Tag)
				}
			}
		}
	})
}
