package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Code is the top-level fault code. Each has a SOAP 1.1 and a SOAP 1.2 name.
type Code int

const (
	// Sender means the message was at fault (1.1 Client, 1.2 Sender).
	Sender Code = iota + 1
	// Receiver means the gateway or what is behind it failed (1.1 Server, 1.2 Receiver).
	Receiver
	// MustUnderstand means a mandatory header was not understood.
	MustUnderstand
	// VersionMismatch means the envelope namespace was not the expected one.
	VersionMismatch
)

func (c Code) local(v Version) string {
	switch c {
	case Sender:
		if v == V12 {
			return "Sender"
		}
		return "Client"
	case MustUnderstand:
		return "MustUnderstand"
	case VersionMismatch:
		return "VersionMismatch"
	}
	if v == V12 {
		return "Receiver"
	}
	return "Server"
}

// QName is a namespace-qualified name.
type QName struct{ Space, Local string }

func (q QName) String() string {
	if q.Space == "" {
		return q.Local
	}
	return "{" + q.Space + "}" + q.Local
}

// IsZero reports whether q is the empty name.
func (q QName) IsZero() bool { return q.Space == "" && q.Local == "" }

// Namespaces of WS-Security.
const (
	NSWSSE  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSSE1 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	NSWSU   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)

// The fault codes of WS-Security 1.1 SOAP Message Security, section 12. In
// SOAP 1.1 they are the faultcode itself; in SOAP 1.2 a Subcode of Sender.
var (
	FaultUnsupportedSecurityToken = QName{NSWSSE, "UnsupportedSecurityToken"}
	FaultUnsupportedAlgorithm     = QName{NSWSSE, "UnsupportedAlgorithm"}
	FaultInvalidSecurity          = QName{NSWSSE, "InvalidSecurity"}
	FaultInvalidSecurityToken     = QName{NSWSSE, "InvalidSecurityToken"}
	FaultFailedAuthentication     = QName{NSWSSE, "FailedAuthentication"}
	FaultFailedCheck              = QName{NSWSSE, "FailedCheck"}
	FaultSecurityTokenUnavailable = QName{NSWSSE, "SecurityTokenUnavailable"}
	FaultMessageExpired           = QName{NSWSSE, "MessageExpired"}
)

// Fault is an error that becomes a SOAP fault. The client sees Code, Subcode
// and Public; Err is the internal reason and goes to the audit record only.
type Fault struct {
	Code    Code
	Subcode QName  // optional, e.g. FaultInvalidSecurity
	Status  int    // HTTP status; 0 means the binding's default for Code
	Public  string // faultstring / Reason text; generic on purpose
	Err     error  // internal reason, never sent
}

// SenderFault is a fault caused by the message.
func SenderFault(public string, err error) *Fault {
	return &Fault{Code: Sender, Public: public, Err: err}
}

// ReceiverFault is a fault on the gateway's side or behind it.
func ReceiverFault(public string, err error) *Fault {
	return &Fault{Code: Receiver, Public: public, Err: err}
}

// SecurityFault is a Sender fault with a WS-Security fault code.
func SecurityFault(code QName, public string, err error) *Fault {
	return &Fault{Code: Sender, Subcode: code, Public: public, Err: err}
}

// WithStatus sets the HTTP status and returns f.
func (f *Fault) WithStatus(status int) *Fault {
	f.Status = status
	return f
}

func (f *Fault) Error() string {
	name := f.Code.local(V12)
	if !f.Subcode.IsZero() {
		name += "/" + f.Subcode.Local
	}
	if f.Err == nil {
		return "soap fault " + name + ": " + f.Public
	}
	return "soap fault " + name + ": " + f.Err.Error()
}

func (f *Fault) Unwrap() error { return f.Err }

// Reason is the internal reason for the audit record.
func (f *Fault) Reason() string {
	if f.Err == nil {
		return f.Public
	}
	return f.Err.Error()
}

// CodeName is the fault code as the client sees it in version v, for audit
// records and metrics: the subcode's local name when there is one.
func (f *Fault) CodeName(v Version) string {
	if !f.Subcode.IsZero() {
		return f.Subcode.Local
	}
	return f.Code.local(v)
}

// HTTPStatus is the status of the response carrying the fault: Status when
// set, else what the binding says. SOAP 1.1 sends every fault with 500; the
// SOAP 1.2 HTTP binding (Part 2, 7.5.2.2) uses 400 for Sender faults and 500
// for the others.
func (f *Fault) HTTPStatus(v Version) int {
	if f.Status != 0 {
		return f.Status
	}
	if v == V12 && f.Code == Sender {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// AsFault returns err as a *Fault: the fault it wraps, or a Receiver fault
// that keeps err as its internal reason.
func AsFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return ReceiverFault("internal error", err)
}

// Marshal renders the fault as a complete envelope of version v.
func (f *Fault) Marshal(v Version) []byte {
	var b bytes.Buffer
	public := f.Public
	if public == "" {
		public = "request failed"
	}
	if v == V12 {
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<env:Envelope xmlns:env="` + NS12 + `"><env:Body><env:Fault><env:Code><env:Value>env:`)
		b.WriteString(f.Code.local(V12))
		b.WriteString(`</env:Value>`)
		if !f.Subcode.IsZero() {
			fmt.Fprintf(&b, `<env:Subcode><env:Value xmlns:sc="%s">sc:%s</env:Value></env:Subcode>`,
				escape(f.Subcode.Space), escape(f.Subcode.Local))
		}
		b.WriteString(`</env:Code><env:Reason><env:Text xml:lang="en">`)
		b.WriteString(escape(public))
		b.WriteString(`</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`)
		return b.Bytes()
	}
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + NS11 + `"><soap:Body><soap:Fault>`)
	if f.Subcode.IsZero() {
		b.WriteString(`<faultcode>soap:` + f.Code.local(V11) + `</faultcode>`)
	} else {
		// WS-Security puts its code in faultcode itself for SOAP 1.1.
		fmt.Fprintf(&b, `<faultcode xmlns:sc="%s">sc:%s</faultcode>`, escape(f.Subcode.Space), escape(f.Subcode.Local))
	}
	b.WriteString(`<faultstring>`)
	b.WriteString(escape(public))
	b.WriteString(`</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// String is the SOAP 1.2 name of the code.
func (c Code) String() string { return c.local(V12) }
