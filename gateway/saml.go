package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/store"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

// confirmationURIs maps the configuration's method names to SAML 2.0 URIs.
var confirmationURIs = map[string]string{
	"bearer":        samlsts.CMBearer,
	"holderOfKey":   samlsts.CMHolderOfKey,
	"senderVouches": samlsts.CMSenderVouch,
}

// issuerCerts maps trusted SAML issuers to their pinned signing certificates.
func issuerCerts(cfg *conf.Config, entityIDs []string) map[string][]*x509.Certificate {
	out := map[string][]*x509.Certificate{}
	for _, id := range entityIDs {
		if is := cfg.SAMLIssuer(id); is != nil {
			if t := cfg.TrustStore(is.Trust); t != nil {
				out[id] = t.Pinned()
			}
		}
	}
	return out
}

// newSAMLVerifier compiles a service's <saml> policy. A SubjectConfirmationData
// Recipient must name one of the configured recipients, or
// defaultRecipients (the service's own URLs) when saml/@recipient is absent.
func newSAMLVerifier(cfg *conf.Config, sc *conf.SAML, defaultRecipients []string, clock func() time.Time) *samlsts.Verifier {
	recipients := sc.Recipients
	if len(recipients) == 0 {
		recipients = defaultRecipients
	}
	v := &samlsts.Verifier{
		Audience:          sc.Audience,
		Issuers:           issuerCerts(cfg, sc.Issuers),
		Recipients:        slices.Clone(recipients),
		RequireRecipient:  sc.RequireRecipient,
		AttestingEntities: sc.AttestingEntities,
		MaxClockSkew:      sc.MaxClockSkew,
		Clock:             clock,
		Versions:          slices.Clone(sc.Versions),
	}
	for _, m := range sc.Confirmation {
		v.Methods = append(v.Methods, confirmationURIs[m])
	}
	// Each compiled policy has a cache of its own: a reloaded
	// configuration (new trust stores) starts with an empty one.
	if sc.AssertionCache > 0 {
		v.Cache = samlsts.NewAssertionCache(sc.AssertionCache)
	}
	return v
}

// stsTokens keeps the STS's issued-token records in the shared store.
type stsTokens struct{ s store.Store }

var _ samlsts.TokenStore = stsTokens{}

func (t stsTokens) Record(ctx context.Context, tok samlsts.IssuedToken) error {
	return t.s.RecordToken(ctx, store.Token{Issuer: tok.Issuer, ID: tok.ID, Owner: tok.Owner, Workload: tok.Workload,
		Subject: tok.Subject, Expires: tok.Expires, KeepUntil: tok.KeepUntil})
}

func (t stsTokens) Lookup(ctx context.Context, issuer, id string) (samlsts.IssuedToken, bool, error) {
	tok, ok, err := t.s.LookupToken(ctx, issuer, id)
	return samlsts.IssuedToken{Issuer: tok.Issuer, ID: tok.ID, Owner: tok.Owner, Workload: tok.Workload, Subject: tok.Subject,
		Expires: tok.Expires, KeepUntil: tok.KeepUntil, Cancelled: tok.Cancelled}, ok, err
}

func (t stsTokens) Cancel(ctx context.Context, issuer, id string) (bool, error) {
	return t.s.CancelToken(ctx, issuer, id)
}

// newSTS compiles the <sts> element. Issued assertions are recorded in st
// for as long as any service accepts them or the STS renews them.
func newSTS(cfg *conf.Config, st store.Store, clock func() time.Time) (*samlsts.STS, []byte, error) {
	sc := cfg.STS
	var entries []samlsts.DirectoryEntry
	for _, e := range sc.Directory.Entries() {
		entries = append(entries, samlsts.DirectoryEntry{
			Identity: samlsts.Identity{NameID: e.NameID, Format: e.Format, Roles: e.Roles, Attributes: e.Attributes},
			Username: e.Username, Workload: e.Workload,
		})
	}
	audiences := map[string]bool{}
	retention := sc.MaxLifetime
	for _, s := range cfg.Services {
		if s.SAML != nil {
			audiences[s.SAML.Audience] = true
			retention = max(retention, s.SAML.MaxClockSkew)
		}
	}
	// The STS trusts its own certificate and, for key rotation, every
	// certificate pinned for its entityID as a SAML issuer.
	own := []*x509.Certificate{sc.Certificate()}
	for _, c := range issuerCerts(cfg, []string{sc.EntityID})[sc.EntityID] {
		if !c.Equal(sc.Certificate()) {
			own = append(own, c)
		}
	}
	// The STS validates, renews and acts on the tokens it issues, of both
	// versions; services accept what their own <saml versions> says.
	tokens := &samlsts.Verifier{
		Issuers:  map[string][]*x509.Certificate{sc.EntityID: own},
		Methods:  []string{samlsts.CMBearer, samlsts.CMHolderOfKey},
		Clock:    clock,
		Versions: []string{samlsts.Version20, samlsts.Version11},
	}
	sts := &samlsts.STS{
		Issuer:             &samlsts.Issuer{EntityID: sc.EntityID, Key: sc.Signer(), Cert: sc.Certificate(), Clock: clock},
		Directory:          samlsts.NewDirectory(entries),
		Tokens:             tokens,
		KnownAudience:      func(a string) bool { return audiences[a] },
		MayDelegate:        sc.MayDelegate,
		MayVouch:           sc.MayVouch,
		Store:              stsTokens{st},
		Retention:          retention,
		Lifetime:           sc.Lifetime,
		MaxLifetime:        sc.MaxLifetime,
		AllowUsernameToken: sc.Authentication.UsernameToken,
		AllowCertificate:   sc.Authentication.Certificate,
	}
	md, err := samlsts.Metadata(sc.EntityID, own, sc.Certificate().NotAfter)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: STS metadata: %w", err)
	}
	return sts, md, nil
}

// stsResponse wraps the STS's answer in an envelope of the request's
// version, with WS-Addressing RelatesTo when the request had a MessageID.
func stsResponse(req *soap.Envelope, payload *etree.Element, action string) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("soap:Envelope")
	root.CreateAttr("xmlns:soap", req.Version.Namespace())
	// A request with WS-Addressing headers gets them back, in its
	// namespace: the Action of the answer and RelatesTo its MessageID.
	if ns := req.Addressing.Namespace; ns != "" {
		h := root.CreateElement("soap:Header")
		h.CreateAttr("xmlns:wsa", ns)
		h.CreateElement("wsa:Action").SetText(action)
		if id := req.Addressing.MessageID; id != "" {
			h.CreateElement("wsa:RelatesTo").SetText(id)
		}
	}
	root.CreateElement("soap:Body").AddChild(payload)
	return doc.WriteToBytes()
}

// serveSTS answers a WS-Trust request. The requester is the verified
// UsernameToken user if there is one, else the mTLS workload.
func (g *Gateway) serveSTS(tx *transaction, w http.ResponseWriter, r *http.Request, svc *service, env *soap.Envelope, id *Identity) error {
	payload, out, err := svc.sts.Handle(r.Context(), env.Payload(), id.requester())
	tx.rec.Subject, tx.rec.Audience, tx.rec.TokenID = out.Subject, out.Audience, out.AssertionID
	if err != nil {
		g.countFailure(r.Context(), svc, lockoutSubjects(tx, env, ""), err)
		return err
	}
	body, err := stsResponse(env, payload, samlsts.Action(out.RequestType))
	if err != nil {
		return soap.ReceiverFault("internal error", err)
	}
	tx.write(w, env.Version, http.StatusOK, body)
	tx.rec.Outcome = audit.OutcomeOK
	return nil
}
