package conf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// testPKI is every key and certificate the test configurations name, as
// PEM files under pki/. It is generated once per test binary, so no key
// material is committed.
//
//	ca.crt                 client CA (ECDSA P-256)
//	server.crt, .key       listener certificate from ca, key in SEC 1 form
//	client.crt, .key       client certificate from ca, Ed25519 key in PKCS#8
//	other.key              an ECDSA key (PKCS#8) that belongs to no certificate
//	backend-ca.crt         the backends' CA (ECDSA P-256)
//	gw-client.crt, .key    gateway client certificate from backend-ca, RSA key in PKCS#1
//	no-certs.pem           a PEM file without a certificate
//	partners-ca.crt        a trust store CA (ECDSA P-256), valid for a year
//	partner.crt            "CN=partner.example" from partners-ca, valid for a year
//	expired.crt            "CN=expired.example" from partners-ca, valid in 2020 only
//	expiring.crt           "CN=expiring.example" from partners-ca, expires in 10 days
//	expired-ca.crt         "CN=Old partners CA", a CA valid in 2020 only
//	sts.crt, .key          "CN=Gatehouse test STS" from ca, valid for a year, ECDSA P-256 key in PKCS#8
//	sts-expired.crt        the same key's certificate, valid in 2020 only
//	sts-next.crt, .key     "CN=Gatehouse test STS next" from ca, valid for a year, ECDSA P-384 key in SEC 1 form
//	p521.crt, .key         "CN=p521.example" from ca, ECDSA P-521 key in PKCS#8
type testPKI struct {
	files map[string][]byte
	// for handshake tests
	ca, backendCA, partnersCA, partner *x509.Certificate
	// the STS's signing certificates
	sts, stsNext *x509.Certificate
}

var pkiOnce = sync.OnceValues(genPKI)

func loadTestPKI(t testing.TB) *testPKI {
	t.Helper()
	p, err := pkiOnce()
	if err != nil {
		t.Fatalf("generate test PKI: %v", err)
	}
	return p
}

func genPKI() (*testPKI, error) {
	p := &testPKI{files: map[string][]byte{}}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.ca, err = certify("Gatehouse test client CA", caKey.Public(), nil, caKey); err != nil {
		return nil, err
	}
	backendCAKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.backendCA, err = certify("Gatehouse test backend CA", backendCAKey.Public(), nil, backendCAKey); err != nil {
		return nil, err
	}

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	server, err := certify("gatehouse.test", serverKey.Public(), p.ca, caKey)
	if err != nil {
		return nil, err
	}
	sec1, err := x509.MarshalECPrivateKey(serverKey)
	if err != nil {
		return nil, err
	}

	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	client, err := certify("workload-a", clientKey.Public(), p.ca, caKey)
	if err != nil {
		return nil, err
	}

	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}

	gwKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	gw, err := certify("gatehouse-gw", gwKey.Public(), p.backendCA, backendCAKey)
	if err != nil {
		return nil, err
	}

	p.files["ca.crt"] = pemCert(p.ca)
	p.files["backend-ca.crt"] = pemCert(p.backendCA)
	p.files["server.crt"] = pemCert(server)
	p.files["server.key"] = pemBlock("EC PRIVATE KEY", sec1)
	p.files["client.crt"] = pemCert(client)
	if p.files["client.key"], err = pemPKCS8(clientKey); err != nil {
		return nil, err
	}
	if p.files["other.key"], err = pemPKCS8(otherKey); err != nil {
		return nil, err
	}
	p.files["gw-client.crt"] = pemCert(gw)
	p.files["gw-client.key"] = pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(gwKey))
	pub, err := x509.MarshalPKIXPublicKey(otherKey.Public())
	if err != nil {
		return nil, err
	}
	p.files["no-certs.pem"] = pemBlock("PUBLIC KEY", pub)

	partnersKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now, year := time.Now(), 365*24*time.Hour
	if p.partnersCA, err = certifyValid("Gatehouse test partners CA", partnersKey.Public(), nil, partnersKey, now.Add(-time.Hour), now.Add(year)); err != nil {
		return nil, err
	}
	if p.partner, err = certifyValid("partner.example", otherKey.Public(), p.partnersCA, partnersKey, now.Add(-time.Hour), now.Add(year)); err != nil {
		return nil, err
	}
	expired, err := certifyValid("expired.example", otherKey.Public(), p.partnersCA, partnersKey,
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	expiring, err := certifyValid("expiring.example", otherKey.Public(), p.partnersCA, partnersKey, now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))
	if err != nil {
		return nil, err
	}
	p.files["partners-ca.crt"] = pemCert(p.partnersCA)
	p.files["partner.crt"] = pemCert(p.partner)
	p.files["expired.crt"] = pemCert(expired)
	p.files["expiring.crt"] = pemCert(expiring)
	expiredCA, err := certifyValid("Old partners CA", otherKey.Public(), nil, otherKey,
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	p.files["expired-ca.crt"] = pemCert(expiredCA)
	if err := genSTSPKI(p, caKey); err != nil {
		return nil, err
	}
	return p, nil
}

