// Command gatehouse runs the Gatehouse SOAP security gateway.
//
//	gatehouse serve -config FILE      start serving (SIGTERM: not ready, delay, drain, exit; SIGHUP reloads mapping tables and listener certificates)
//	gatehouse check-config FILE       validate a configuration and exit
//	gatehouse token …                 get a SAML token from a running STS
//	gatehouse call …                  call a service with a token, optionally signed
//	gatehouse explain …               replay an authorization decision, rule by rule
//	gatehouse graph CONFIG            the information-flow graph as Graphviz DOT
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  gatehouse serve -config FILE [-drain 30s] [-shutdown-delay 5s]
  gatehouse check-config FILE
  gatehouse token -sts URL -audience URI [-user NAME -password-file FILE] [-keytype bearer|publickey]
  gatehouse call -url URL -file REQUEST.xml [-token TOKEN.xml] [-sign] [-soap 1.1|1.2]
  gatehouse explain -config FILE -service NAME -caller ID [-subject S -issuer I -roles a,b -attr k=v -authn M -composite C] REQUEST.xml
  gatehouse graph [-svg FILE] CONFIG
  gatehouse wsdl [-service NAME] [-port NAMES] FILE
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check-config":
		return checkConfig(args[1:], stdout, stderr)
	case "token":
		return tokenCmd(args[1:], stdout, stderr)
	case "call":
		return callCmd(args[1:], stdout, stderr)
	case "explain":
		return explainCmd(args[1:], stdout, stderr)
	case "graph":
		return graphCmd(args[1:], stdout, stderr)
	case "wsdl":
		return wsdlCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// checkConfig runs the same loader as serve and prints every problem.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: gatehouse check-config FILE")
		return 2
	}
	cfg, err := conf.Load(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer cfg.Close()
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_ = g.Shutdown(context.Background())
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	fmt.Fprintln(stdout, cfg.Summary())
	return 0
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file")
	drain := fs.Duration("drain", 30*time.Second, "how long SIGTERM waits for in-flight requests once the listeners closed; those still running are aborted and audited")
	delay := fs.Duration("shutdown-delay", 5*time.Second, "after SIGTERM, how long /readyz answers 503 while the listeners still serve (0: close at once)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gatehouse serve: -config is required")
		return 2
	}
	if *drain < 0 || *delay < 0 {
		fmt.Fprintln(stderr, "gatehouse serve: -drain and -shutdown-delay may not be negative")
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	store.SetRedisLogger(log)

	cfg, err := conf.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer cfg.Close()
	g, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	if err := g.Start(); err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	log.Info("gatehouse started", "config", cfg.Path, "summary", cfg.Summary())

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	code := 0
	if !waitForStop(log, g, sig, nil) {
		code = 1
	} else if *delay > 0 {
		// Phase 1: not ready, still serving, so that load balancers take
		// the instance out before its listeners close; responses carry
		// Connection: close. A second SIGTERM or SIGINT ends the delay.
		g.BeginShutdown()
		log.Info("shutdown: not ready, still serving", "delay", delay.String())
		if !waitForStop(log, g, sig, time.After(*delay)) {
			code = 1
		}
	}
	// Phase 2: stop accepting, drain; past -drain, in-flight requests are
	// aborted (each audited once), then the audit sinks are flushed.
	log.Info("shutdown: listeners closing, draining in-flight requests", "timeout", drain.String())
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// waitForStop serves SIGHUP (reloading the credential mapping tables and
// the listeners' certificates and client CAs) until SIGTERM or SIGINT
// arrives or until is ready (nil: never); it returns false when a listener
// failed instead.
func waitForStop(log *slog.Logger, g *gateway.Gateway, sig <-chan os.Signal, until <-chan time.Time) bool {
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				// Mapping tables change without a restart.
				if err := g.ReloadCredentialTables(); err != nil {
					log.Error("reload of credential mapping tables failed; the previous tables stay in force", "err", err)
				} else {
					log.Info("credential mapping tables reloaded")
				}
				// Listener certificates and client CAs: each listener logs
				// and counts its own result; a failed one keeps the
				// previous ones.
				_ = g.ReloadCertificates()
				continue
			}
			if until == nil {
				log.Info("shutdown: signal received", "signal", s.String())
			} else {
				log.Info("shutdown: signal received again, delay ended early", "signal", s.String())
			}
			return true
		case <-until:
			return true
		case err := <-g.Errors():
			log.Error("listener failed", "err", err)
			return false
		}
	}
}
