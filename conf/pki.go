package conf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// maxFileBytes bounds every file the configuration names, so that a path
// such as /dev/zero cannot stall Load.
const maxFileBytes = 16 << 20

// minRSABits is the smallest RSA key accepted for a certificate's key.
const minRSABits = 2048

// openRegular opens a regular file, with an error message that says what
// is wrong in words an operator can act on. The type is checked before
// opening, so that a FIFO or device named by mistake cannot block Load.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err == nil && !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	var f *os.File
	if err == nil {
		f, err = os.Open(path)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("no such file")
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New("not readable (permission denied)")
	case err != nil:
		return nil, err
	}
	return f, nil
}

// readFile reads a regular file of at most maxFileBytes.
func readFile(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxFileBytes>>20)
	}
	return b, nil
}

// maxSecretBytes bounds a secret file: it holds a password, not a key.
const maxSecretBytes = 4096

// readSecret reads a secret file (a password): a regular file of at most
// maxSecretBytes, without its trailing line ends (CR and LF), which must
// leave something. It returns the file's mode for exposed.
func readSecret(path string) ([]byte, fs.FileMode, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	switch {
	case err != nil:
		return nil, 0, err
	case len(b) > maxSecretBytes:
		return nil, 0, fmt.Errorf("larger than %d bytes", maxSecretBytes)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, 0, errors.New("empty")
	}
	return b, fi.Mode(), nil
}

// exposed reports whether a secret file's mode lets group or others read
// it. Windows has no such bits: there it is never true.
func exposed(mode fs.FileMode) bool {
	return runtime.GOOS != "windows" && mode.Perm()&0o044 != 0
}

// checkReadable reports whether path is a regular file this process can open.
func checkReadable(path string) error {
	f, err := openRegular(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// parseCertificates returns every CERTIFICATE block of a PEM file, in
// order. Blocks of other types are skipped.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// parsePrivateKey returns the one private key of a PEM file: PKCS#1 RSA,
// SEC 1 EC, or PKCS#8 holding an RSA, ECDSA or Ed25519 key. Encrypted keys
// are refused: Gatehouse has nowhere to keep their passphrase.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	var key crypto.Signer
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		if key != nil {
			return nil, errors.New("more than one PEM private key block")
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("encrypted private keys are not supported")
		}
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			var k any
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			switch k := k.(type) {
			case nil:
			case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
				key = k.(crypto.Signer)
			default:
				return nil, fmt.Errorf("unsupported PKCS#8 key type %T (want RSA, ECDSA or Ed25519)", k)
			}
		default:
			return nil, fmt.Errorf("unsupported PEM block type %q", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", block.Type, err)
		}
	}
	if key == nil {
		return nil, errors.New(`no PEM private key block found (want "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY")`)
	}
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), minRSABits)
	}
	return key, nil
}

// keysMatch reports whether key is the private half of cert's public key.
func keysMatch(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

// tlsCertificate assembles a tls.Certificate from a parsed chain and key.
func tlsCertificate(chain []*x509.Certificate, key crypto.Signer) tls.Certificate {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, cert := range chain {
		c.Certificate = append(c.Certificate, cert.Raw)
	}
	return c
}

// ReadCertificates returns every certificate of a PEM file, in order (for
// the certificate expiry metric: the files of trust stores and CA bundles).
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseCertificates(data)
}

// LoadKeyPair reads a certificate chain (leaf first) and its private key,
// as a listener's tls element names them, for a reload of the files Load
// read: it refuses what Load refuses (an unreadable file, no certificate,
// an unsupported or encrypted key) and a key that is not the leaf's. Each
// error names the file it is about.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	data, err := readFile(certFile)
	var chain []*x509.Certificate
	if err == nil {
		chain, err = parseCertificates(data)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %s: %v", certFile, err)
	}
	data, err = readFile(keyFile)
	var key crypto.Signer
	if err == nil {
		key, err = parsePrivateKey(data)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key %s: %v", keyFile, err)
	}
	if !keysMatch(chain[0], key) {
		return tls.Certificate{}, fmt.Errorf("key %s does not match certificate %s", keyFile, certFile)
	}
	return tlsCertificate(chain, key), nil
}