// genSTSPKI adds the STS's signing keys and certificates to p, issued by
// the client CA (caKey).
func genSTSPKI(p *testPKI, caKey crypto.Signer) error {
	now, year := time.Now(), 365*24*time.Hour
	stsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if p.sts, err = certifyValid("Gatehouse test STS", stsKey.Public(), p.ca, caKey, now.Add(-time.Hour), now.Add(year)); err != nil {
		return err
	}
	expired, err := certifyValid("Gatehouse test STS", stsKey.Public(), p.ca, caKey,
		time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	nextKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}
	if p.stsNext, err = certifyValid("Gatehouse test STS next", nextKey.Public(), p.ca, caKey, now.Add(-time.Hour), now.Add(year)); err != nil {
		return err
	}
	nextSEC1, err := x509.MarshalECPrivateKey(nextKey)
	if err != nil {
		return err
	}
	p521Key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return err
	}
	p521, err := certify("p521.example", p521Key.Public(), p.ca, caKey)
	if err != nil {
		return err
	}
	p.files["sts.crt"] = pemCert(p.sts)
	if p.files["sts.key"], err = pemPKCS8(stsKey); err != nil {
		return err
	}
	p.files["sts-expired.crt"] = pemCert(expired)
	p.files["sts-next.crt"] = pemCert(p.stsNext)
	p.files["sts-next.key"] = pemBlock("EC PRIVATE KEY", nextSEC1)
	p.files["p521.crt"] = pemCert(p521)
	p.files["p521.key"], err = pemPKCS8(p521Key)
	return err
}

// testHashes are password hashes for the user store fixtures, generated
// once per test binary with golang.org/x/crypto. The templates of setup
// see them as {{.Argon2id}} and so on.
type testHashes struct {
	Argon2id     string // of argon2Password
	Bcrypt       string // of bcryptPassword, cost 10
	BcryptCost4  string // cost 4, below the minimum
	BcryptCost17 string // a cost-10 hash relabelled as cost 17, above the maximum
}

const (
	argon2Password = "alice-password"
	bcryptPassword = "bob-password"
	legacySecret   = "legacy-app-secret"
	redisPassword  = "redis-password"
)

var hashesOnce = sync.OnceValues(genHashes)

func loadTestHashes(t testing.TB) *testHashes {
	t.Helper()
	h, err := hashesOnce()
	if err != nil {
		t.Fatalf("generate test password hashes: %v", err)
	}
	return h
}

func genHashes() (*testHashes, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	// Small parameters keep the tests fast; Load accepts them.
	const m, t, p = 8192, 2, 1
	key := argon2.IDKey([]byte(argon2Password), salt, t, m, p, 32)
	b64 := base64.RawStdEncoding
	h := &testHashes{
		Argon2id: fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key)),
	}
	b, err := bcrypt.GenerateFromPassword([]byte(bcryptPassword), 10)
	if err != nil {
		return nil, err
	}
	h.Bcrypt = string(b)
	h.BcryptCost17 = h.Bcrypt[:4] + "17" + h.Bcrypt[6:]
	if b, err = bcrypt.GenerateFromPassword([]byte(bcryptPassword), 4); err != nil {
		return nil, err
	}
	h.BcryptCost4 = string(b)
	return h, nil
}

// certify issues a certificate for pub valid for a day, signed by parent
// (self-signed CA when parent is nil).
func certify(cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	return certifyValid(cn, pub, parent, parentKey, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// certifyValid is certify with the given validity.
func certifyValid(cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent = tmpl
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = []string{cn, "localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pemCert(c *x509.Certificate) []byte { return pemBlock("CERTIFICATE", c.Raw) }

func pemPKCS8(key any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

// setup lays out a configuration directory in a new temporary directory:
// pki/ (testPKI), payload/ (testdata/payload), an empty audit/, and
// gatehouse.xml from config, a text/template with .Dir set to the
// directory and the fields of testHashes. It returns the directory and the
// configuration's path.
func setup(t *testing.T, config string) (dir, path string) {
	t.Helper()
	return setupWith(t, config, nil)
}

// setupWith is setup that also writes every file of files (when not nil)
// into the directory, as templates like config, with mode 0600.
func setupWith(t *testing.T, config string, files fs.FS) (dir, path string) {
	t.Helper()
	p := loadTestPKI(t)
	dir = t.TempDir()
	for name, data := range p.files {
		writeFile(t, filepath.Join(dir, "pki", name), data)
	}
	if err := os.CopyFS(filepath.Join(dir, "payload"), os.DirFS("testdata/payload")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "audit"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := struct {
		Dir string
		*testHashes
	}{dir, loadTestHashes(t)}
	render := func(name, text string) []byte {
		tmpl, err := template.New(name).Option("missingkey=error").Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, data); err != nil {
			t.Fatal(err)
		}
		return []byte(b.String())
	}
	if files != nil {
		err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			text, err := fs.ReadFile(files, name)
			if err != nil {
				return err
			}
			writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), render(name, string(text)))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(dir, "gatehouse.xml")
	writeFile(t, path, render("config", config))
	return dir, path
}

// companionFiles returns testdata/NAME.files as a file system for
// setupWith, or nil when there is no such directory.
func companionFiles(t testing.TB, name string) fs.FS {
	t.Helper()
	dir := filepath.Join("testdata", name+".files")
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	return os.DirFS(dir)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustLoad loads a configuration that must be valid, and closes it when
// the test ends.
func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(cfg.Close)
	return cfg
}

func x509CertPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// rsaPEM returns a new RSA key of the given size in PKCS#8 PEM form.
func rsaPEM(bits int) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return "", err
	}
	b, err := pemPKCS8(key)
	return string(b), err
}
