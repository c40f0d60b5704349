package conf

import (
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// expiryWarning is how long before a trusted certificate expires Load
// starts to warn about it.
const expiryWarning = 30 * 24 * time.Hour

// Trust is a named trust store for message signatures: a key in a message
// is trusted only if its certificate chains to one of the CAs or is one of
// the pinned certificates (invariant 5: KeyInfo only selects among them).
// The schema requires at least one ca, certificate or signers element.
//
// Signers are known signer certificates (WSS4J's keystore model): a
// KeyIdentifier (subject key identifier, thumbprint) or IssuerSerial in a
// message can find them, but they are not pinned: they are trusted only if
// they chain to one of the CAs, so a store with signers needs a ca.
type Trust struct {
	Pos
	Name         string
	CAs          []TrustFile    // PEM bundles of CA certificates
	Certificates []TrustFile    // PEM files of pinned end-entity certificates
	Signers      []TrustSigners // PEM bundles or directories of known signers

	roots   *x509.CertPool
	pinned  []*x509.Certificate
	signers []*x509.Certificate
}

// TrustSigners names known signer certificates: a PEM bundle (File) or a
// directory (Dir) whose *.pem, *.crt and *.cer files each hold PEM
// certificates; exactly one of the two. Load makes the path absolute.
type TrustSigners struct {
	Pos
	File string `xml:"file,attr"`
	Dir  string `xml:"dir,attr"`
}

// TrustFile is a PEM file of a trust store; Load makes Path absolute.
type TrustFile struct {
	Pos
	Path string `xml:"file,attr"`
}

// Roots returns a new copy of the pool of every CA certificate in CAs, or
// nil when the store has no ca.
func (t *Trust) Roots() *x509.CertPool {
	if t.roots == nil {
		return nil
	}
	return t.roots.Clone()
}

// Pinned returns the certificates of every file in Certificates, in order,
// in a new slice. The certificates themselves are shared: do not modify
// them.
func (t *Trust) Pinned() []*x509.Certificate { return slices.Clone(t.pinned) }

// SignerCertificates returns the known signer certificates of every signers
// element, in order, in a new slice; each chained to one of the CAs when
// loaded. The certificates themselves are shared: do not modify them.
func (t *Trust) SignerCertificates() []*x509.Certificate { return slices.Clone(t.signers) }

// TrustStore returns the trust store of that name, or nil.
func (c *Config) TrustStore(name string) *Trust {
	for _, t := range c.Trust {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func (t *Trust) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Name         string         `xml:"name,attr"`
		CAs          []TrustFile    `xml:"ca"`
		Certificates []TrustFile    `xml:"certificate"`
		Signers      []TrustSigners `xml:"signers"`
	}
	line := startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	*t = Trust{Pos: Pos{Line: line}, Name: raw.Name, CAs: raw.CAs, Certificates: raw.Certificates, Signers: raw.Signers}
	return nil
}

func (f *TrustSigners) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain TrustSigners
	*f = TrustSigners{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(f), &start)
}

func (f *TrustFile) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain TrustFile
	*f = TrustFile{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(f), &start)
}

// Checks.

func (c *checker) checkTrust(stores []*Trust) {
	names := map[string]*Trust{}
	for _, t := range stores {
		el := fmt.Sprintf("trust name=%q", t.Name)
		if prev, dup := names[t.Name]; dup {
			c.errorf(t.Pos, el, "duplicate trust store name (first at line %d)", prev.Line)
		} else {
			names[t.Name] = t
		}
		seen := map[string]int{}
		listed := func(f *TrustFile, tag string) bool {
			f.Path = c.resolve(f.Path)
			if line, dup := seen[f.Path]; dup {
				c.errorf(f.Pos, el+"/"+tag, "file %s is already in this trust store (line %d)", f.Path, line)
				return true
			}
			seen[f.Path] = f.Line
			return false
		}
		for i := range t.CAs {
			f := &t.CAs[i]
			if listed(f, "ca") {
				continue
			}
			for _, cert := range c.trustFile(f, el+"/ca") {
				if !cert.IsCA {
					c.errorf(f.Pos, el+"/ca", "%s: %s is not a CA certificate (to pin it, use a certificate element)", f.Path, certName(cert))
					continue
				}
				if t.roots == nil {
					t.roots = x509.NewCertPool()
				}
				t.roots.AddCert(cert)
				// An expired CA is only worth a warning: a bundle may
				// keep the old CA during a rollover.
				c.checkExpiry(f.Pos, el+"/ca", f.Path, cert, false)
			}
		}
		for i := range t.Certificates {
			f := &t.Certificates[i]
			if listed(f, "certificate") {
				continue
			}
			for _, cert := range c.trustFile(f, el+"/certificate") {
				if c.checkExpiry(f.Pos, el+"/certificate", f.Path, cert, true) {
					t.pinned = append(t.pinned, cert)
				}
			}
		}
		for i := range t.Signers {
			c.checkSigners(t, &t.Signers[i], el+"/signers", listed)
		}
	}
}

