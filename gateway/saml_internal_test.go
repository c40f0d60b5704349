package gateway

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/conf"
)

// TestSAMLVerifierCachePerCompile: every compiled SAML policy has an
// assertion cache of its own, so that a configuration compiled again (new
// trust stores) starts with an empty one; assertionCache="0" has none.
func TestSAMLVerifierCachePerCompile(t *testing.T) {
	sc := &conf.SAML{Audience: "urn:gatehouse:service:accounts", Confirmation: []string{"holderOfKey"}, AssertionCache: 7}
	a := newSAMLVerifier(&conf.Config{}, sc, nil, time.Now)
	b := newSAMLVerifier(&conf.Config{}, sc, nil, time.Now)
	if a.Cache == nil || b.Cache == nil || a.Cache == b.Cache {
		t.Fatalf("caches %p and %p: want two", a.Cache, b.Cache)
	}
	sc.AssertionCache = 0
	if c := newSAMLVerifier(&conf.Config{}, sc, nil, time.Now); c.Cache != nil {
		t.Error("assertionCache 0 has a cache")
	}
}
