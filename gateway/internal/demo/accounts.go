// Package demo holds the demo backends that stand behind Gatehouse in the
// demo configuration and in end-to-end tests. They are small but real SOAP
// services: they parse with the hardened parser, answer in the request's
// SOAP version and fault on anything they do not understand.
package demo

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/soap"
)

// AccountsNS is the namespace of the demo accounts service.
const AccountsNS = "urn:gatehouse:demo:accounts"

// Accounts is the demo accounts service: GetBalance, Transfer, and
// CreateAccount and CloseAccount on a ledger kept in memory.
type Accounts struct {
	Log             *slog.Logger
	calls           atomic.Int64
	lastCorrelation atomic.Value
	lastRequest     atomic.Value

	mu     sync.Mutex
	nextID int64
	ledger map[int64]string // account id → "open" or "closed"
}

// firstAccountID is the id the demo ledger gives its first new account.
const firstAccountID = 70000001

// Ledger returns the accounts created so far with their state, "open" or
// "closed".
func (a *Accounts) Ledger() map[int64]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[int64]string, len(a.ledger))
	for k, v := range a.ledger {
		m[k] = v
	}
	return m
}

// create opens a new account and returns its id.
func (a *Accounts) create() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ledger == nil {
		a.ledger, a.nextID = map[int64]string{}, firstAccountID
	}
	id := a.nextID
	a.nextID++
	a.ledger[id] = "open"
	return id
}

// close closes an open account; it fails for an unknown or closed one.
func (a *Accounts) close(id int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ledger[id] != "open" {
		return fmt.Errorf("account %d is not open", id)
	}
	a.ledger[id] = "closed"
	return nil
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
	env, body, ok := readRequest(w, r, AccountsNS)
	if body != nil {
		a.lastRequest.Store(body)
	}
	if !ok {
		return
	}
	op := env.Operation()
	if a.Log != nil {
		a.Log.Info("accounts call", "operation", op.Local, "correlationId", r.Header.Get("X-Correlation-ID"))
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
	case "CreateAccount":
		id := a.create()
		if a.Log != nil {
			a.Log.Info("account opened", "account", id, "customer", childText(p, "Customer"), "product", childText(p, "Product"))
		}
		respond(w, env.Version, fmt.Sprintf(`<a:CreateAccountResponse xmlns:a="%s"><a:AccountId>%d</a:AccountId><a:Status>open</a:Status></a:CreateAccountResponse>`,
			AccountsNS, id))
	case "CloseAccount":
		id, err := strconv.ParseInt(childText(p, "AccountId"), 10, 64)
		if err == nil {
			err = a.close(id)
		}
		if err != nil {
			fault(w, env.Version, soap.SenderFault("account cannot be closed", err))
			return
		}
		if a.Log != nil {
			a.Log.Info("account closed", "account", id)
		}
		respond(w, env.Version, fmt.Sprintf(`<a:CloseAccountResponse xmlns:a="%s"><a:AccountId>%d</a:AccountId><a:Status>closed</a:Status></a:CloseAccountResponse>`,
			AccountsNS, id))
	default:
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %v", op)))
	}
}
