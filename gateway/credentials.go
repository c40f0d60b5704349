package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/credmap"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/soap"
)

// credentialMap is a compiled conf.CredentialMap.
type credentialMap struct {
	m       *credmap.Map
	tables  []*credmap.Table
	ticket  *credmap.Generator // PassTickets, or
	app     string
	secrets credmap.SecretSource // mapped passwords
}

// serviceCredentials is a service's legacy credential: the map and the
// renderer.
type serviceCredentials struct {
	cm             *credentialMap
	render, header string
}

func newCredentialMaps(cfg *conf.Config) (map[string]*credentialMap, error) {
	out := map[string]*credentialMap{}
	for _, cm := range cfg.CredentialMaps {
		rule := credmap.RACFUserID
		if cm.UserIDRule == "none" {
			rule = func(string) error { return nil }
		}
		c := &credentialMap{m: &credmap.Map{Name: cm.Name, Domain: credmap.Domain{Name: cm.Domain, UserIDRule: rule}}}
		for _, s := range cm.Sources {
			var src credmap.Source
			switch s.Kind {
			case "attribute":
				src = credmap.AttributeSource(s.Value)
			case "table":
				t, err := credmap.LoadTable(s.Value)
				if err != nil {
					return nil, fmt.Errorf("gateway: credential map %s: %w", cm.Name, err)
				}
				c.tables = append(c.tables, t)
				src = t.Source()
			case "pattern":
				p, err := credmap.PatternSource(s.Value)
				if err != nil {
					return nil, fmt.Errorf("gateway: credential map %s: %w", cm.Name, err)
				}
				src = p
			case "serviceAccount":
				src = credmap.ServiceAccountSource(s.Value)
			default:
				return nil, fmt.Errorf("gateway: credential map %s: unknown source %q", cm.Name, s.Kind)
			}
			if s.Issuer != "" {
				src = credmap.IssuerSource(s.Issuer, src)
			}
			c.m.Sources = append(c.m.Sources, src)
		}
		switch {
		case cm.PassTicket != nil:
			alg, err := credmap.ParseAlgorithm(cm.PassTicket.Algorithm)
			if err != nil {
				return nil, fmt.Errorf("gateway: credential map %s: %w", cm.Name, err)
			}
			c.ticket, c.app = &credmap.Generator{Algorithm: alg, Key: cm.PassTicket.Key()}, cm.PassTicket.Application
		case cm.Password.SecretDir != "":
			c.secrets = credmap.SecretFiles(cm.Password.SecretDir)
		default:
			c.secrets = credmap.SecretEnv(cm.Password.Env)
		}
		out[cm.Name] = c
	}
	return out, nil
}

// mapCredential maps the identity to the service's legacy domain and
// makes its credential. No mapping refuses the call (Sender fault, 403);
// the audit record names the domain and the mapped user, never the
// credential.
func (g *Gateway) mapCredential(ctx context.Context, rec *audit.Record, sc *serviceCredentials, id *Identity) (*credmap.Credential, error) {
	m, err := sc.cm.m.Resolve(id.credPrincipal())
	if err != nil {
		return nil, soap.SenderFault("no credentials for the target system", fmt.Errorf("credential map %s: %w", sc.cm.m.Name, err)).WithStatus(http.StatusForbidden)
	}
	rec.LegacyDomain, rec.LegacyUser, rec.Mapping = m.Domain, m.UserID, m.Source
	if sc.cm.ticket == nil {
		secret, err := sc.cm.secrets.Secret(m.UserID)
		if err != nil {
			return nil, soap.ReceiverFault("credentials unavailable", fmt.Errorf("secret for %s: %w", m.UserID, err))
		}
		return &credmap.Credential{UserID: m.UserID, Secret: secret}, nil
	}
	at, err := g.reservePassTicketTime(ctx, m.Domain, sc.cm.app, m.UserID)
	if err != nil {
		return nil, err
	}
	ticket, err := sc.cm.ticket.Generate(m.UserID, sc.cm.app, at)
	if err != nil {
		return nil, soap.ReceiverFault("credentials unavailable", fmt.Errorf("PassTicket for %s: %w", m.UserID, err))
	}
	return &credmap.Credential{UserID: m.UserID, Secret: []byte(ticket)}, nil
}

// maxTicketSeconds bounds how far ahead a PassTicket time is reserved;
// RACF accepts a ticket within ±10 minutes.
const maxTicketSeconds = 120

// reservePassTicketTime returns a second no other instance has used for
// this user and application: RACF accepts a PassTicket once, so two calls
// in one second would collide. SET NX in the shared store reserves the
// second; a taken one moves to the next.
func (g *Gateway) reservePassTicketTime(ctx context.Context, domain, app, user string) (time.Time, error) {
	start := g.now().Unix()
	for s := start; s < start+maxTicketSeconds; s++ {
		key := domain + "\x00" + app + "\x00" + user + "\x00" + strconv.FormatInt(s, 10)
		seen, err := g.store.Remember(ctx, []store.ReplayKey{{Kind: "passticket", Value: []byte(key), TTL: 25 * time.Minute}})
		if err != nil {
			return time.Time{}, storeUnavailable(err)
		}
		if !seen[0] {
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, soap.ReceiverFault("service busy", errors.New("no free PassTicket second in the next two minutes")).WithStatus(http.StatusServiceUnavailable)
}

// renderEnvelope puts a UsernameToken credential on the outbound envelope.
func renderEnvelope(env *soap.Envelope, render string, c *credmap.Credential) error {
	if c == nil || render != "usernameToken" {
		return nil
	}
	env.EnsureHeader()
	return credmap.RenderUsernameToken(env.Header, env.Version.Namespace(), *c)
}

// renderHeaders puts a Basic or header credential on the outbound request.
func renderHeaders(h http.Header, render, header string, c *credmap.Credential) error {
	switch {
	case c == nil:
		return nil
	case render == "basic":
		return credmap.RenderBasic(h, *c)
	case render == "header":
		return credmap.RenderHeader(h, header, *c, "%u:%p")
	}
	return nil
}

// ReloadCredentialTables re-reads every credential-map table file. A table
// that fails to load keeps its previous contents; the errors are joined.
// The gatehouse binary calls it on SIGHUP.
func (g *Gateway) ReloadCredentialTables() error {
	var errs []error
	for _, cm := range g.credMaps {
		for _, t := range cm.tables {
			if err := t.Reload(); err != nil {
				errs = append(errs, fmt.Errorf("credential map %s: %w", cm.m.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
