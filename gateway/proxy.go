package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

const headerCorrelationID = "X-Correlation-ID"

// backend is the compiled outbound side of a service: one HTTP client with
// its own connection pool and the limits of the configuration.
type backend struct {
	url         string
	client      *http.Client
	timeout     time.Duration
	maxResponse int64
	// signer signs outbound requests for backends that require it;
	// encrypter encrypts their Body content (encryptFirst: before the
	// signature, else after it).
	signer       *wssec.Signer
	encrypter    *xmlenc.Encrypter
	encryptFirst bool
}

func newBackend(b *conf.Backend, clock func() time.Time) *backend {
	var enc *xmlenc.Encrypter
	encryptFirst := false
	if e := b.Encrypt; e != nil {
		enc, encryptFirst = &xmlenc.Encrypter{Recipient: e.Recipient(), SHA256: e.SHA256}, e.EncryptBeforeSigning
	}
	return &backend{
		signer:       backendSigner(b, clock),
		encrypter:    enc,
		encryptFirst: encryptFirst,
		url:          b.URL.String(),
		client: &http.Client{
			Transport: newBackendTransport(b),
			// A redirect would send the request somewhere the configuration did not name.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:     b.Timeout,
		maxResponse: b.MaxResponseBytes,
	}
}

// backendSessionCache is the number of TLS sessions kept per backend for
// resumption: a backend is one host (a few behind its name at most).
const backendSessionCache = 64

// newBackendTransport is the one Transport (and connection pool) of a
// backend, made when the configuration is loaded, never per request.
//
// Its idle pool holds as many connections as the bulkhead lets calls run at
// once, so that a steady load at the bulkhead's limit reuses connections
// instead of closing the surplus after each burst (the default keeps 2).
// There is no MaxConnsPerHost: the bulkhead is the limit on concurrent
// calls, and a second, lower limit here would queue calls that hold a
// bulkhead slot. TLS sessions are cached, so a new connection to the
// backend resumes a session (an abbreviated handshake) instead of a full
// one. HTTP/2 is tried on https backends (one connection multiplexes every
// call then); plaintext backends speak HTTP/1.1.
func newBackendTransport(b *conf.Backend) *http.Transport {
	dialer := &net.Dialer{Timeout: b.ConnectTimeout, KeepAlive: 30 * time.Second}
	tlsConfig := b.ClientTLSConfig()
	if tlsConfig != nil && tlsConfig.ClientSessionCache == nil {
		tlsConfig.ClientSessionCache = tls.NewLRUClientSessionCache(backendSessionCache)
	}
	idle := max(b.MaxConcurrent, 2) // 2 is http.DefaultMaxIdleConnsPerHost
	return &http.Transport{
		// Never an environment proxy: the backend is where the configuration says.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   b.ConnectTimeout,
		ResponseHeaderTimeout: b.Timeout,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     b.URL.Scheme == "https",
	}
}

func backendSigner(b *conf.Backend, clock func() time.Time) *wssec.Signer {
	if key, cert := b.SigningKey(); key != nil {
		return &wssec.Signer{Key: key, Cert: cert, Clock: clock}
	}
	return nil
}

// outbound is what goes to the backend. It is built from the parsed inbound
// envelope, never from the raw request: the backend receives exactly the
// document the gateway checked, and only the headers the gateway chose.
type outbound struct {
	env           *soap.Envelope
	actor         string // the actor/role of Gatehouse's inbound Security header
	action        string
	hasAction     bool
	correlationID string
	// cred is the legacy credential for the backend, rendered as render
	// says (usernameToken in the envelope; basic or header on HTTP).
	cred           *credmap.Credential
	render, header string
	// tokens go in the outbound Security header (a per-hop or propagated
	// assertion); headers are identity headers for the backend.
	tokens  []*etree.Element
	headers http.Header
}

type backendResponse struct {
	status int
	body   []byte
	env    *soap.Envelope // body, as the hardened parser read it
}

// call sends out to the backend and reads its answer. The answer must be a
// SOAP envelope of the request's version that passes the same hardened
// parser (so a backend cannot hand a DTD or an oversized document to the
// consumer), within the response size limit and the timeout. Failures are
// Receiver faults: 504 for a timeout, 502 otherwise.
func (b *backend) call(ctx context.Context, out *outbound, lim soap.Limits) (*backendResponse, error) {
	body, err := b.outboundEnvelope(out)
	if err != nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("serialize outbound envelope: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("build backend request: %w", err))
	}
	v := out.env.Version
	if v == soap.V12 {
		ct := soap.MediaType12 + "; charset=utf-8"
		if out.hasAction {
			ct = mime.FormatMediaType(soap.MediaType12, map[string]string{"charset": "utf-8", "action": out.action})
		}
		req.Header.Set("Content-Type", ct)
	} else {
		req.Header.Set("Content-Type", v.ContentType())
		req.Header.Set("SOAPAction", strconv.Quote(out.action))
	}
	req.Header.Set(headerCorrelationID, out.correlationID)
	for name, vals := range out.headers {
		req.Header[name] = vals
	}
	// The backend call's span, as W3C traceparent (nothing when tracing is off).
	injectTrace(ctx, req.Header)
	if err := renderHeaders(req.Header, out.render, out.header, out.cred); err != nil {
		return nil, soap.ReceiverFault("internal error", fmt.Errorf("render credential: %w", err))
	}

	resp, err := b.client.Do(req)
	if err != nil {
		return nil, backendError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.maxResponse+1))
	r := &backendResponse{status: resp.StatusCode}
	if err != nil {
		return r, backendError(err)
	}
	if int64(len(data)) > b.maxResponse {
		return r, soap.ReceiverFault("backend response invalid", fmt.Errorf("backend response exceeds %d bytes", b.maxResponse)).WithStatus(http.StatusBadGateway)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	want := soap.MediaType11
	if v == soap.V12 {
		want = soap.MediaType12
	}
	if mt != want {
		return r, soap.ReceiverFault("backend response invalid", fmt.Errorf("backend answered %d with content type %q", resp.StatusCode, mt)).WithStatus(http.StatusBadGateway)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusInternalServerError:
	default:
		return r, soap.ReceiverFault("backend response invalid", fmt.Errorf("backend status %d", resp.StatusCode)).WithStatus(http.StatusBadGateway)
	}
	respLim := lim
	respLim.MaxBytes = b.maxResponse
	renv, err := soap.Parse(data, respLim)
	if err != nil {
		return r, soap.ReceiverFault("backend response invalid", fmt.Errorf("backend response: %w", err)).WithStatus(http.StatusBadGateway)
	}
	if renv.Version != v {
		return r, soap.ReceiverFault("backend response invalid", fmt.Errorf("backend answered SOAP %v to SOAP %v", renv.Version, v)).WithStatus(http.StatusBadGateway)
	}
	r.body, r.env = data, renv
	return r, nil
}

// forwardedAddressing lists the WS-Addressing headers a backend gets.
func forwardedAddressing(local string) bool {
	switch local {
	case "Action", "MessageID", "RelatesTo":
		return true
	}
	return false
}

func backendError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return soap.ReceiverFault("backend timed out", fmt.Errorf("backend: %w", err)).WithStatus(http.StatusGatewayTimeout)
	}
	return soap.ReceiverFault("backend unavailable", fmt.Errorf("backend: %w", err)).WithStatus(http.StatusBadGateway)
}

