package xmlenc

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

func testKeyPair(t testing.TB, cn string) KeyPair {
	t.Helper()
	return testKeyPairBits(t, cn, 2048)
}

func testKeyPairBits(t testing.TB, cn string, bits int) KeyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4711), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte(cn + "-ski")}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{Certificate: cert, Key: key}
}

// sealed is how a test consumer encrypts: the options change one thing.
type sealed struct {
	keyAlg, dataAlg string
	cek             []byte // default: random of the data algorithm's size
	plaintext       string // default: the GetBalance payload
	refs            []string
	truncateTag     bool
	// corruptKey flips a bit of the wrapped key (the key transport
	// fails); corruptData one of the ciphertext (the tag check fails).
	corruptKey, corruptData bool
	to                      *x509.Certificate
}

const payload = `<a:GetBalance xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>4711</a:AccountId></a:GetBalance>`

func seal(t testing.TB, s sealed) string {
	t.Helper()
	if s.keyAlg == "" {
		s.keyAlg = AlgRSAOAEPMGF1P
	}
	if s.dataAlg == "" {
		s.dataAlg = AlgAES256GCM
	}
	if s.plaintext == "" {
		s.plaintext = payload
	}
	if s.refs == nil {
		s.refs = []string{"ED1"}
	}
	size := map[string]int{AlgAES128GCM: 16, AlgAES256GCM: 32, AlgAES128CBC: 16, AlgAES256CBC: 32}[s.dataAlg]
	if s.cek == nil {
		s.cek = make([]byte, size)
		_, _ = rand.Read(s.cek)
	}
	var wrapped []byte
	var err error
	if s.keyAlg == AlgRSA15 {
		wrapped, err = rsa.EncryptPKCS1v15(rand.Reader, s.to.PublicKey.(*rsa.PublicKey), s.cek)
	} else {
		wrapped, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, s.to.PublicKey.(*rsa.PublicKey), s.cek, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.corruptKey {
		wrapped[len(wrapped)/2] ^= 0x10
	}
	block, _ := aes.NewCipher(s.cek)
	var ct []byte
	if strings.HasSuffix(s.dataAlg, "gcm") {
		aead, _ := cipher.NewGCM(block)
		nonce := make([]byte, aead.NonceSize())
		_, _ = rand.Read(nonce)
		ct = aead.Seal(nonce, nonce, []byte(s.plaintext), nil)
		if s.truncateTag {
			ct = ct[:len(ct)-4]
		}
	} else {
		pad := 16 - len(s.plaintext)%16
		plain := append([]byte(s.plaintext), make([]byte, pad)...)
		plain[len(plain)-1] = byte(pad)
		iv := make([]byte, 16)
		_, _ = rand.Read(iv)
		ct = make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
		ct = append(iv, ct...)
	}
	if s.corruptData {
		ct[len(ct)/2] ^= 0x10
	}
	var refs strings.Builder
	for _, r := range s.refs {
		fmt.Fprintf(&refs, `<xenc:DataReference URI="#%s"/>`, r)
	}
	ski := base64.StdEncoding.EncodeToString(s.to.SubjectKeyId)
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<xenc:EncryptedKey Id="EK1"><xenc:EncryptionMethod Algorithm="` + s.keyAlg + `"/>` +
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><wsse:SecurityTokenReference><wsse:KeyIdentifier ValueType="` + valueTypeSKI + `">` + ski + `</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(wrapped) + `</xenc:CipherValue></xenc:CipherData>` +
		`<xenc:ReferenceList>` + refs.String() + `</xenc:ReferenceList></xenc:EncryptedKey>` +
		`</wsse:Security></soap:Header><soap:Body>` +
		`<xenc:EncryptedData Id="ED1" Type="` + TypeContent + `"><xenc:EncryptionMethod Algorithm="` + s.dataAlg + `"/>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(ct) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>` +
		`</soap:Body></soap:Envelope>`
}

func decrypt(t testing.TB, d *Decrypter, msg string) (*soap.Envelope, *Decrypted, error) {
	t.Helper()
	env, err := soap.Parse([]byte(msg), soap.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Decrypt(env, env.HeaderBlocks()[0])
	return env, res, err
}

func TestDecryptBody(t *testing.T) {
	old, current := testKeyPair(t, "old"), testKeyPair(t, "current")
	d := &Decrypter{Keys: []KeyPair{old, current}, Limits: soap.DefaultLimits()}
	for _, alg := range []string{AlgAES128GCM, AlgAES256GCM} {
		env, res, err := decrypt(t, d, seal(t, sealed{dataAlg: alg, to: current.Certificate}))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !res.Body || len(res.Elements) != 1 || env.Operation().Local != "GetBalance" || env.Payload() != res.Elements[0] {
			t.Errorf("%s: decrypted %+v, operation %v", alg, res, env.Operation())
		}
	}
	// CBC only when the service allows it.
	d.AllowCBC = true
	if _, _, err := decrypt(t, d, seal(t, sealed{dataAlg: AlgAES256CBC, to: old.Certificate})); err != nil {
		t.Errorf("CBC with insecureAllowCBC: %v", err)
	}
}

// Every failure is the same public fault, wsse:FailedCheck; the reason is
// internal.
func TestDecryptRefusals(t *testing.T) {
	kp, other := testKeyPair(t, "gateway"), testKeyPair(t, "other")
	d := &Decrypter{Keys: []KeyPair{kp}, Limits: soap.DefaultLimits()}
	cert := kp.Certificate
	for _, tc := range []struct {
		name, msg, reason string
	}{
		{"CBC by default", seal(t, sealed{dataAlg: AlgAES128CBC, to: cert}), "AES-CBC"},
		{"RSA-1.5", seal(t, sealed{keyAlg: AlgRSA15, to: cert}), "RSA-1.5 is refused"},
		{"referenced twice", seal(t, sealed{refs: []string{"ED1", "ED1"}, to: cert}), "referenced twice"},
		{"reference to nothing", seal(t, sealed{refs: []string{"ED1", "ED9"}, to: cert}), "#ED9"},
		{"DOCTYPE in the plaintext", seal(t, sealed{plaintext: `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, to: cert}), "plaintext"},
		{"entity in the plaintext", seal(t, sealed{plaintext: `<a>&x;</a>`, to: cert}), "plaintext"},
		{"truncated GCM tag", seal(t, sealed{truncateTag: true, to: cert}), "content decryption"},
		{"wrong key (another certificate's SKI)", strings.Replace(seal(t, sealed{to: cert}), base64.StdEncoding.EncodeToString(cert.SubjectKeyId), base64.StdEncoding.EncodeToString(other.Certificate.SubjectKeyId), 1), "no decryption key matches"},
		{"encrypted to another key", strings.Replace(seal(t, sealed{to: other.Certificate}), base64.StdEncoding.EncodeToString(other.Certificate.SubjectKeyId), base64.StdEncoding.EncodeToString(cert.SubjectKeyId), 1), "key transport"},
		{"content key of the wrong size", seal(t, sealed{cek: make([]byte, 16), dataAlg: AlgAES256GCM, to: cert}), "content key has 16 bytes"},
		{"a plaintext ID shadowing another", seal(t, sealed{plaintext: `<a:X xmlns:a="urn:a" Id="EK1"/>`, to: cert}), "repeats the ID"},
		{"a ReferenceList of the header naming nothing decrypted", withHeaderList(t, seal(t, sealed{to: cert}), `<xenc:DataReference URI="#ED7"/>`), "#ED7"},
		{"a ReferenceList of the header naming the data the key's names", withHeaderList(t, seal(t, sealed{to: cert}), `<xenc:DataReference URI="#ED1"/>`), "referenced twice"},
		{"a ReferenceList of the header with a KeyReference", withHeaderList(t, seal(t, sealed{to: cert}), `<xenc:KeyReference URI="#EK1"/>`), "only DataReference"},
		{"an empty ReferenceList in the header", withHeaderList(t, seal(t, sealed{to: cert}), ``), "empty ReferenceList"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decrypt(t, d, tc.msg)
			var f *soap.Fault
			if !errors.As(err, &f) || f.Subcode != soap.FaultFailedCheck || f.Public != "security error in the message" {
				t.Fatalf("got %v, want the one FailedCheck fault", err)
			}
			if !strings.Contains(f.Reason(), tc.reason) {
				t.Errorf("reason %q, want …%s…", f.Reason(), tc.reason)
			}
		})
	}
}

