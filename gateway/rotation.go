package gateway

// Certificate rotation for the SOAP listeners: a listener's certificate,
// key and client CA bundle are read again when their files change (a file
// watch on their directories, debounced) or on SIGHUP, and serve the
// handshakes that begin afterwards; connections already open keep what
// they were handshaken with. A reload that fails changes nothing.

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/conf"
)

// certDebounce is how long the watch waits after the last change in a
// watched directory before reloading: editors and `mv` write in several
// steps, and a certificate and its key are rarely replaced at once.
const certDebounce = 500 * time.Millisecond

// certReloader holds one listener's current certificate and client CA
// pool and reads them again on Reload.
type certReloader struct {
	listener                  string
	certFile, keyFile, caFile string // caFile "": no client CA (insecure-none)
	template                  *tls.Config
	now                       func() time.Time
	log                       *slog.Logger
	metrics                   *metrics

	mu sync.Mutex // one Reload at a time
	// files are the bytes of certFile, keyFile and caFile now in force:
	// a change in the directory that leaves them alone reloads nothing.
	files [3][]byte

	cert   atomic.Pointer[tls.Certificate]
	client atomic.Pointer[tls.Config] // the handshake configuration with the current ClientCAs
}

// newCertReloader starts from the certificate and pool conf loaded (tc,
// the listener's ServerTLSConfig).
func newCertReloader(lc *conf.Listener, tc *tls.Config, now func() time.Time, log *slog.Logger, m *metrics) *certReloader {
	r := &certReloader{
		listener: lc.Name, certFile: lc.TLS.Certificate, keyFile: lc.TLS.Key, caFile: lc.TLS.ClientCA,
		template: tc.Clone(), now: now, log: log, metrics: m,
	}
	if lc.TLS.ClientAuth == conf.ClientAuthInsecureNone {
		r.caFile = "" // the bundle, if named, is not used
	}
	r.template.Certificates = nil
	cert := tc.Certificates[0]
	r.cert.Store(&cert)
	if r.caFile != "" {
		r.client.Store(r.clientConfig(tc.ClientCAs))
	}
	r.files, _ = r.read()
	return r
}

// serverConfig is the listener's TLS configuration: every handshake asks
// the reloader for the certificate and client CA pool in force.
func (r *certReloader) serverConfig() *tls.Config {
	tc := r.template.Clone()
	tc.GetCertificate = r.getCertificate
	if r.caFile != "" {
		tc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.client.Load(), nil }
	}
	return tc
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// clientConfig is the handshake configuration for a client CA pool. Its
// session ticket keys are its own: a session resumed skips the client
// certificate's verification, so one begun under a CA since removed must
// not resume under the new pool.
func (r *certReloader) clientConfig(pool *x509.CertPool) *tls.Config {
	tc := r.template.Clone()
	tc.GetCertificate = r.getCertificate
	tc.ClientCAs = pool
	var key [32]byte
	if _, err := rand.Read(key[:]); err == nil {
		tc.SetSessionTicketKeys([][32]byte{key})
	} else {
		tc.SessionTicketsDisabled = true
	}
	return tc
}

// read returns the bytes of the three files (caFile's empty when none).
func (r *certReloader) read() ([3][]byte, error) {
	var out [3][]byte
	for i, f := range []string{r.certFile, r.keyFile, r.caFile} {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return out, err
		}
		out[i] = b
	}
	return out, nil
}

