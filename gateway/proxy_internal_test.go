package gateway

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/conf"
)

// TestBackendTransportPool: the idle pool holds as many connections as the
// bulkhead lets calls run at once, with no lower cap on connections, and
// each backend has one Transport made when the configuration is loaded.
func TestBackendTransportPool(t *testing.T) {
	for _, n := range []int{1, 64, 500} {
		b := &conf.Backend{URL: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, MaxConcurrent: n}
		tr := newBackendTransport(b)
		if tr.MaxIdleConnsPerHost < n || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
			t.Errorf("bulkhead %d: MaxIdleConnsPerHost %d, MaxIdleConns %d", n, tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
		}
		if tr.MaxConnsPerHost != 0 && tr.MaxConnsPerHost < n {
			t.Errorf("bulkhead %d: MaxConnsPerHost %d queues calls inside the bulkhead", n, tr.MaxConnsPerHost)
		}
		if tr.ForceAttemptHTTP2 {
			t.Errorf("plaintext backend: ForceAttemptHTTP2 set")
		}
	}
	be := newBackend(&conf.Backend{URL: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, MaxConcurrent: 8}, nil)
	if _, ok := be.client.Transport.(*http.Transport); !ok {
		t.Fatal("backend without its own transport")
	}
}
