package soap

import (
	"errors"
	"fmt"
	"mime"
	"strings"
)

// Version is a SOAP version.
type Version int

const (
	// V11 is SOAP 1.1.
	V11 Version = 1
	// V12 is SOAP 1.2.
	V12 Version = 2
)

// Namespaces of the SOAP envelopes.
const (
	NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NS12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Media types of the SOAP HTTP bindings.
const (
	MediaType11 = "text/xml"
	MediaType12 = "application/soap+xml"
)

func (v Version) String() string {
	switch v {
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return "unknown"
}

// Namespace returns the envelope namespace of the version.
func (v Version) Namespace() string {
	if v == V12 {
		return NS12
	}
	return NS11
}

// ContentType returns the Content-Type of a message of this version.
func (v Version) ContentType() string {
	if v == V12 {
		return MediaType12 + "; charset=utf-8"
	}
	return MediaType11 + "; charset=utf-8"
}

// ParseVersion reads "1.1" or "1.2".
func ParseVersion(s string) (Version, error) {
	switch s {
	case "1.1":
		return V11, nil
	case "1.2":
		return V12, nil
	}
	return 0, fmt.Errorf("unknown SOAP version %q", s)
}

// versionOfNamespace maps an envelope namespace to its version (0 if none).
func versionOfNamespace(ns string) Version {
	switch ns {
	case NS11:
		return V11
	case NS12:
		return V12
	}
	return 0
}

// Binding is what the HTTP request says about the SOAP message: the version
// its Content-Type implies and the action it names (SOAPAction for 1.1, the
// action parameter for 1.2).
type Binding struct {
	Version Version
	Action  string
	// HasAction is true when the request named an action at all; a SOAP 1.1
	// request always does (an empty SOAPAction "" is still present).
	HasAction bool
}

// ErrMediaType is wrapped by ReadBinding errors about the Content-Type.
var ErrMediaType = errors.New("unsupported media type")

// ReadBinding checks the Content-Type and SOAPAction of a request against the
// SOAP HTTP bindings: text/xml with a SOAPAction header for SOAP 1.1,
// application/soap+xml with an optional action parameter for SOAP 1.2. A
// charset other than UTF-8 is refused.
func ReadBinding(contentType string, soapAction []string) (Binding, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Binding{}, fmt.Errorf("%w: content-type %q: %v", ErrMediaType, contentType, err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return Binding{}, fmt.Errorf("%w: charset %q (only utf-8 is accepted)", ErrMediaType, cs)
	}
	switch mt {
	case MediaType11:
		if len(soapAction) != 1 {
			return Binding{}, fmt.Errorf("%w: SOAP 1.1 request needs exactly one SOAPAction header, got %d", ErrMediaType, len(soapAction))
		}
		return Binding{Version: V11, Action: unquoteAction(soapAction[0]), HasAction: true}, nil
	case MediaType12:
		if len(soapAction) != 0 {
			return Binding{}, fmt.Errorf("%w: SOAPAction header on a SOAP 1.2 request (use the action parameter)", ErrMediaType)
		}
		a, ok := params["action"]
		return Binding{Version: V12, Action: a, HasAction: ok}, nil
	}
	return Binding{}, fmt.Errorf("%w: %q", ErrMediaType, mt)
}

// unquoteAction strips the quotes SOAP 1.1 puts around a SOAPAction URI.
func unquoteAction(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// ActionMatches reports whether a SOAP action (SOAPAction, the SOAP 1.2
// action parameter or wsa:Action) names the operation op: the empty action
// says nothing and matches; otherwise its last segment (after the last '/',
// ':' or '#') must be op's local name. Gatehouse decides on the operation
// in the Body, so an action that claims another one is refused as spoofing.
func ActionMatches(action string, op QName) bool {
	if action == "" {
		return true
	}
	i := strings.LastIndexAny(action, "/:#")
	return action[i+1:] == op.Local
}
