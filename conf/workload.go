package conf

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// A workload id (a policy consumer or caller workload, a directory
// subject's workload, an attesting entity, a delegation actor) names an
// mTLS caller as the gateway knows it: its SPIFFE ID when the certificate
// has one, else its subject DN as RFC 4514 renders it from the certificate
// (what openssl x509 -noout -subject -nameopt RFC2253 prints). A DN is
// compared as a DN (dn.Key: attribute types by OID, values without regard
// to case and extra spaces, the certificate's RDN order), every other id
// exactly. Prefixes compare the id as rendered.

// workloadIDError says what is wrong with a configured workload id: a
// spiffe: URI that is not a valid SPIFFE ID, or a DN-like id (with "=")
// that is not an RFC 4514 distinguished name. Other ids are taken as they
// are.
func workloadIDError(id string) error {
	if len(id) >= len("spiffe:") && strings.EqualFold(id[:len("spiffe:")], "spiffe:") {
		if _, err := spiffeid.FromString(id); err != nil {
			return fmt.Errorf("workload %q is not a valid SPIFFE ID: %v", id, err)
		}
		return nil
	}
	if strings.Contains(id, "=") {
		if _, err := dn.Parse(id); err != nil {
			return fmt.Errorf("workload %q is not an RFC 4514 distinguished name: %v", id, err)
		}
	}
	return nil
}

// sameWorkload reports whether two configured workload ids name one
// workload.
func sameWorkload(a, b string) bool { return dn.Key(a) == dn.Key(b) }
