// Package demo holds the demo backends that stand behind Gatehouse in the
// demo configuration and in end-to-end tests. They are small but real SOAP
// services: they parse with the hardened parser, answer in the request's
// SOAP version and fault on anything they do not understand.
package demo

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/soap"
)

// AccountsNS is the namespace of the demo accounts service.
const AccountsNS = "urn:gatehouse:demo:accounts"

// Accounts is the demo accounts service: GetBalance and Transfer.
type Accounts struct {
	Log             *slog.Logger
	calls           atomic.Int64
	lastCorrelation atomic.Value
	lastRequest     atomic.Value
}

// LastRequest is the body of the latest call, as the backend received it.
func (a *Accounts) LastRequest() []byte {
	b, _ := a.lastRequest.Load().([]byte)
	return b
}

// Calls is how many requests reached the service.
func (a *Accounts) Calls() int64 { return a.calls.Load() }

// LastCorrelationID is the correlation id the gateway sent with the latest call.
func (a *Accounts) LastCorrelationID() string {
	s, _ := a.lastCorrelation.Load().(string)
	return s
}

func (a *Accounts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	a.lastCorrelation.Store(r.Header.Get("X-Correlation-ID"))
	v := soap.V11
	if b, err := soap.ReadBinding(r.Header.Get("Content-Type"), r.Header.Values("SOAPAction")); err == nil {
		v = b.Version
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fault(w, v, soap.SenderFault("unreadable request", err))
		return
	}
	a.lastRequest.Store(body)
	env, err := soap.Parse(body, soap.DefaultLimits())
	if err != nil {
		fault(w, v, soap.AsFault(err))
		return
	}
	op := env.Operation()
	if a.Log != nil {
		a.Log.Info("accounts call", "operation", op.Local, "correlationId", r.Header.Get("X-Correlation-ID"))
	}
	if op.Space != AccountsNS {
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %v", op)))
		return
	}
	p := env.Payload()
	switch op.Local {
	case "GetBalance":
		id := childText(p, "AccountId")
		n, _ := strconv.ParseInt(id, 10, 64)
		respond(w, env.Version, fmt.Sprintf(`<a:GetBalanceResponse xmlns:a="%s"><a:AccountId>%s</a:AccountId><a:Balance>%d.%02d</a:Balance><a:Currency>EUR</a:Currency></a:GetBalanceResponse>`,
			AccountsNS, xmlEscape(id), 1000+n%9000, n%100))
	case "Transfer":
		respond(w, env.Version, fmt.Sprintf(`<a:TransferResponse xmlns:a="%s"><a:Status>accepted</a:Status><a:Reference>%s</a:Reference></a:TransferResponse>`,
			AccountsNS, xmlEscape(childText(p, "Reference"))))
	default:
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %v", op)))
	}
}
