package conf

import (
	"reflect"
	"testing"
)

func TestTracing(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <tracing endpoint="http://127.0.0.1:4318/v1/traces" sampling="0.1" serviceName="gatehouse-eu">
    <resource name="deployment.environment" value="prod"/>
  </tracing>
</gatehouse>`)
	cfg := mustLoad(t, path)
	want := &Tracing{
		Pos: Pos{path, 5}, Endpoint: "http://127.0.0.1:4318/v1/traces", Sampling: 0.1, ServiceName: "gatehouse-eu",
		Resource: []TracingResource{{Pos: Pos{path, 6}, Name: "deployment.environment", Value: "prod"}},
	}
	got := *cfg.Tracing
	got.endpoint = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("Tracing = %+v\nwant %+v", got, *want)
	}
	if u := cfg.Tracing.EndpointURL(); u == nil || u.Host != "127.0.0.1:4318" || u.Path != "/v1/traces" {
		t.Errorf("EndpointURL = %v", u)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none (loopback collector)", cfg.Warnings)
	}
}

func TestTracingDefaultsAndWarning(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <tracing endpoint="http://collector.example:4318/v1/traces"/>
</gatehouse>`)
	cfg := mustLoad(t, path)
	if tr := cfg.Tracing; tr.Sampling != DefaultTracingSampling || tr.ServiceName != DefaultTracingServiceName {
		t.Errorf("Tracing = %+v, want the defaults", tr)
	}
	want := path + ":5: tracing: endpoint http://collector.example:4318/v1/traces is plain http to another host: spans (callers, subjects, decisions) cross the network unencrypted"
	if !reflect.DeepEqual(cfg.Warnings, []string{want}) {
		t.Errorf("Warnings = %q\nwant [%q]", cfg.Warnings, want)
	}

	_, path = setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
</gatehouse>`)
	if cfg := mustLoad(t, path); cfg.Tracing != nil {
		t.Errorf("Tracing = %+v without a tracing element, want nil (off)", cfg.Tracing)
	}
}
