package conf

import (
	"testing"
	"time"
)

// TestLoadConnections: listener/connections as written, and the defaults
// (counts left to the gateway, the handshake timeout filled in) for a
// listener without the element.
func TestLoadConnections(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
    <connections max="2000" perClient="100" pendingHandshakes="300" handshakeTimeout="2s"/>
  </listener>
  <listener name="internal" address="127.0.0.1:8444">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
    <connections perClient="10"/>
  </listener>
  <listener name="other" address="127.0.0.1:8445">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
</gatehouse>
`)
	cfg := mustLoad(t, path)
	for i, want := range []Connections{
		{Pos: Pos{path, 4}, Max: 2000, PerClient: 100, PendingHandshakes: 300, HandshakeTimeout: 2 * time.Second},
		// perClient without max: not checked against the max derived at start.
		{Pos: Pos{path, 8}, PerClient: 10, HandshakeTimeout: DefaultHandshakeTimeout},
		{HandshakeTimeout: DefaultHandshakeTimeout},
	} {
		if got := cfg.Listeners[i].Connections; got != want {
			t.Errorf("listener %s: Connections = %+v, want %+v", cfg.Listeners[i].Name, got, want)
		}
	}
}
