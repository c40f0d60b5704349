package conf

import (
	"encoding/xml"
	"net/url"
	"strconv"
)

// Defaults for tracing.
const (
	DefaultTracingSampling    = 1.0
	DefaultTracingServiceName = "gatehouse"
)

// Tracing sends OpenTelemetry spans by OTLP/HTTP to a collector.
// Config.Tracing is nil when the configuration has no tracing element:
// tracing is then off.
type Tracing struct {
	Pos
	// Endpoint is the collector's full traces URL (http or https), as
	// written; EndpointURL is it parsed.
	Endpoint string
	// Sampling is the ratio of requests that start a trace here, 0 to 1;
	// a request with a W3C traceparent follows its parent's decision.
	Sampling    float64
	ServiceName string // the resource's service.name
	// Resource are further resource attributes, in the order written.
	Resource []TracingResource

	endpoint *url.URL
}

// TracingResource is one resource attribute of the spans.
type TracingResource struct {
	Pos
	Name, Value string
}

// EndpointURL is Endpoint, parsed and checked by Load.
func (t *Tracing) EndpointURL() *url.URL {
	if t.endpoint == nil {
		return nil
	}
	u := *t.endpoint
	return &u
}

func (t *Tracing) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Endpoint    string            `xml:"endpoint,attr"`
		Sampling    string            `xml:"sampling,attr"`
		ServiceName string            `xml:"serviceName,attr"`
		Resource    []TracingResource `xml:"resource"`
	}
	*t = Tracing{Pos: Pos{Line: startLine(d)}, Sampling: DefaultTracingSampling, ServiceName: DefaultTracingServiceName}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	t.Endpoint, t.Resource = raw.Endpoint, raw.Resource
	if raw.ServiceName != "" {
		t.ServiceName = raw.ServiceName
	}
	if raw.Sampling != "" {
		f, err := strconv.ParseFloat(raw.Sampling, 64)
		if err != nil {
			return &Error{Line: t.Line, Element: "tracing", Msg: "sampling " + strconv.Quote(raw.Sampling) + " is not a number"}
		}
		t.Sampling = f
	}
	return nil
}

func (r *TracingResource) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	*r = TracingResource{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	r.Name, r.Value = raw.Name, raw.Value
	return nil
}

func (t *Tracing) setFile(set func(*Pos)) {
	set(&t.Pos)
	for i := range t.Resource {
		set(&t.Resource[i].Pos)
	}
}

// Checks.

func (c *checker) checkTracing(t *Tracing) {
	if t == nil {
		return
	}
	const el = "tracing"
	u, err := url.Parse(t.Endpoint)
	switch {
	case err != nil:
		c.errorf(t.Pos, el, "endpoint %q is not a URL", t.Endpoint)
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(t.Pos, el, "endpoint %q must be an http or https URL", t.Endpoint)
	case u.Host == "" || u.Hostname() == "":
		c.errorf(t.Pos, el, "endpoint %q names no host", t.Endpoint)
	case u.User != nil:
		// Not a secret's place: the configuration is read by many.
		c.errorf(t.Pos, el, "endpoint %q must not contain a user name or password", u.Redacted())
	case u.Fragment != "" || u.RawQuery != "":
		c.errorf(t.Pos, el, "endpoint %q must not have a query or fragment", t.Endpoint)
	default:
		t.endpoint = u
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			c.warnf(t.Pos, el, "endpoint %s is plain http to another host: spans (callers, subjects, decisions) cross the network unencrypted", t.Endpoint)
		}
	}
	if !(t.Sampling >= 0 && t.Sampling <= 1) { // NaN too
		c.errorf(t.Pos, el, "sampling %v must be between 0 and 1", t.Sampling)
	}
	seen := map[string]int{}
	for _, r := range t.Resource {
		const rel = "tracing/resource"
		switch {
		case r.Name == "service.name":
			c.errorf(r.Pos, rel, "name service.name is set by serviceName on tracing")
		case seen[r.Name] != 0:
			c.errorf(r.Pos, rel, "name %s is already a resource attribute (line %d)", r.Name, seen[r.Name])
		default:
			seen[r.Name] = r.Line
		}
	}
}
