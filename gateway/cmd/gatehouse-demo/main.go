// Command gatehouse-demo runs the pieces of the Gatehouse demo:
//
//	gatehouse-demo pki -dir DIR [-force]      create the demo PKI if absent or expiring
//	gatehouse-demo backend -listen ADDR        the demo services: accounts, the CICS region,
//	                                           the customer register and KYC
//	                                           (/accounts, /cics, /customers, /kyc; plain HTTP on loopback)
package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gatehouse-demo pki|backend [flags]")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	switch os.Args[1] {
	case "pki":
		err = pki(os.Args[2:])
	case "backend":
		err = backend(os.Args[2:], log)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse-demo:", err)
		os.Exit(1)
	}
}

func pki(args []string) error {
	fs := flag.NewFlagSet("pki", flag.ExitOnError)
	dir := fs.String("dir", "conf/demo/pki", "where to write the PKI")
	force := fs.Bool("force", false, "regenerate even if current")
	stsKey := fs.String("sts-key", demopki.KeyRSA2048, "the STS signing key: rsa (RSA-2048) or ecdsa (P-256)")
	_ = fs.Parse(args)
	opts := demopki.Options{STSKey: *stsKey}
	if !*force && demopki.CurrentWith(*dir, opts) {
		fmt.Println("demo PKI in", *dir, "is current")
		return nil
	}
	if err := demopki.GenerateWith(*dir, opts); err != nil {
		return err
	}
	fmt.Println("demo PKI written to", *dir)
	return nil
}

func backend(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:8081", "address of the demo accounts service")
	racfKey := fs.String("racf-key", "conf/demo/pki/racf-cicsprod.key", "the demo CICS region's secured signon key (hex)")
	_ = fs.Parse(args)
	data, err := os.ReadFile(*racfKey)
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("%s: %w", *racfKey, err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /accounts", &demo.Accounts{Log: log})
	// The demo "legacy CICS" region: RACF users ALICE01 and BATCH01,
	// application CICSPROD, enhanced PassTickets.
	mux.Handle("POST /cics", &demo.CICS{
		Generator:   credmap.Generator{Algorithm: credmap.Enhanced, Key: key},
		Application: "CICSPROD", Users: map[string]bool{"ALICE01": true, "BATCH01": true}, Log: log,
	})
	mux.Handle("POST /customers", &demo.Customers{Log: log})
	mux.Handle("POST /kyc", &demo.KYC{Log: log})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("demo backends listening", "address", *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
