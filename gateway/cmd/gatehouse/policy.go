package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/authz"
)

// loadPolicy loads a configuration and compiles its policy.
func loadPolicy(path string) (*authz.Policy, error) {
	cfg, err := conf.Load(path)
	if err != nil {
		return nil, err
	}
	defer cfg.Close()
	return authz.Compile(cfg.Policy)
}

// explainCmd replays an authorization decision:
//
//	gatehouse explain -config FILE -service NAME -caller ID [-subject S] [-issuer I] [-roles a,b] [-attr k=v]… [-authn M] [-composite C] [-actors a,b] REQUEST.xml
//
// It prints every rule considered and exits 0 when the request would be
// allowed, 1 when denied.
func explainCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file")
	v := url.Values{}
	for _, name := range []string{"service", "caller", "subject", "issuer", "roles", "authn", "composite"} {
		fs.Func(name, "the request's "+name, func(s string) error { v.Set(name, s); return nil })
	}
	fs.Func("actors", "the request's delegation chain a,b (oldest first; the last actor made the call)", func(s string) error { v.Set("actors", s); return nil })
	fs.Func("attr", "an attribute name=value (repeatable)", func(s string) error { v.Add("attr", s); return nil })
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cfgPath == "" || fs.NArg() != 1 || v.Get("service") == "" {
		fmt.Fprintln(stderr, "usage: gatehouse explain -config FILE -service NAME -caller ID [...] REQUEST.xml")
		return 2
	}
	p, err := loadPolicy(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	msg, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	out, allowed, err := gateway.Explain(p, msg, gateway.QueryFromValues(v))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprint(stdout, out)
	if !allowed {
		return 1
	}
	return 0
}

// graphCmd prints the information-flow graph as Graphviz DOT, and with
// -svg FILE also renders it with dot (when Graphviz is installed).
func graphCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	svg := fs.String("svg", "", "also write an SVG rendering here (needs Graphviz dot)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: gatehouse graph [-svg FILE] CONFIG")
		return 2
	}
	p, err := loadPolicy(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	dot := p.DOT()
	fmt.Fprint(stdout, dot)
	if *svg == "" {
		return 0
	}
	bin, err := exec.LookPath("dot")
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse graph: Graphviz dot is not installed (apt-get install graphviz); the DOT text is above")
		return 1
	}
	cmd := exec.Command(bin, "-Tsvg", "-o", *svg)
	cmd.Stdin, cmd.Stderr = strings.NewReader(dot), stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(stderr, "gatehouse graph:", err)
		return 1
	}
	return 0
}
