package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// The soak subcommand holds Gatehouse at an open-loop load for a while and
// watches its memory:
//
//	gatehouse-load soak [-path wss] [-d 10m] [-rate 0] [-c 32]
//
// The gateway runs as a process of its own (the gatehouse binary beside
// this one), so that its resident set is read from /proc apart from the
// load generator's. Without -rate, a short closed-loop round measures the
// gateway's maximum and the soak runs at half of it. Every signed message
// and bearer assertion is fresh. It prints the resident set and latency
// every -every, and at the end the growth of the resident set from the
// first sample after the warm-up (the first fifth of the run, at least
// 30 s when the run is long enough) to the last minute's median; it exits
// non-zero when that growth exceeds -maxgrowth or a request fails.
func soak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	path := fs.String("path", "wss", "path to load: plain, wss, saml or hok")
	d := fs.Duration("d", 10*time.Minute, "how long to hold the load (at most 1h)")
	rate := fs.Float64("rate", 0, "requests per second (0: half the measured maximum)")
	conc := fs.Int("c", 32, "connections")
	every := fs.Duration("every", 30*time.Second, "report interval")
	key := fs.String("key", "rsa", "the consumer's message signing key: rsa or ecdsa")
	maxGrowth := fs.Float64("maxgrowth", 10, "largest acceptable growth of the resident set after warm-up, in percent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *d < 10*time.Second || *d > time.Hour || *rate < 0 || *rate > 100000 || *conc < 1 || *conc > 256 || *every < time.Second {
		return errors.New("need 10s ≤ -d ≤ 1h, 0 ≤ -rate ≤ 100000, 1 ≤ -c ≤ 256, -every ≥ 1s")
	}
	gatehouse, err := siblingBinary("gatehouse")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := newBenchEnv(dir, []string{*path}, *conc, false, *key)
	if err != nil {
		return err
	}
	defer b.close()
	if b.skip[*path] != "" {
		return fmt.Errorf("%s: %s", *path, b.skip[*path])
	}
	if err := b.startChild(gatehouse, *path); err != nil {
		return err
	}
	url := b.childURL + b.pathOf(*path)

	warm, err := b.messages(*path, 1000)
	if err != nil {
		return err
	}
	r, err := b.run(url, warm, *conc)
	if err != nil {
		return fmt.Errorf("closed-loop round: %w", err)
	}
	if *rate == 0 {
		*rate = r.rate / 2
	}
	fmt.Printf("gatehouse-load soak: path %s, closed-loop maximum %.0f req/s, holding %.0f req/s open loop for %v, gateway pid %d\n\n",
		*path, r.rate, *rate, *d, b.child.Process.Pid)
	fmt.Printf("%8s %10s %10s %10s %10s %6s\n", "time", "RSS MiB", "requests", "p50", "p99", "late")

	// Producers sign ahead into a buffer of two seconds of messages.
	msgs := make(chan []byte, int(*rate*2)+1)
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	var perr atomic.Value
	var pwg sync.WaitGroup
	for range runtimeProcs() {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for ctx.Err() == nil {
				m, err := b.message(*path)
				if err != nil {
					perr.CompareAndSwap(nil, err)
					cancel()
					return
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
				}
			}
		}()
	}
	// Fill the buffer before the clock starts.
	for len(msgs) < cap(msgs)-1 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}

	var (
		mu      sync.Mutex
		window  []time.Duration
		total   int
		late    int
		failure atomic.Value
		wg      sync.WaitGroup
	)
	var samples []float64
	warmUntil := time.Now().Add(max(*d/5, min(30*time.Second, *d/2)))
	report := func(elapsed time.Duration) {
		rss, err := residentMiB(b.child.Process.Pid)
		if err != nil {
			failure.CompareAndSwap(nil, err)
			return
		}
		mu.Lock()
		w := window
		window = nil
		n, l := total, late
		mu.Unlock()
		slices.Sort(w)
		var p50, p99 time.Duration
		if len(w) > 0 {
			p50, p99 = w[len(w)/2], w[min(len(w)-1, len(w)*99/100)]
		}
		if time.Now().After(warmUntil) {
			samples = append(samples, rss)
		}
		fmt.Printf("%8v %10.1f %10d %10v %10v %6d\n", elapsed.Round(time.Second), rss, n, p50.Round(time.Microsecond), p99.Round(time.Microsecond), l)
	}

	sem := make(chan struct{}, *conc) // no more than the client keeps connections (see bench)
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	nextReport := start.Add(*every)
	for i := 0; ctx.Err() == nil && failure.Load() == nil; i++ {
		slot := start.Add(time.Duration(i) * interval)
		if dl := time.Until(slot); dl > 0 {
			time.Sleep(dl)
		}
		if time.Now().After(nextReport) {
			report(time.Since(start))
			nextReport = nextReport.Add(*every)
		}
		var m []byte
		select {
		case m = <-msgs:
		case <-ctx.Done():
			continue
		}
		sem <- struct{}{}
		if time.Since(slot) > 10*time.Millisecond {
			mu.Lock()
			late++
			mu.Unlock()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, body, err := b.client.Post(context.Background(), url, soap.V11, "urn:gatehouse:demo:accounts:GetBalance", m)
			lat := time.Since(slot)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %.200s", status, body)
			}
			if err != nil {
				failure.CompareAndSwap(nil, err)
				return
			}
			mu.Lock()
			window = append(window, lat)
			total++
			mu.Unlock()
		}()
	}
	wg.Wait()
	pwg.Wait()
	report(time.Since(start))
	if err, _ := perr.Load().(error); err != nil {
		return fmt.Errorf("signing messages: %w", err)
	}
	if err, _ := failure.Load().(error); err != nil {
		return err
	}
	if len(samples) < 2 {
		return errors.New("too few samples after the warm-up: run longer or report more often")
	}
	first := samples[0]
	tail := samples[max(0, len(samples)-max(1, int(time.Minute / *every))):]
	slices.Sort(tail)
	last := tail[len(tail)/2]
	growth := (last - first) / first * 100
	fmt.Printf("\nresident set after warm-up %.1f MiB, at the end %.1f MiB (median of the last minute's samples): %+.1f%% (limit %.0f%%); %d requests, %d left late\n",
		first, last, growth, *maxGrowth, total, late)
	if growth > *maxGrowth {
		return fmt.Errorf("the resident set grew %.1f%%, more than %.0f%%", growth, *maxGrowth)
	}
	return nil
}

