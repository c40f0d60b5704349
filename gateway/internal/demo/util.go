package demo

import (
	"bytes"
	"encoding/xml"
	"net/http"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

func childText(parent *etree.Element, local string) string {
	for _, c := range parent.ChildElements() {
		if c.Tag == local {
			s, _ := soap.Text(c)
			return s
		}
	}
	return ""
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func respond(w http.ResponseWriter, v soap.Version, payload string) {
	w.Header().Set("Content-Type", v.ContentType())
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="` + v.Namespace() + `"><soap:Body>` + payload + `</soap:Body></soap:Envelope>`))
}

func fault(w http.ResponseWriter, v soap.Version, f *soap.Fault) {
	w.Header().Set("Content-Type", v.ContentType())
	w.WriteHeader(f.HTTPStatus(v))
	_, _ = w.Write(f.Marshal(v))
}
