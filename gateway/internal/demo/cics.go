package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/soap"
)

// CICS is the demo "legacy CICS" backend: like a CICS SOAP pipeline with
// RACF, it accepts a request only with a WS-Security UsernameToken whose
// user is in its registry and whose password is a PassTicket it validates
// with the same secured signon key and application name, once. It answers
// the accounts operations as the signed-on user.
type CICS struct {
	Generator   credmap.Generator
	Application string
	Users       map[string]bool // the RACF user registry
	Log         *slog.Logger

	once     sync.Once
	mu       sync.Mutex
	used     map[string]time.Time // user + ticket → when; RACF accepts a ticket once
	signons  []string
	accounts Accounts
}

// SignOns lists the users signed on so far, in order.
func (c *CICS) SignOns() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.signons...)
}

// Ledger returns the accounts the region has created, with their state.
func (c *CICS) Ledger() map[int64]string { return c.accounts.Ledger() }

// LastRequest is the body of the latest request that passed sign-on.
func (c *CICS) LastRequest() []byte { return c.accounts.LastRequest() }

// LastPassword is not kept: the backend never stores credentials. Tests
// that need the ticket read the request they sent instead.

func (c *CICS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fault(w, soap.V11, soap.SenderFault("unreadable request", err))
		return
	}
	env, err := soap.Parse(body, soap.DefaultLimits())
	if err != nil {
		fault(w, soap.V11, soap.AsFault(err))
		return
	}
	user, err := c.signOn(env)
	if err != nil {
		if c.Log != nil {
			c.Log.Warn("CICS sign-on refused", "reason", err.Error())
		}
		fault(w, env.Version, soap.SecurityFault(soap.FaultFailedAuthentication, "sign-on refused", err))
		return
	}
	if c.Log != nil {
		c.Log.Info("CICS sign-on", "user", user)
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	c.once.Do(func() { c.accounts.Log = c.Log })
	c.accounts.ServeHTTP(w, r)
}

// signOn checks the UsernameToken: registered user, valid and unused PassTicket.
func (c *CICS) signOn(env *soap.Envelope) (string, error) {
	var user, password string
	found := false
	for _, h := range env.HeaderBlocks() {
		if h.Tag != "Security" || h.NamespaceURI() != soap.NSWSSE {
			continue
		}
		for _, ut := range h.ChildElements() {
			if ut.Tag != "UsernameToken" {
				continue
			}
			for _, f := range ut.ChildElements() {
				switch f.Tag {
				case "Username":
					user, _ = soap.Text(f)
				case "Password":
					password, _ = soap.Text(f)
				}
			}
			found = true
		}
	}
	switch {
	case !found:
		return "", errors.New("no UsernameToken")
	case !c.Users[user]:
		return "", fmt.Errorf("user %q not defined to RACF", user)
	}
	if _, ok := c.Generator.Verify(password, user, c.Application, time.Now(), credmap.DefaultWindow); !ok {
		return "", fmt.Errorf("PassTicket for %q not valid", user)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used == nil {
		c.used = map[string]time.Time{}
	}
	k := user + "\x00" + password
	if _, again := c.used[k]; again {
		return "", fmt.Errorf("PassTicket for %q already used", user)
	}
	c.used[k] = time.Now()
	c.signons = append(c.signons, user)
	return user, nil
}
