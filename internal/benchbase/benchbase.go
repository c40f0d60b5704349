// Package benchbase measures the baselines that Gatehouse's kernel
// benchmarks report themselves against: one bare signature verification
// with the same key, timed in the same process and run, so that a kernel's
// cost reads as a ratio that a shared, noisy machine does not change much.
package benchbase

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// VerifyNs times one bare verification of a SHA-256 signature with pub's
// key type (RSA PKCS#1 v1.5 or ECDSA), the cryptographic floor of verifying
// a message signed with that key, in nanoseconds. key signs the sample.
func VerifyNs(key crypto.Signer) (float64, error) {
	digest := sha256.Sum256([]byte("the SignedInfo of a benchmark"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return 0, err
	}
	var verify func() bool
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		verify = func() bool { return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil }
	case *ecdsa.PublicKey:
		verify = func() bool { return ecdsa.VerifyASN1(pub, digest[:], sig) }
	default:
		return 0, fmt.Errorf("benchbase: key type %T", pub)
	}
	// Timed by hand: testing.Benchmark cannot run inside a benchmark.
	// The fastest of five rounds of 100 ms is the least disturbed by
	// whatever else the machine is doing.
	best := 0.0
	for range 5 {
		n, start := 0, time.Now()
		for time.Since(start) < 100*time.Millisecond {
			if !verify() {
				return 0, fmt.Errorf("benchbase: the sample signature does not verify")
			}
			n++
		}
		if ns := float64(time.Since(start).Nanoseconds()) / float64(n); best == 0 || ns < best {
			best = ns
		}
	}
	return best, nil
}

// Report adds to b the ratio of its time per op to baseNs, as
// "x-<name>" (for example x-verify: 3.2 means 3.2 bare verifications).
func Report(b *testing.B, baseNs float64, name string) {
	if baseNs <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseNs, "x-"+name)
}