// TestNoTimingOracle: a key transport that fails (what a Bleichenbacher
// or Manger attacker probes) goes on with a random content key and fails
// at the content's tag, as a message with a good key and changed content
// does: the two take the same time (with 2 MB of content, whose
// decryption is a fifth of the whole, a shortcut past it shows). Measured, not assumed: many trials of
// each, interleaved so that the machine's drift hits both alike, their
// distributions compared (medians within 10%, interquartile ranges
// overlapping). Absolute times are not checked.
func TestNoTimingOracle(t *testing.T) {
	// RSA-1024 (fast) so that the content's decryption is a good part of
	// the whole: a shortcut past it would show.
	kp := testKeyPairBits(t, "gateway", 1024)
	d := &Decrypter{Keys: []KeyPair{kp}, Limits: soap.DefaultLimits()}
	const trials = 60
	// Content large enough (2 MB, parsed with limits to match) that
	// skipping its decryption would show.
	big := `<a:Statement xmlns:a="urn:gatehouse:demo:accounts">` + strings.Repeat(`<a:Entry>2026-12-07 1234.56 EUR transfer</a:Entry>`, 40000) + `</a:Statement>`
	limits := soap.DefaultLimits()
	limits.MaxBytes, limits.MaxTextBytes = 8<<20, 4<<20
	classes := []sealed{{corruptKey: true, plaintext: big, to: kp.Certificate}, {corruptData: true, plaintext: big, to: kp.Certificate}}
	names := []string{"key transport fails", "content tag fails"}
	times := make([][]time.Duration, len(classes))
	for i := range trials {
		for j := range classes {
			c := (i + j) % len(classes) // alternate which class goes first
			env, err := soap.Parse([]byte(seal(t, classes[c])), limits)
			if err != nil {
				t.Fatal(err)
			}
			sec := env.HeaderBlocks()[0]
			start := time.Now()
			_, err = d.Decrypt(env, sec)
			times[c] = append(times[c], time.Since(start))
			var f *soap.Fault
			if !errors.As(err, &f) || f.Subcode != soap.FaultFailedCheck || !strings.Contains(f.Reason(), "content decryption") && !strings.Contains(f.Reason(), "key transport") {
				t.Fatalf("%s: %v", names[c], err)
			}
		}
	}
	q := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(p*float64(len(s)-1))]
	}
	a, b := times[0], times[1]
	ma, mb := q(a, 0.5), q(b, 0.5)
	t.Logf("median %s: %v, %s: %v; quartiles %v–%v and %v–%v", names[0], ma, names[1], mb, q(a, 0.25), q(a, 0.75), q(b, 0.25), q(b, 0.75))
	if r := float64(max(ma, mb)) / float64(min(ma, mb)); r > 1.10 {
		t.Errorf("medians differ by a factor of %.2f", r)
	}
	if q(a, 0.25) > q(b, 0.75) || q(b, 0.25) > q(a, 0.75) {
		t.Error("the interquartile ranges do not overlap")
	}
}

