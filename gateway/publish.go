package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/soap"
)

// published is a service's contract as GET path?wsdl serves it, built on
// the first request (the default public URL is known once the listener is
// bound) and kept: the files are read once, at that moment.
type published struct {
	once sync.Once
	err  error
	docs map[string]publishedDoc // by query: "wsdl", "wsdl=N", "xsd=N"
}

type publishedDoc struct {
	data []byte
	etag string
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
	svc.published.once.Do(func() {
		base := svc.publicURL
		if base == "" && len(svc.endpoints) > 0 {
			base = svc.endpoints[0]
		}
		c := svc.contracts[soap.V11]
		if c == nil {
			c = svc.contracts[soap.V12]
		}
		docs, err := c.Publish(base) // one WSDL: any of its ports publishes it
		if err != nil {
			svc.published.err = err
			return
		}
		svc.published.docs = map[string]publishedDoc{}
		for _, d := range docs {
			sum := sha256.Sum256(d.Data)
			svc.published.docs[d.Query] = publishedDoc{data: d.Data, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
		}
	})
	if err := svc.published.err; err != nil {
		return soap.ReceiverFault("the service contract cannot be published", err)
	}
	doc, ok := svc.published.docs[q]
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