// startChild writes the bench configuration for path p with fixed free
// ports and starts the gatehouse binary on it.
func (b *benchEnv) startChild(bin, p string) error {
	edge, err := freePort()
	if err != nil {
		return err
	}
	admin, err := freePort()
	if err != nil {
		return err
	}
	store := ""
	if p == "saml" || p == "hok" {
		store = b.redisStore
	}
	cfg := strings.NewReplacer("BACKEND", b.backendURL, "STORE", store, "NAME", "soak").Replace(benchConfig)
	cfg = strings.Replace(cfg, `<listener name="edge" address="127.0.0.1:0">`, `<listener name="edge" address="`+edge+`">`, 1)
	cfg = strings.Replace(cfg, `<admin address="127.0.0.1:0"/>`, `<admin address="`+admin+`"/>`, 1)
	path := filepath.Join(b.dir, "gatehouse-soak.xml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(b.dir, "gatehouse-soak.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "-config", path, "-shutdown-delay", "0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	b.child = cmd
	b.closers = append(b.closers, func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
	})
	b.childURL = "https://" + edge
	for range 200 {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _ := os.ReadFile(log.Name())
	return fmt.Errorf("the gateway did not become ready: %.2000s", out)
}

// residentMiB reads VmRSS of process pid.
func residentMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// siblingBinary finds a binary installed beside this one (bin/).
func siblingBinary(name string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found beside %s: ./build.sh build installs both", name, self)
	}
	return p, nil
}