// checkSigners loads one signers element of t: every certificate must be an
// end-entity certificate that chains to one of t's CAs now. An expired one
// is only worth a warning and is left out (the verifier would refuse it
// anyway): a directory may keep an old certificate for a while.
func (c *checker) checkSigners(t *Trust, s *TrustSigners, el string, listed func(*TrustFile, string) bool) {
	var files []*TrustFile
	switch {
	case (s.File == "") == (s.Dir == ""):
		c.errorf(s.Pos, el, "name exactly one of file and dir")
		return
	case s.File != "":
		f := &TrustFile{Pos: s.Pos, Path: s.File}
		if listed(f, "signers") {
			return
		}
		s.File, files = f.Path, []*TrustFile{f}
	default:
		s.Dir = c.resolve(s.Dir)
		entries, err := os.ReadDir(s.Dir)
		if err != nil {
			c.errorf(s.Pos, el, "%s: %v", s.Dir, err)
			return
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".pem", ".crt", ".cer":
			default:
				continue
			}
			if e.Type().IsRegular() {
				f := &TrustFile{Pos: s.Pos, Path: filepath.Join(s.Dir, e.Name())}
				if !listed(f, "signers") {
					files = append(files, f)
				}
			}
		}
		if len(files) == 0 {
			c.errorf(s.Pos, el, "%s: no .pem, .crt or .cer file", s.Dir)
			return
		}
	}
	if t.roots == nil {
		c.errorf(s.Pos, el, "known signers are trusted only through a CA: trust store %q has no ca", t.Name)
		return
	}
	for _, f := range files {
		for _, cert := range c.trustFile(f, el) {
			if cert.IsCA {
				c.errorf(f.Pos, el, "%s: %s is a CA certificate (use a ca element)", f.Path, certName(cert))
				continue
			}
			c.checkExpiry(f.Pos, el, f.Path, cert, false)
			if !c.now.Before(cert.NotAfter) {
				continue
			}
			_, err := cert.Verify(x509.VerifyOptions{
				Roots:       t.roots,
				CurrentTime: c.now,
				KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				c.errorf(f.Pos, el, "%s: %s does not chain to a ca of this trust store: %v", f.Path, certName(cert), err)
				continue
			}
			t.signers = append(t.signers, cert)
		}
	}
}

// trustFile reads the certificates of a trust store file, reporting a
// file that cannot be read or holds none.
func (c *checker) trustFile(f *TrustFile, el string) []*x509.Certificate {
	data, err := readFile(f.Path)
	var certs []*x509.Certificate
	if err == nil {
		certs, err = parseCertificates(data)
	}
	if err != nil {
		c.errorf(f.Pos, el, "%s: %v", f.Path, err)
	}
	return certs
}

// checkExpiry warns about a certificate of file that expires within
// expiryWarning, and reports one that has expired: as an error when
// expiredIsError, else as a warning. It returns false for an error.
func (c *checker) checkExpiry(p Pos, el, file string, cert *x509.Certificate, expiredIsError bool) bool {
	left := cert.NotAfter.Sub(c.now)
	switch {
	case left <= 0 && expiredIsError:
		c.errorf(p, el, "%s: %s expired on %s", file, certName(cert), day(cert.NotAfter))
		return false
	case left <= 0:
		c.warnf(p, el, "%s: %s expired on %s", file, certName(cert), day(cert.NotAfter))
	case left < expiryWarning:
		c.warnf(p, el, "%s: %s expires on %s (in %s)", file, certName(cert), day(cert.NotAfter), daysLeft(left))
	}
	return true
}

// certName names a certificate in a message by its subject, or by its
// serial number when the subject is empty.
func certName(cert *x509.Certificate) string {
	if s := dn.Subject(cert); s != "" {
		return fmt.Sprintf("certificate %q", s)
	}
	return "certificate with serial " + cert.SerialNumber.String()
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func daysLeft(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	if days < 1 {
		return "less than a day"
	}
	return plural(days, "day")
}
