package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// wsdlClient is what python/zeep_wsdl.py and node/wsdl.js print.
type wsdlClient struct {
	Address, Endpoint string // zeep's, node-soap's idea of the service's address
	Operations        []string
	Result            json.RawMessage
	Error, Body       string
}

// callPublished has zeep and node-soap build their clients from the WSDL
// Gatehouse publishes at path?wsdl (and what it imports, at ?xsd=N and
// ?wsdl=N), over mutual TLS, and call operation of port with args (JSON)
// at the address the published WSDL names; operation "" only loads it.
// The clients verify the listener's certificate, which names localhost,
// and the published WSDL names the endpoint they came to.
func callPublished(t *testing.T, g *gatehouse, path, port, operation, args string) (zeep, node wsdlClient) {
	t.Helper()
	dir := t.TempDir()
	clientCert, clientKey := writePEM(t, dir, "client", g.pki.consumer.cert, g.pki.consumer.key)
	url := strings.Replace(g.base, "127.0.0.1", "localhost", 1) + path + "?wsdl"
	parse := func(who, out, stderr string) wsdlClient {
		var r wsdlClient
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Error != "" {
			t.Fatalf("%s: %q %v; stderr:\n%s", who, out, err, stderr)
		}
		return r
	}
	needZeep(t)
	script, err := filepath.Abs("python/zeep_wsdl.py")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, _ := run(t, dir, debianPy, script, url, clientCert, clientKey, g.caFile, port, operation, args)
	zeep = parse("zeep", out, stderr)
	nodeBin := needNode(t)
	script, err = filepath.Abs("node/wsdl.js")
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, _ = run(t, "node", nodeBin, script, url, clientCert, clientKey, g.caFile, port, operation, args)
	return zeep, parse("node-soap", out, stderr)
}

// TestPublishedWSDLClients: zeep and node-soap build clients from the
// published WSDL of the demo's accounts service and call GetBalance
// through Gatehouse.
func TestPublishedWSDLClients(t *testing.T) {
	g := startGatehouse(t)
	public := strings.Replace(g.base, "127.0.0.1", "localhost", 1) + "/services/contract"
	zeep, node := callPublished(t, g, "/services/contract", "AccountsSoap11", "GetBalance", `{"AccountId": 4711}`)
	ops := []string{"CloseAccount", "CreateAccount", "GetBalance", "Transfer"}
	var zr, nr struct {
		Balance  json.Number
		Currency string
	}
	_ = json.Unmarshal(zeep.Result, &zr)
	_ = json.Unmarshal(node.Result, &nr)
	if zeep.Address != public || zr.Balance != "100.00" || zr.Currency != "EUR" || !slices.Equal(zeep.Operations, ops) {
		t.Errorf("zeep: %+v %s", zeep, zeep.Result)
	}
	if node.Endpoint != public || nr.Balance != "100" || nr.Currency != "EUR" || !slices.Equal(node.Operations, ops) {
		t.Errorf("node-soap: %+v %s", node, node.Result)
	}
}

// realWSDL is a WSDL another project publishes in a package (fetched by
// ./build.sh test into $GATEHOUSE_REALWORLD_WSDL, never part of this
// repository), with a request Gatehouse must take, one it must refuse, and
// the backend's answer.
type realWSDL struct {
	name      string
	files     string // directory under $GATEHOUSE_REALWORLD_WSDL copied beside the configuration
	wsdl      string // the WSDL in it
	wsdlAttrs string
	port      string // the SOAP 1.1 port the clients call
	action    string
	request   string // a Body payload the contract accepts
	wrong     string // one its schema refuses
	operation string // what the clients call ("": they only load the WSDL)
	args      string
	answer    string // the backend's Body payload
	result    string // in the clients' result
}

