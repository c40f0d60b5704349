package conf

import (
	"encoding/xml"
	"strconv"
	"time"
)

// Defaults for a listener's connection limits. The default Max is not a
// constant: the gateway derives it at start from the process's descriptor
// limit (RLIMIT_NOFILE), less a reserve for the admin listener, the
// backends' and the store's connections, shared among the listeners that
// do not set their own.
const (
	// DefaultPerClient bounds the connections of one client address: a
	// legacy consumer's connection pool is a few dozen at most, so this
	// leaves room for a few consumers behind one NAT address. Behind a load
	// balancer that does not keep client addresses, raise it.
	DefaultPerClient = 256
	// DefaultPendingHandshakes bounds the TLS handshakes in progress: a
	// full handshake costs about a millisecond of CPU, so more than this at
	// once is a flood, not a load.
	DefaultPendingHandshakes = 512
	// DefaultHandshakeTimeout is what the HTTP server allowed for the
	// handshake before (its readHeader timeout): a client on a slow link
	// completes a handshake in a few round trips.
	DefaultHandshakeTimeout = 5 * time.Second
)

// Bounds for connection limits: above them a value is more likely a typo
// than a need.
const (
	maxConnections      = 1_000_000
	maxHandshakeTimeout = time.Minute
)

// Connections are a listener's connection limits. Zero counts are left
// to the gateway: Max derived from the descriptor limit, PerClient
// DefaultPerClient and PendingHandshakes DefaultPendingHandshakes, each
// at most Max. A connection over a limit is closed as soon as it is
// accepted; one whose TLS handshake has not completed after
// HandshakeTimeout is closed then. Pos is zero when the listener has no
// connections element.
type Connections struct {
	Pos
	// Max bounds the connections the listener holds, those in the TLS
	// handshake included.
	Max int
	// PerClient bounds the connections of one client address (an IPv4
	// address, an IPv6 /64 network).
	PerClient int
	// PendingHandshakes bounds the connections in the TLS handshake.
	PendingHandshakes int
	// HandshakeTimeout is how long a connection may take to complete its
	// TLS handshake (DefaultHandshakeTimeout unless written), sending
	// nothing included.
	HandshakeTimeout time.Duration
}

// UnmarshalXML keeps the defaults already in n for attributes left out.
func (n *Connections) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Max               int    `xml:"max,attr"`
		PerClient         int    `xml:"perClient,attr"`
		PendingHandshakes int    `xml:"pendingHandshakes,attr"`
		HandshakeTimeout  string `xml:"handshakeTimeout,attr"`
	}
	n.Line = startLine(d)
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	n.Max, n.PerClient, n.PendingHandshakes = raw.Max, raw.PerClient, raw.PendingHandshakes
	return parseDuration(&n.HandshakeTimeout, raw.HandshakeTimeout, n.Line, "handshakeTimeout")
}

// checkConnections checks listener/connections: counts within bounds, no
// per-client or handshake limit above a written max, a positive handshake
// timeout of at most a minute.
func (c *checker) checkConnections(n *Connections, el string) {
	for _, v := range []struct {
		attr string
		val  int
	}{
		{"max", n.Max},
		{"perClient", n.PerClient},
		{"pendingHandshakes", n.PendingHandshakes},
	} {
		switch {
		case v.val < 0: // the schema refuses it
			c.errorf(n.Pos, el, "%s %d must be at least 1", v.attr, v.val)
		case v.val > maxConnections:
			c.errorf(n.Pos, el, "%s %d is above the maximum of %s", v.attr, v.val, strconv.Itoa(maxConnections))
		case v.attr != "max" && n.Max > 0 && v.val > n.Max:
			c.errorf(n.Pos, el, "%s %d is above max %d", v.attr, v.val, n.Max)
		}
	}
	switch {
	case n.HandshakeTimeout <= 0:
		c.errorf(n.Pos, el, "handshakeTimeout must be greater than 0")
	case n.HandshakeTimeout > maxHandshakeTimeout:
		c.errorf(n.Pos, el, "handshakeTimeout %s is above the maximum of %s", n.HandshakeTimeout, maxHandshakeTimeout)
	}
}
