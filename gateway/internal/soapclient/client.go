// Package soapclient is the small SOAP-over-mTLS client the command-line
// tools share (gatehouse token and call, gatehouse-load): it loads a client
// certificate and a CA, and posts envelopes with the headers of their SOAP
// version's HTTP binding.
package soapclient

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

// Client posts SOAP envelopes over mutual TLS.
type Client struct {
	HTTP *http.Client
	// Key and Cert are the client's, for signing requests.
	Key  crypto.Signer
	Cert *x509.Certificate
}

// New loads the client certificate and key and the CA bundle that issued
// the server's certificate. maxConns sizes the connection pool.
func New(certFile, keyFile, caFile string, maxConns int) (*Client, error) {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	signer, ok := kp.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("client key cannot sign")
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: maxConns,
	}
	return &Client{HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}, Key: signer, Cert: kp.Leaf}, nil
}

// Post sends body as a SOAP request of version v with the given action and
// returns the status and the answer.
func (c *Client) Post(ctx context.Context, url string, v soap.Version, action string, body []byte) (int, []byte, error) {
	r, err := c.Call(ctx, url, v, action, body)
	return r.Status, r.Body, err
}

// Reply is a service's answer to Call.
type Reply struct {
	Status        int
	Body          []byte
	CorrelationID string // the X-Correlation-ID the gateway answered with
}

// Call is Post that also returns the correlation id of the answer.
func (c *Client) Call(ctx context.Context, url string, v soap.Version, action string, body []byte) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Reply{}, err
	}
	if v == soap.V12 {
		req.Header.Set("Content-Type", soap.MediaType12+"; charset=utf-8; action="+strconv.Quote(action))
	} else {
		req.Header.Set("Content-Type", v.ContentType())
		req.Header.Set("SOAPAction", strconv.Quote(action))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return Reply{Status: resp.StatusCode, Body: out, CorrelationID: resp.Header.Get("X-Correlation-ID")}, err
}

// Secure adds a Security header to the envelope in body: the tokens (e.g. a
// SAML assertion), and with sign a Timestamp and a signature by the client
// key over Body, Timestamp and the tokens.
func (c *Client) Secure(body []byte, sign bool, tokens ...*etree.Element) ([]byte, error) {
	env, err := soap.Parse(body, soap.DefaultLimits())
	if err != nil {
		return nil, err
	}
	if sign {
		s := &wssec.Signer{Key: c.Key, Cert: c.Cert, Clock: time.Now, Tokens: tokens, SignTokens: true}
		if err := s.Sign(env); err != nil {
			return nil, err
		}
		return env.Bytes()
	}
	if len(tokens) == 0 {
		return body, nil
	}
	env.EnsureHeader()
	sec := env.Header.CreateElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", soap.NSWSSE)
	for _, t := range tokens {
		sec.AddChild(t)
	}
	return env.Bytes()
}