// outboundEnvelope serializes a copy of the inbound envelope without the
// Security header blocks addressed to Gatehouse (invariant 11), of every
// WS-Security version and draft: the inbound credentials and signatures
// were for Gatehouse, not for the backend. A backend that wants signed
// requests gets the gateway's own signature. Of the WS-Addressing headers
// only those that say what the message is (Action, MessageID, RelatesTo)
// go on: To named Gatehouse, and ReplyTo, FaultTo and From are the
// consumer's, not something a backend behind Gatehouse is to act on.
func (b *backend) outboundEnvelope(out *outbound) ([]byte, error) {
	env := out.env.Copy()
	if env.Header != nil {
		env.RemoveSecurityHeaders(out.actor)
		env.RemoveAddressingHeaders(forwardedAddressing)
	}
	if err := renderEnvelope(env, out.render, out.cred); err != nil {
		return nil, fmt.Errorf("render credential: %w", err)
	}
	encrypt := func() error {
		if b.encrypter == nil {
			return nil
		}
		if err := b.encrypter.Encrypt(env); err != nil {
			return fmt.Errorf("encrypt outbound request: %w", err)
		}
		return nil
	}
	if b.encryptFirst {
		if err := encrypt(); err != nil {
			return nil, err
		}
	}
	if b.signer != nil {
		s := *b.signer
		s.Tokens, s.SignTokens = out.tokens, len(out.tokens) > 0
		if err := s.Sign(env); err != nil {
			return nil, fmt.Errorf("sign outbound request: %w", err)
		}
	}
	if b.signer == nil && len(out.tokens) > 0 {
		env.EnsureHeader()
		sec, _ := wssec.FindSecurity(env, "") // the Encrypter's (encrypted first)
		if sec == nil {
			sec = etree.NewElement("wsse:Security")
			sec.CreateAttr("xmlns:wsse", soap.NSWSSE)
			env.Header.InsertChildAt(0, sec)
		}
		for _, t := range out.tokens {
			sec.AddChild(t.Copy())
		}
	}
	if !b.encryptFirst {
		// Signed (or carrying tokens), then encrypted: the EncryptedKey
		// goes first in that Security header.
		if err := encrypt(); err != nil {
			return nil, err
		}
	}
	return env.Bytes()
}
