package gateway

import (
	"fmt"
	"net/http"

	"github.com/gatehouse/gatehouse/gateway/authz"
	"github.com/gatehouse/gatehouse/soap"
)

// authorize decides this transaction on its own (invariant 9): default deny,
// flow edge, deny overrides. The decision and its rule go to the audit
// record; a refusal is a Sender fault with HTTP 403.
func (g *Gateway) authorize(tx *transaction, r *authz.Request) error {
	d := g.policy.Decide(r)
	outcome := "deny"
	if d.Allow {
		outcome = "allow"
	}
	tx.rec.Decision, tx.rec.Rule = outcome, d.Rule
	g.metrics.decisions.WithLabelValues(r.Service, r.Operation, outcome, d.Rule, r.Consumer).Inc()
	if !d.Allow {
		return soap.SenderFault("not authorized", fmt.Errorf("authorization: %s", d.Reason)).WithStatus(http.StatusForbidden)
	}
	return nil
}
