package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// needNode returns node's path and fails when node or the locked npm
// packages (interop/node/node_modules, from `npm ci`) are missing.
func needNode(t *testing.T) string {
	t.Helper()
	node := needTool(t, "node", "nodejs")
	for _, m := range []string{"soap", "xml-crypto", "@xmldom/xmldom", "xpath"} {
		if _, err := os.Stat(filepath.Join("node", "node_modules", m, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in interop/node: run `npm ci --no-audit --no-fund` there (./build.sh test does)", m)
		}
	}
	return node
}

// nodeCall is what node/call.js prints.
type nodeCall struct {
	Status  int    `json:"status"`
	Body    string `json:"body"`
	Error   string `json:"error"`
	Request string `json:"request"`
}

// TestNodeSOAPSignsGatehouseAccepts: node-soap's client, with its
// WSSecurityCert signing the request (BinarySecurityToken, RSA-SHA256,
// Body and Timestamp), calls a Gatehouse service that requires that
// signature, over mutual TLS, and gets the backend's answer. xml-crypto's
// default ID mode writes an unqualified Id attribute on wsu:Timestamp,
// which the WS-Security utility schema does not allow (its anyAttribute
// is ##other): Gatehouse refuses that message as not matching the schema
// (soap:Client); with idMode "wssecurity" xml-crypto writes wsu:Id.
func TestNodeSOAPSignsGatehouseAccepts(t *testing.T) {
	node := needNode(t)
	g := startGatehouse(t)
	dir := t.TempDir()
	signerCert, signerKey := writePEM(t, dir, "signer", g.pki.signer.cert, g.pki.signer.key)
	clientCert, clientKey := writePEM(t, dir, "client", g.pki.consumer.cert, g.pki.consumer.key)
	script, err := filepath.Abs("node/call.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, transforms, idMode string
		refused                  string // the fault code when Gatehouse refuses it
		skip                     string
	}{
		// WSSecurityCert's default: enveloped-signature, then exc-c14n in
		// each Reference (common in .NET-era stacks too).
		{"default transforms (enveloped-signature, exc-c14n), wsu:Id", "default", "wssecurity", "", ""},
		{"exc-c14n transform only, wsu:Id", "exc-c14n", "wssecurity", "", ""},
		{"exc-c14n transform only, unqualified Id on wsu:Timestamp", "exc-c14n", "default", "soap:Client", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			cfg, _ := json.Marshal(map[string]string{
				"endpoint": g.base + accountsPath, "signerKey": signerKey, "signerCert": signerCert,
				"clientKey": clientKey, "clientCert": clientCert, "ca": g.caFile, "transforms": tc.transforms, "idMode": tc.idMode,
			})
			cfgFile := filepath.Join(dir, "call-"+tc.transforms+"-"+tc.idMode+".json")
			writeFile(t, cfgFile, cfg)
			out, stderr, _ := run(t, "node", node, script, cfgFile)
			var r nodeCall
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("call.js printed %q (%v); stderr:\n%s", out, err, stderr)
			}
			if tc.refused != "" {
				if r.Status != 500 || !strings.Contains(r.Body, "<faultcode>"+tc.refused+"</faultcode>") {
					t.Errorf("got %d %s, want a %s fault", r.Status, r.Body, tc.refused)
				}
				if fwd := g.backend.take("/accounts"); fwd != nil {
					t.Errorf("a refused call reached the backend: %s", fwd)
				}
				return
			}
			if r.Status != 200 || r.Error != "" || !strings.Contains(r.Body, "GetBalanceResponse") {
				t.Fatalf("node-soap's call refused: %d %s %s\nrequest:\n%s", r.Status, r.Error, r.Body, r.Request)
			}
			if !strings.Contains(r.Request, "BinarySecurityToken") || !strings.Contains(r.Request, "SignatureValue") {
				t.Fatalf("node-soap sent no signed request:\n%s", r.Request)
			}
			if fwd := g.backend.take("/accounts"); len(fwd) == 0 || strings.Contains(string(fwd), "Security") {
				t.Errorf("the backend got %q, want the call without the inbound Security header", fwd)
			}
		})
	}
}
