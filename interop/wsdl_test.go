package interop

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// needZeep fails when Debian's python3-zeep is missing.
func needZeep(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(debianPy, "-c", "import zeep").CombinedOutput(); err != nil {
		t.Fatalf("python3-zeep missing (%v: %s): run ./build.sh deps (Debian package python3-zeep)", err, strings.TrimSpace(string(out)))
	}
}

// TestPublishedWSDLClients: zeep and node-soap build their clients from
// the WSDL Gatehouse publishes for a service configured from a WSDL
// (GET ?wsdl, then the schema it imports at ?xsd=1), over mutual TLS, and
// call GetBalance at the address the published WSDL names: the gateway's,
// not the backend's.
func TestPublishedWSDLClients(t *testing.T) {
	g := startGatehouse(t)
	dir := t.TempDir()
	clientCert, clientKey := writePEM(t, dir, "client", g.pki.consumer.cert, g.pki.consumer.key)
	// The clients verify the listener's certificate, which names localhost:
	// the published WSDL names the endpoint they came to.
	base := strings.Replace(g.base, "127.0.0.1", "localhost", 1)
	url := base + "/services/contract?wsdl"
	public := base + "/services/contract"

	t.Run("zeep", func(t *testing.T) {
		needZeep(t)
		script, err := filepath.Abs("python/zeep_wsdl.py")
		if err != nil {
			t.Fatal(err)
		}
		out, stderr, _ := run(t, dir, debianPy, script, url, clientCert, clientKey, g.caFile)
		var r struct {
			Address, Balance, Currency, Error string
			Operations                        []string
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Error != "" {
			t.Fatalf("zeep: %q %v; stderr:\n%s", out, err, stderr)
		}
		if r.Address != public || r.Balance != "100.00" || r.Currency != "EUR" ||
			!slices.Equal(r.Operations, []string{"CloseAccount", "CreateAccount", "GetBalance", "Transfer"}) {
			t.Errorf("zeep: %+v", r)
		}
		if g.backend.take("/contract") == nil {
			t.Error("the backend got no request")
		}
	})

	t.Run("node-soap", func(t *testing.T) {
		node := needNode(t)
		script, err := filepath.Abs("node/wsdl.js")
		if err != nil {
			t.Fatal(err)
		}
		out, stderr, _ := run(t, "node", node, script, url, clientCert, clientKey, g.caFile)
		var r struct {
			Endpoint, Error, Body string
			Operations            []string
			Result                struct {
				Balance  float64
				Currency string
			}
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Error != "" {
			t.Fatalf("node-soap: %q %v; stderr:\n%s", out, err, stderr)
		}
		if r.Endpoint != public || r.Result.Balance != 100 || r.Result.Currency != "EUR" ||
			!slices.Equal(r.Operations, []string{"CloseAccount", "CreateAccount", "GetBalance", "Transfer"}) {
			t.Errorf("node-soap: %+v", r)
		}
		if g.backend.take("/contract") == nil {
			t.Error("the backend got no request")
		}
	})
}
