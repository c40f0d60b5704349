// Command gatehouse-demo runs the pieces of the Gatehouse demo:
//
//	gatehouse-demo pki -dir DIR [-force]      create the demo PKI if absent or expiring
//	gatehouse-demo backend -listen ADDR        the demo accounts service (plain HTTP on loopback)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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
	_ = fs.Parse(args)
	if !*force && demopki.Current(*dir) {
		fmt.Println("demo PKI in", *dir, "is current")
		return nil
	}
	if err := demopki.Generate(*dir); err != nil {
		return err
	}
	fmt.Println("demo PKI written to", *dir)
	return nil
}

func backend(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:8081", "address of the demo accounts service")
	_ = fs.Parse(args)
	mux := http.NewServeMux()
	mux.Handle("POST /accounts", &demo.Accounts{Log: log})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("demo accounts backend listening", "address", *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
