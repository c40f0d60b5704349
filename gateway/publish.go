package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
)

// published is a service's contract as GET path?wsdl serves it, built
// once per public URL and kept (the files are read at that moment). The
// public URL is the service's configured publicURL, else the endpoint the
// request came to (one of the service's endpoints, so that a client
// reaches the gateway under the name it verified), else the first
// endpoint: the map holds at most one entry per endpoint.
type published struct {
	mu    sync.Mutex
	bases map[string]*publishedSet
}

type publishedSet struct {
	err  error
	docs map[string]publishedDoc // by query: "wsdl", "wsdl=N", "xsd=N"
}

type publishedDoc struct {
	data []byte
	etag string
}

// documents returns the published documents for base, building them once.
func (p *published) documents(svc *service, base string) *publishedSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	if set, ok := p.bases[base]; ok {
		return set
	}
	if p.bases == nil {
		p.bases = map[string]*publishedSet{}
	}
	var cs []*wsdl.Contract
	for _, v := range []soap.Version{soap.V11, soap.V12} {
		if c := svc.contracts[v]; c != nil {
			cs = append(cs, c)
		}
	}
	set := &publishedSet{}
	docs, err := wsdl.Publish(base, cs...)
	if err != nil {
		set.err = err
	} else {
		set.docs = map[string]publishedDoc{}
		for _, d := range docs {
			sum := sha256.Sum256(d.Data)
			set.docs[d.Query] = publishedDoc{data: d.Data, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
		}
	}
	p.bases[base] = set
	return set
}

// publicBase is the address the published WSDL gives the service.
func (svc *service) publicBase(r *http.Request) string {
	if svc.publicURL != "" {
		return svc.publicURL
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	if u := scheme + "://" + r.Host + r.URL.Path; slices.Contains(svc.endpoints, u) {
		return u
	}
	if len(svc.endpoints) > 0 {
		return svc.endpoints[0]
	}
	return scheme + "://" + r.Host + r.URL.Path // not reached: endpoints are set at Start
}

// serveContract answers GET path?wsdl (and ?wsdl=N, ?xsd=N) for a service
// with a WSDL. It runs after the caller's identity was accepted, like any
// other request on the listener.
func (g *Gateway) serveContract(tx *transaction, w http.ResponseWriter, r *http.Request, svc *service) error {
	q := r.URL.RawQuery
	if strings.EqualFold(q, "wsdl") {
		q = "wsdl"
	}
	tx.rec.Operation = "?" + q
	set := svc.published.documents(svc, svc.publicBase(r))
	if err := set.err; err != nil {
		return soap.ReceiverFault("the service contract cannot be published", err)
	}
	doc, ok := set.docs[q]
	if !ok {
		return soap.SenderFault("no such document", fmt.Errorf("query %q names no published document of service %s", r.URL.RawQuery, svc.name)).WithStatus(http.StatusNotFound)
	}
	h := w.Header()
	h.Set("ETag", doc.etag)
	h.Set("Cache-Control", "no-cache") // revalidate with If-None-Match
	tx.rec.Outcome = audit.OutcomeOK
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		tx.written, tx.rec.Status = true, http.StatusNotModified
		return nil
	}
	h.Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(doc.data)
	tx.written = true
	tx.rec.Status, tx.rec.BytesOut = http.StatusOK, int64(n)
	return nil
}

// etagMatches reports whether an If-None-Match list names etag (weak
// comparison, RFC 9110 section 13.1.2).
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
