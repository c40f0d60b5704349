package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestWSDLCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"wsdl", "../../../conf/demo/accounts.wsdl"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"port AccountsSoap11: SOAP 1.1", "port AccountsSoap12: SOAP 1.2",
		"operation Transfer (document/literal)", `action  "urn:gatehouse:demo:accounts:Transfer"`,
		"output  {urn:gatehouse:demo:accounts}CloseAccountResponse",
		`<wsdl file="accounts.wsdl" service="{urn:gatehouse:demo:accounts}AccountService" port="AccountsSoap11 AccountsSoap12"/>`,
		`operation="{urn:gatehouse:demo:accounts}GetBalance"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// A broken WSDL: its file and line, exit 1.
	dir := t.TempDir()
	data, err := os.ReadFile("../../../conf/demo/accounts.wsdl")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), `<soap:body use="literal"/></wsdl:input>`, `<soap:body use="encoded"/></wsdl:input>`, 1)
	path := filepath.Join(dir, "accounts.wsdl")
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	line := 1 + strings.Count(broken[:strings.Index(broken, `use="encoded"`)], "\n")
	if code := run([]string{"wsdl", path}, &out, &errb); code != 1 || !strings.Contains(errb.String(), path+":"+strconv.Itoa(line)+":") {
		t.Errorf("exit %d, stderr %q, want %s:%d", code, errb.String(), path, line)
	}
}