var realWSDLs = []realWSDL{
	{
		// KDSoap's example of the BLZService (an Axis2 service): SOAP 1.1,
		// SOAP 1.2 and HTTP ports, document/literal, soapAction "".
		name: "libkdsoap-doc BLZService", files: "libkdsoap-doc/usr/share/doc/libkdsoap-dev/examples/bank_wsdl", wsdl: "BLZService.wsdl",
		port:      "BLZServiceSOAP11port_http",
		request:   `<b:getBank xmlns:b="http://thomas-bayer.com/blz/"><b:blz>10010010</b:blz></b:getBank>`,
		wrong:     `<b:getBank xmlns:b="http://thomas-bayer.com/blz/"><b:iban>DE00</b:iban></b:getBank>`,
		operation: "getBank", args: `{"blz": "10010010"}`,
		answer: `<b:getBankResponse xmlns:b="http://thomas-bayer.com/blz/"><b:details><b:bezeichnung>Testbank</b:bezeichnung>` +
			`<b:bic>TESTDEFFXXX</b:bic><b:ort>Berlin</b:ort><b:plz>10117</b:plz></b:details></b:getBankResponse>`,
		result: "TESTDEFFXXX",
	},
	{
		// strong-soap's example of the webserviceX StockQuote (an ASP.NET
		// .asmx service): SOAP 1.1, SOAP 1.2, HttpGet and HttpPost ports.
		name: "strong-soap StockQuote", files: "strong-soap/package/example/wsdls", wsdl: "stockquote.wsdl",
		port: "StockQuoteSoap", action: "http://www.webserviceX.NET/GetQuote",
		request:   `<GetQuote xmlns="http://www.webserviceX.NET/"><symbol>ACME</symbol></GetQuote>`,
		wrong:     `<GetQuote xmlns="http://www.webserviceX.NET/"><symbol>ACME</symbol><symbol>EMCA</symbol></GetQuote>`,
		operation: "GetQuote", args: `{"symbol": "ACME"}`,
		answer: `<GetQuoteResponse xmlns="http://www.webserviceX.NET/"><GetQuoteResult>ACME 12.50</GetQuoteResult></GetQuoteResponse>`,
		result: "ACME 12.50",
	},
	{
		// VMware's storage policy (PBM) API 6.0 as oslo.vmware ships it:
		// pbmService.wsdl imports pbm.wsdl, whose types include two schema
		// files that import a third. The clients load it (and its four
		// schemas through ?wsdl=1 and ?xsd=N).
		name: "python3-oslo.vmware PBM 6.0", files: "python3-oslo.vmware/usr/lib/python3/dist-packages/oslo_vmware/wsdl/6.0", wsdl: "pbmService.wsdl",
		port: "PbmPort", action: "urn:pbm/2.0",
		request: `<p:PbmRetrieveServiceContent xmlns:p="urn:pbm"><p:_this type="PbmServiceInstance">ServiceInstance</p:_this></p:PbmRetrieveServiceContent>`,
		wrong:   `<p:PbmRetrieveServiceContent xmlns:p="urn:pbm"><p:this type="PbmServiceInstance">ServiceInstance</p:this></p:PbmRetrieveServiceContent>`,
	},
	{
		// PBM 6.5: its schemas import urn:vim25 from three files each,
		// which libxml2 alone reads only the first of (schemas.bundle).
		name: "python3-oslo.vmware PBM 6.5", files: "python3-oslo.vmware/usr/lib/python3/dist-packages/oslo_vmware/wsdl/6.5", wsdl: "pbmService.wsdl",
		port: "PbmPort", action: "urn:pbm/6.5",
		request: `<p:PbmQueryReplicationGroups xmlns:p="urn:pbm"><p:_this type="PbmReplicationManager">ReplicationManager</p:_this></p:PbmQueryReplicationGroups>`,
		wrong:   `<p:PbmQueryReplicationGroups xmlns:p="urn:pbm"><p:_this>ReplicationManager</p:_this><p:_this>x</p:_this></p:PbmQueryReplicationGroups>`,
	},
}

// TestRealWorldWSDLs configures a service from each WSDL, sends it a
// correct and a wrong request, and has zeep and node-soap load the
// published WSDL and call through Gatehouse.
func TestRealWorldWSDLs(t *testing.T) {
	root := os.Getenv("GATEHOUSE_REALWORLD_WSDL")
	if root == "" {
		t.Fatal("GATEHOUSE_REALWORLD_WSDL is not set: ./build.sh test fetches the packages that ship the WSDLs and sets it")
	}
	x := extraConfig{files: map[string]string{}, answers: map[string]string{}}
	for i, w := range realWSDLs {
		dir := filepath.Join(root, w.files)
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".wsdl") && !strings.HasSuffix(p, ".xsd")) {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			x.files[filepath.Join("real", itoa(i), rel)] = p
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v (is %s fetched?)", w.name, err, w.files)
		}
		name := "real" + itoa(i)
		x.flows += `<flow from="interop" to="` + name + `"/>`
		x.rules += `<rule id="` + name + `" effect="allow" service="` + name + `" operation="*"><caller prefix="spiffe://interop.test/"/></rule>`
		x.services += `<service name="` + name + `" path="/services/` + name + `"><backend url="BACKEND/` + name + `"/>` +
			`<wsdl file="real/` + itoa(i) + `/` + w.wsdl + `"` + w.wsdlAttrs + `/></service>`
		if w.answer != "" {
			x.answers["/"+name] = w.answer
		}
	}
	g := startGatehouseWith(t, x)
	for i, w := range realWSDLs {
		t.Run(w.name, func(t *testing.T) {
			path := "/services/real" + itoa(i)
			post := func(payload string) (int, string) {
				req, err := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(envelope(payload)))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "text/xml; charset=utf-8")
				req.Header.Set("SOAPAction", `"`+w.action+`"`)
				resp, err := g.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			if status, body := post(w.request); status != 200 {
				t.Errorf("a correct request: %d %s", status, body)
			}
			if g.backend.take("/real"+itoa(i)) == nil {
				t.Error("the backend did not get the correct request")
			}
			if status, body := post(w.wrong); status != 500 || !strings.Contains(body, "soap:Client") {
				t.Errorf("a request the schema refuses: %d %s", status, body)
			}
			if g.backend.take("/real"+itoa(i)) != nil {
				t.Error("the wrong request reached the backend")
			}
			zeep, node := callPublished(t, g, path, w.port, w.operation, w.args)
			public := strings.Replace(g.base, "127.0.0.1", "localhost", 1) + path
			if zeep.Address != public || node.Endpoint != public {
				t.Errorf("addresses: zeep %q, node-soap %q, want %q", zeep.Address, node.Endpoint, public)
			}
			if len(zeep.Operations) == 0 || !slices.Equal(zeep.Operations, node.Operations) {
				t.Errorf("operations: zeep %v, node-soap %v", zeep.Operations, node.Operations)
			}
			if w.operation != "" && (!strings.Contains(string(zeep.Result), w.result) || !strings.Contains(string(node.Result), w.result)) {
				t.Errorf("results: zeep %s, node-soap %s, want …%s…", zeep.Result, node.Result, w.result)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
