package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// BenchmarkProxy measures a request end to end on loopback: mTLS (kept-alive
// connections), parse, XSD validation, proxy to the demo backend and back.
// The signed+redis variant adds WS-Security verification and the replay
// round trip to a real redis-server; every request carries its own fresh
// signature, made before the timer starts.
func BenchmarkProxy(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		e := newEnv(b, envOptions{})
		body := envelope11(getBalance)
		runProxyBench(b, e, func(int) string { return body })
	})
	b.Run("signed+redis", func(b *testing.B) {
		srv := redistest.Start(b)
		e := newEnv(b, envOptions{store: redisStore(srv, "gh-bench:"), trust: trustInternal, security: signingPolicy})
		msgs := make([]string, b.N)
		for i := range msgs {
			msgs[i] = signedRequest(b, e.dir)
		}
		runProxyBench(b, e, func(i int) string { return msgs[i] })
	})
}

func runProxyBench(b *testing.B, e *env, body func(i int) string) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req, _ := http.NewRequest(http.MethodPost, e.base+accountsPath, strings.NewReader(body(i)))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `""`)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