// withHeaderList adds a ReferenceList with refs to msg's Security header.
func withHeaderList(t *testing.T, msg, refs string) string {
	t.Helper()
	i := strings.Index(msg, "<xenc:EncryptedKey")
	if i < 0 {
		t.Fatalf("no EncryptedKey in %s", msg)
	}
	return msg[:i] + `<xenc:ReferenceList xmlns:xenc="` + NSXENC + `">` + refs + `</xenc:ReferenceList>` + msg[i:]
}

// TestDecryptReportsProcessed: the header's EncryptedKey and a
// ReferenceList of its own (naming data whose KeyInfo holds its key) are
// what Decrypt processed, for the signature verification to accept them.
func TestDecryptReportsProcessed(t *testing.T) {
	kp := testKeyPair(t, "gateway")
	d := &Decrypter{Keys: []KeyPair{kp}, Limits: soap.DefaultLimits()}
	_, res, err := decrypt(t, d, seal(t, sealed{to: kp.Certificate}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Processed) != 1 || res.Processed[0].Tag != "EncryptedKey" || res.Processed[0].Parent() == nil {
		t.Errorf("processed %v", res.Processed)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	kp := testKeyPair(b, "gateway")
	d := &Decrypter{Keys: []KeyPair{kp}, Limits: soap.DefaultLimits()}
	body := `<a:Statement xmlns:a="urn:gatehouse:demo:accounts">` + strings.Repeat(`<a:Entry>2026-12-07 1234.56 EUR transfer</a:Entry>`, 80) + `</a:Statement>`
	msgs := make([]string, 64)
	for i := range msgs {
		msgs[i] = seal(b, sealed{plaintext: body, to: kp.Certificate})
	}
	wrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &kp.Key.PublicKey, make([]byte, 32), nil)
	b.Run("rsa-2048-private-op", func(b *testing.B) {
		for b.Loop() {
			if _, err := kp.Key.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("4KB-body-oaep-aes256gcm-parse-included", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := decrypt(b, d, msgs[i%len(msgs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
