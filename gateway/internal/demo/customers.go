package demo

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatehouse/gatehouse/soap"
)

// Namespaces of the demo customer and KYC services.
const (
	CustomersNS = "urn:gatehouse:demo:customers"
	KYCNS       = "urn:gatehouse:demo:kyc"
)

// customer is a record of the demo customer register.
type customer struct{ name, country string }

// register is the demo customer register. Customer 6666 is on the demo
// sanctions list, so the KYC check refuses them.
var register = map[int64]customer{
	1001: {"Ada Lovelace", "GB"},
	1002: {"Grace Hopper", "US"},
	1003: {"Katherine Johnson", "US"},
	6666: {"Mallory Sanctioned", "ZZ"},
}

// sanctioned is the demo sanctions list the KYC service checks names against.
var sanctioned = map[string]bool{"Mallory Sanctioned": true}

// Customers is the demo customer register: GetCustomer, and LinkAccount to
// record an account a customer owns.
type Customers struct {
	Log *slog.Logger

	mu    sync.Mutex
	links map[int64][]string // customer → linked account ids
}

// Links returns the account ids linked to customer id.
func (c *Customers) Links(id int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.links[id]...)
}

func (c *Customers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, _, ok := readRequest(w, r, CustomersNS)
	if !ok {
		return
	}
	p := env.Payload()
	id, err := strconv.ParseInt(childText(p, "Id"), 10, 64)
	cust, known := register[id]
	if err != nil || !known {
		fault(w, env.Version, soap.SenderFault("unknown customer", fmt.Errorf("customer %q", childText(p, "Id"))))
		return
	}
	switch p.Tag {
	case "GetCustomer":
		respond(w, env.Version, fmt.Sprintf(`<c:GetCustomerResponse xmlns:c="%s"><c:Id>%d</c:Id><c:Name>%s</c:Name><c:Country>%s</c:Country></c:GetCustomerResponse>`,
			CustomersNS, id, xmlEscape(cust.name), cust.country))
	case "LinkAccount":
		account := childText(p, "AccountId")
		c.mu.Lock()
		if c.links == nil {
			c.links = map[int64][]string{}
		}
		c.links[id] = append(c.links[id], account)
		c.mu.Unlock()
		if c.Log != nil {
			c.Log.Info("account linked", "customer", id, "account", account)
		}
		respond(w, env.Version, fmt.Sprintf(`<c:LinkAccountResponse xmlns:c="%s"><c:Id>%d</c:Id><c:AccountId>%s</c:AccountId></c:LinkAccountResponse>`,
			CustomersNS, id, xmlEscape(account)))
	default:
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %s", p.Tag)))
	}
}

// KYC is the demo know-your-customer service: Check answers "passed", or
// "refused" for a name on the demo sanctions list.
type KYC struct {
	Log *slog.Logger
}

func (k *KYC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, _, ok := readRequest(w, r, KYCNS)
	if !ok {
		return
	}
	p := env.Payload()
	if p.Tag != "Check" {
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %s", p.Tag)))
		return
	}
	name := childText(p, "Name")
	status := "passed"
	if sanctioned[name] {
		status = "refused"
	}
	if k.Log != nil {
		k.Log.Info("KYC check", "status", status)
	}
	respond(w, env.Version, fmt.Sprintf(`<k:CheckResponse xmlns:k="%s"><k:Status>%s</k:Status></k:CheckResponse>`, KYCNS, status))
}

// readRequest reads and parses a request for a service in namespace ns,
// answering with a fault (and false) when it is not one. It also returns
// the request's bytes, when they could be read.
func readRequest(w http.ResponseWriter, r *http.Request, ns string) (*soap.Envelope, []byte, bool) {
	v := soap.V11
	if b, err := soap.ReadBinding(r.Header.Get("Content-Type"), r.Header.Values("SOAPAction")); err == nil {
		v = b.Version
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fault(w, v, soap.SenderFault("unreadable request", err))
		return nil, nil, false
	}
	env, err := soap.Parse(body, soap.DefaultLimits())
	if err != nil {
		fault(w, v, soap.AsFault(err))
		return nil, body, false
	}
	if env.Payload() == nil || env.Operation().Space != ns {
		fault(w, env.Version, soap.SenderFault("unknown operation", fmt.Errorf("operation %v", env.Operation())))
		return nil, body, false
	}
	return env, body, true
}
