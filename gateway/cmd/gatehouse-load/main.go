// Command gatehouse-load sends SOAP requests to a Gatehouse listener over
// mutual TLS and reports throughput, latency percentiles and answers by
// status. It is bounded: it stops after -n requests or -d, whichever comes
// first, and only talks to the URL it is given.
//
//	gatehouse-load -url https://localhost:8443/services/accounts \
//	    -cert consumer.crt -key consumer.key -cacert ca.crt \
//	    -file request.xml -c 8 -d 10s [-sign] [-soap 1.2]
//
// With -sign every request is signed afresh with the client key (Timestamp,
// BinarySecurityToken, signature over Body and Timestamp), as a service with
// a signing policy and replay detection requires.
//
// gatehouse-load bench compares Gatehouse with a bare reverse proxy in one
// run (see bench.go); gatehouse-load soak holds a gateway process at an
// open-loop load and watches its resident set (see soak.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/soapclient"
	"github.com/gatehouse/gatehouse/soap"
)

type config struct {
	url, certFile, keyFile, caFile, file, action, version string
	concurrency, maxRequests                              int
	duration                                              time.Duration
	sign                                                  bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "soak" {
		if err := soak(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse-load soak:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		if err := bench(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "gatehouse-load bench:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	flag.StringVar(&c.url, "url", "https://localhost:8443/services/accounts", "service URL")
	flag.StringVar(&c.certFile, "cert", "conf/demo/pki/consumer.crt", "client certificate")
	flag.StringVar(&c.keyFile, "key", "conf/demo/pki/consumer.key", "client key")
	flag.StringVar(&c.caFile, "cacert", "conf/demo/pki/ca.crt", "CA of the gateway's certificate")
	flag.StringVar(&c.file, "file", "conf/demo/requests/get-balance-11.xml", "request envelope")
	flag.StringVar(&c.action, "action", "", "SOAPAction / action parameter")
	flag.StringVar(&c.version, "soap", "1.1", "SOAP version of the request: 1.1 or 1.2")
	flag.IntVar(&c.concurrency, "c", 4, "concurrent connections")
	flag.IntVar(&c.maxRequests, "n", 100000, "stop after this many requests")
	flag.DurationVar(&c.duration, "d", 10*time.Second, "stop after this long (at most 10m)")
	flag.BoolVar(&c.sign, "sign", false, "sign every request with the client key")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-load:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.duration <= 0 || c.duration > 10*time.Minute || c.concurrency < 1 || c.concurrency > 256 || c.maxRequests < 1 {
		return errors.New("need 0 < -d ≤ 10m, 1 ≤ -c ≤ 256, -n ≥ 1")
	}
	v, err := soap.ParseVersion(c.version)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(c.file)
	if err != nil {
		return err
	}
	client, err := soapclient.New(c.certFile, c.keyFile, c.caFile, c.concurrency)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[string]int{}
		budget    = make(chan struct{}, c.maxRequests)
	)
	for range c.maxRequests {
		budget <- struct{}{}
	}
	close(budget)
	start := time.Now()
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range budget {
				if ctx.Err() != nil {
					return
				}
				payload := body
				if c.sign {
					var err error
					if payload, err = client.Secure(body, true); err != nil {
						mu.Lock()
						statuses["sign error: "+err.Error()]++
						mu.Unlock()
						continue
					}
				}
				t0 := time.Now()
				status := send(ctx, client, c.url, v, c.action, payload)
				d := time.Since(t0)
				mu.Lock()
				if ctx.Err() == nil { // a request cut by the deadline has no latency
					latencies = append(latencies, d)
				}
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	report(os.Stdout, elapsed, latencies, statuses)
	return nil
}

// send posts one request and names its outcome.
func send(ctx context.Context, client *soapclient.Client, url string, v soap.Version, action string, body []byte) string {
	status, _, err := client.Post(ctx, url, v, action, body)
	switch {
	case err != nil && ctx.Err() != nil:
		return "cancelled at deadline"
	case err != nil:
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%d %s", status, http.StatusText(status))
}

func report(w io.Writer, elapsed time.Duration, lat []time.Duration, statuses map[string]int) {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(w, "requests: %d in %v (%.0f/s)\n", len(lat), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds())
	fmt.Fprintf(w, "latency: p50 %v  p90 %v  p99 %v  max %v\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %6d  %s\n", statuses[k], k)
	}
}
