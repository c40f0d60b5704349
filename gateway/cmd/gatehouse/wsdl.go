package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/schemas/wsdl"
)

// wsdlCmd prints what Gatehouse reads from a WSDL: per port its operations
// (style, action, input, output and fault elements), whether its schemas
// compile, and a <service> skeleton and policy rules for the configuration.
func wsdlCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsdl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	service := fs.String("service", "", "the wsdl:service, {namespace}local or local (default: the only one)")
	ports := fs.String("port", "", "the wsdl:ports, space-separated (default: every SOAP port of the service)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: gatehouse wsdl [-service NAME] [-port NAME] FILE")
		return 2
	}
	file := fs.Arg(0)
	var name xml.Name
	if ns, local, ok := strings.Cut(strings.TrimPrefix(*service, "{"), "}"); ok && strings.HasPrefix(*service, "{") {
		name = xml.Name{Space: ns, Local: local}
	} else {
		name.Local = *service
	}
	contracts, err := wsdl.LoadPorts(file, name, strings.Fields(*ports))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set, err := wsdl.Schemas(contracts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set.Close()
	clark := func(n xml.Name) string { return "{" + n.Space + "}" + n.Local }
	messages := func(ms ...*wsdl.Message) string {
		var out []string
		for _, m := range ms {
			if m == nil {
				continue
			}
			if m.Wrapper.Local != "" {
				var parts []string
				for _, p := range m.Parts {
					parts = append(parts, p.Name+" "+clark(p.Type))
				}
				out = append(out, clark(m.Wrapper)+"("+strings.Join(parts, ", ")+")")
				continue
			}
			for _, e := range m.Elements {
				out = append(out, clark(e))
			}
		}
		if len(out) == 0 {
			return "(empty)"
		}
		return strings.Join(out, " ")
	}
	c0 := contracts[0]
	fmt.Fprintf(stdout, "WSDL %s\nservice %s\n", c0.File, clark(c0.Service))
	for _, c := range contracts {
		fmt.Fprintf(stdout, "\nport %s: SOAP %v, binding %s, address %s\n", c.Port, c.Version, clark(c.Binding), c.Address)
		for _, op := range c.Operations {
			fmt.Fprintf(stdout, "  operation %s (%s/literal)\n", op.Name, op.Style)
			fmt.Fprintf(stdout, "    action  %q\n", op.Action)
			fmt.Fprintf(stdout, "    input   %s\n", messages(&op.Input))
			if op.Output != nil {
				fmt.Fprintf(stdout, "    output  %s\n", messages(op.Output))
			} else {
				fmt.Fprintf(stdout, "    output  (one-way)\n")
			}
			for i := range op.Faults {
				fmt.Fprintf(stdout, "    fault   %s\n", messages(&op.Faults[i]))
			}
			if op.Policy != nil {
				fmt.Fprintf(stdout, "    policy  %s (%s:%d)\n", op.Policy, filepath.Base(op.Policy.File), op.Policy.Line)
			}
		}
	}
	svcName := strings.ToLower(c0.Service.Local)
	var portNames []string
	for _, c := range contracts {
		portNames = append(portNames, c.Port)
	}
	fmt.Fprintf(stdout, "\nschemas: compiled (%d inline, %d files)\n", len(c0.Inline), len(c0.Files))
	fmt.Fprintf(stdout, "\nconfiguration skeleton:\n")
	fmt.Fprintf(stdout, "  <service name=%q path=%q>\n", svcName, "/services/"+svcName)
	fmt.Fprintf(stdout, "    <backend url=%q/>\n", c0.Address)
	fmt.Fprintf(stdout, "    <wsdl file=%q service=%q port=%q/>\n", filepath.Base(c0.File), clark(c0.Service), strings.Join(portNames, " "))
	fmt.Fprintf(stdout, "  </service>\n")
	fmt.Fprintf(stdout, "  <!-- policy rules name its operations as: -->\n")
	seen := map[xml.Name]bool{}
	for _, c := range contracts {
		for _, op := range c.Operations {
			if n := op.InputName(); n.Local != "" && !seen[n] {
				seen[n] = true
				fmt.Fprintf(stdout, "  <rule id=%q effect=\"allow\" service=%q operation=%q><caller prefix=\"spiffe://…/\"/></rule>\n",
					svcName+"-"+strings.ToLower(op.Name), svcName, clark(n))
			}
		}
	}
	return 0
}
