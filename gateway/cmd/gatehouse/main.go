// Command gatehouse runs the Gatehouse SOAP security gateway.
//
//	gatehouse serve -config FILE      start serving (SIGTERM drains, then exits; SIGHUP reloads mapping tables)
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
  gatehouse serve -config FILE [-drain 30s]
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
	drain := fs.Duration("drain", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "gatehouse serve: -config is required")
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

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	code := 0
wait:
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
				continue
			}
			log.Info("draining", "signal", s.String(), "timeout", drain.String())
			break wait
		case err := <-g.Errors():
			log.Error("listener failed", "err", err)
			code = 1
			break wait
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}
