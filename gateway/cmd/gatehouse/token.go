package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/gateway/internal/soapclient"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

// clientFlags are the mTLS settings token and call share.
type clientFlags struct{ cert, key, ca string }

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cert, "cert", "conf/demo/pki/consumer.crt", "client certificate (PEM)")
	fs.StringVar(&c.key, "key", "conf/demo/pki/consumer.key", "client key (PEM)")
	fs.StringVar(&c.ca, "cacert", "conf/demo/pki/ca.crt", "CA of the gateway's certificate")
}

// tokenCmd asks a running STS for a SAML token and prints the assertion.
//
//	gatehouse token -sts URL -audience URI [-user NAME -password-file FILE] [-keytype bearer|publickey]
//
// Without -user the client certificate authenticates the requester. The
// password comes from -password-file or $GATEHOUSE_PASSWORD, never from the
// command line (where ps would show it).
func tokenCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	sts := fs.String("sts", "https://localhost:8443/sts", "STS endpoint")
	audience := fs.String("audience", "", "AppliesTo: the audience URI of the service the token is for")
	user := fs.String("user", "", "authenticate with a UsernameToken as this user")
	pwFile := fs.String("password-file", "", "file holding the password (else $GATEHOUSE_PASSWORD)")
	keyType := fs.String("keytype", "bearer", "bearer or publickey (holder-of-key bound to the client certificate)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *audience == "" {
		fmt.Fprintln(stderr, "gatehouse token: -audience is required")
		return 2
	}
	c, err := soapclient.New(cf.cert, cf.key, cf.ca, 1)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse token:", err)
		return 1
	}
	header := ""
	if *user != "" {
		pw, err := password(*pwFile)
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse token:", err)
			return 1
		}
		ut := etree.NewElement("wsse:UsernameToken")
		ut.CreateElement("wsse:Username").SetText(*user)
		ut.CreateElement("wsse:Password").SetText(pw)
		doc := etree.NewDocument()
		doc.SetRoot(ut)
		s, _ := doc.WriteToString()
		header = `<soap:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `">` + s + `</wsse:Security></soap:Header>`
	}
	kt := samlsts.KeyTypeBearer
	if *keyType == "publickey" {
		kt = samlsts.KeyTypePublic
	}
	addr := etree.NewElement("wsa:Address")
	addr.SetText(*audience)
	ad := etree.NewDocument()
	ad.SetRoot(addr)
	addrXML, _ := ad.WriteToString()
	body := `<soap:Envelope xmlns:soap="` + soap.NS11 + `">` + header + `<soap:Body>` +
		`<wst:RequestSecurityToken xmlns:wst="` + samlsts.NSTrust + `"><wst:RequestType>` + samlsts.RequestIssue + `</wst:RequestType>` +
		`<wsp:AppliesTo xmlns:wsp="` + samlsts.NSPolicy + `"><wsa:EndpointReference xmlns:wsa="` + soap.NSWSA + `">` + addrXML +
		`</wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>` + kt + `</wst:KeyType></wst:RequestSecurityToken></soap:Body></soap:Envelope>`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, out, err := c.Post(ctx, *sts, soap.V11, samlsts.NSTrust+"/RST/Issue", []byte(body))
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse token:", err)
		return 1
	}
	if status != 200 {
		fmt.Fprintf(stderr, "gatehouse token: STS answered %d:\n%s\n", status, out)
		return 1
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		fmt.Fprintln(stderr, "gatehouse token: STS answer:", err)
		return 1
	}
	a := doc.FindElement("//RequestedSecurityToken/Assertion")
	if a == nil {
		fmt.Fprintf(stderr, "gatehouse token: no assertion in the STS answer:\n%s\n", out)
		return 1
	}
	td := etree.NewDocument()
	td.SetRoot(a.Copy())
	s, _ := td.WriteToString()
	fmt.Fprintln(stdout, s)
	return 0
}

func password(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if pw := os.Getenv("GATEHOUSE_PASSWORD"); pw != "" {
		return pw, nil
	}
	return "", errors.New("no password: use -password-file or $GATEHOUSE_PASSWORD")
}

// callCmd sends a SOAP request with a token in its Security header,
// optionally signed with the client key (Body, Timestamp and the token).
//
//	gatehouse call -url URL -file REQUEST.xml [-token TOKEN.xml] [-sign] [-soap 1.1|1.2] [-action URI]
func callCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	url := fs.String("url", "https://localhost:8443/services/accounts", "service URL")
	file := fs.String("file", "conf/demo/requests/get-balance-11.xml", "request envelope")
	tokenFile := fs.String("token", "", "SAML assertion to attach (from gatehouse token)")
	sign := fs.Bool("sign", false, "sign Body, Timestamp and token with the client key")
	version := fs.String("soap", "1.1", "SOAP version of the request")
	action := fs.String("action", "", "SOAPAction / action parameter")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	v, err := soap.ParseVersion(*version)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse call:", err)
		return 2
	}
	c, err := soapclient.New(cf.cert, cf.key, cf.ca, 1)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse call:", err)
		return 1
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse call:", err)
		return 1
	}
	var tokens []*etree.Element
	if *tokenFile != "" {
		doc := etree.NewDocument()
		if err := doc.ReadFromFile(*tokenFile); err != nil {
			fmt.Fprintln(stderr, "gatehouse call: token:", err)
			return 1
		}
		if doc.Root() == nil {
			fmt.Fprintf(stderr, "gatehouse call: token: %s holds no XML element (did gatehouse token fail?)\n", *tokenFile)
			return 1
		}
		tokens = append(tokens, doc.Root())
	}
	if body, err = c.Secure(body, *sign, tokens...); err != nil {
		fmt.Fprintln(stderr, "gatehouse call:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.Call(ctx, *url, v, *action, body)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse call:", err)
		return 1
	}
	fmt.Fprintf(stdout, "HTTP %d\n", r.Status)
	if r.CorrelationID != "" {
		fmt.Fprintf(stdout, "X-Correlation-ID: %s\n", r.CorrelationID)
	}
	fmt.Fprintf(stdout, "%s\n", r.Body)
	if r.Status != 200 {
		return 1
	}
	return 0
}