// Reload reads the listener's files again. Unchanged files are no reload;
// changed ones are checked in full (the key matches the certificate, the
// certificate is valid now, the bundle holds a certificate valid now) and
// then serve new handshakes; anything wrong keeps the previous ones and is
// returned, naming the file.
func (r *certReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.read()
	if err == nil && bytes.Equal(files[0], r.files[0]) && bytes.Equal(files[1], r.files[1]) && bytes.Equal(files[2], r.files[2]) {
		return nil
	}
	cert, pool, cas, err := r.load()
	if err != nil {
		r.metrics.certReloads.WithLabelValues(r.listener, "failed").Inc()
		r.log.Error("certificate reload refused; the previous certificate and client CAs stay in force", "listener", r.listener, "err", err)
		return fmt.Errorf("listener %s: %w", r.listener, err)
	}
	r.cert.Store(&cert)
	if r.caFile != "" {
		r.client.Store(r.clientConfig(pool))
	}
	r.files = files
	r.metrics.certReloads.WithLabelValues(r.listener, "ok").Inc()
	r.setExpiry(certListener, cert.Leaf)
	r.setExpiry(certClientCA, cas...)
	r.log.Info("listener certificate reloaded", "listener", r.listener, "certificate", r.certFile,
		"serial", cert.Leaf.SerialNumber.Text(16), "notAfter", cert.Leaf.NotAfter, "clientCA", r.caFile, "clientCAs", len(cas))
	return nil
}

// load reads and checks the files.
func (r *certReloader) load() (tls.Certificate, *x509.CertPool, []*x509.Certificate, error) {
	now := r.now()
	cert, err := conf.LoadKeyPair(r.certFile, r.keyFile)
	if err != nil {
		return cert, nil, nil, err
	}
	if err := validNow(cert.Leaf, now); err != nil {
		return cert, nil, nil, fmt.Errorf("certificate %s: %w", r.certFile, err)
	}
	if r.caFile == "" {
		return cert, nil, nil, nil
	}
	cas, err := conf.ReadCertificates(r.caFile)
	if err != nil {
		return cert, nil, nil, fmt.Errorf("clientCA %s: %w", r.caFile, err)
	}
	pool := x509.NewCertPool()
	valid := 0
	for _, c := range cas {
		if validNow(c, now) == nil {
			valid++
		}
		pool.AddCert(c)
	}
	if valid == 0 {
		return cert, nil, nil, fmt.Errorf("clientCA %s: no certificate of the bundle is valid now", r.caFile)
	}
	return cert, pool, cas, nil
}

func validNow(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("expired at %s", c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// setExpiry replaces the listener's expiry series of kind.
func (r *certReloader) setExpiry(kind string, certs ...*x509.Certificate) {
	r.metrics.certNotAfter.DeletePartialMatch(prometheus.Labels{"kind": kind, "name": r.listener})
	for _, c := range certs {
		r.metrics.certNotAfter.WithLabelValues(kind, r.listener, subjectOf(c)).Set(float64(c.NotAfter.Unix()))
	}
}

// ReloadCertificates reads every TLS listener's certificate, key and client
// CA bundle again (the gatehouse binary calls it on SIGHUP; the file watch
// does the same on its own). A listener whose files fail to load keeps the
// previous ones; the error says which and why.
func (g *Gateway) ReloadCertificates() error {
	var errs []error
	for _, l := range g.listeners {
		if l.certs != nil {
			errs = append(errs, l.certs.Reload())
		}
	}
	return errors.Join(errs...)
}

// watchCertificates watches the directories of the listeners' files and
// reloads them once changes have settled for certDebounce. It returns the
// function that stops the watch.
func (g *Gateway) watchCertificates() (stop func(), err error) {
	dirs := map[string]bool{}
	for _, l := range g.listeners {
		if r := l.certs; r != nil {
			for _, f := range []string{r.certFile, r.keyFile, r.caFile} {
				if f != "" {
					dirs[filepath.Dir(f)] = true
				}
			}
		}
	}
	if len(dirs) == 0 {
		return func() {}, nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watch %s: %w", d, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case _, ok := <-w.Events:
				if !ok {
					timer.Stop()
					return
				}
				// Any change in the directory: a Kubernetes secret
				// volume swaps a symbolic link to a new directory,
				// not the files named.
				timer.Reset(certDebounce)
			case err, ok := <-w.Errors:
				if !ok {
					timer.Stop()
					return
				}
				g.log.Error("certificate file watch", "err", err)
			case <-timer.C:
				_ = g.ReloadCertificates() // logged and counted by each listener
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = w.Close()
			<-done
		})
	}, nil
}
