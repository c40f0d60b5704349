package schemas

/*
#cgo pkg-config: libxml-2.0
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// initOnce initialises libxml2 and installs the refusing external entity
// loader, once per process, before the first compilation or validation.
var initOnce sync.Once

func initLibxml() { initOnce.Do(func() { C.gh_init() }) }

var errClosed = errors.New("schemas: the schema set is closed")

// Set is a compiled XSD schema set; immutable and safe for concurrent use
// by many goroutines.
//
// A Set holds C memory: it lives as long as the configuration that
// compiled it and is released by Close. A validation still running when
// Close is called finishes first; later ones fail. A Set that becomes
// unreachable without Close is released by the garbage collector.
type Set struct {
	name string

	mu     sync.Mutex
	users  int // validations in progress
	closed bool
	c      compiled
	clean  runtime.Cleanup
}

// maxIdle bounds the idle validation contexts kept per Set and the idle
// parser contexts kept per process: enough for the validations that run at
// once on a gateway's cores, while a burst beyond that frees its extras.
const maxIdle = 32

// compiled is what gh_compile returns: the schema and its main document,
// which libxml2 does not own; and the idle validation contexts of the
// schema (guarded by the Set's mu). A context is used by one call at a
// time, then returned to idle (at most maxIdle), so that a validation does
// not build one afresh. They live in their own record so that the Set's
// cleanup, which may not refer to the Set, frees them too.
type compiled struct {
	schema C.xmlSchemaPtr
	doc    C.xmlDocPtr
	idle   *idleContexts
}

// idleContexts are the idle validation contexts of a schema: list for
// document validations, stream for tree validations (a context libxml2 put
// in streaming mode must not validate a document afterwards: it would look
// namespaces up among streamed bindings).
type idleContexts struct{ list, stream []C.xmlSchemaValidCtxtPtr }

// pool returns the idle list of the given kind.
func (c *idleContexts) pool(stream bool) *[]C.xmlSchemaValidCtxtPtr {
	if stream {
		return &c.stream
	}
	return &c.list
}

// free frees the idle contexts, then the schema they belong to.
func (c compiled) free() {
	if c.idle != nil {
		for _, v := range c.idle.list {
			C.gh_free_valid(v)
		}
		for _, v := range c.idle.stream {
			C.gh_free_valid(v)
		}
		c.idle.list, c.idle.stream = nil, nil
	}
	C.gh_free_schema(c.schema, c.doc)
}

// idleParsers are parser contexts no call uses (at most maxIdle).
var idleParsers struct {
	sync.Mutex
	list []C.xmlParserCtxtPtr
}

func takeParser() C.xmlParserCtxtPtr {
	idleParsers.Lock()
	defer idleParsers.Unlock()
	n := len(idleParsers.list)
	if n == 0 {
		return nil
	}
	p := idleParsers.list[n-1]
	idleParsers.list = idleParsers.list[:n-1]
	return p
}

func putParser(p C.xmlParserCtxtPtr) {
	if p == nil {
		return
	}
	idleParsers.Lock()
	if len(idleParsers.list) < maxIdle {
		idleParsers.list = append(idleParsers.list, p)
		p = nil
	}
	idleParsers.Unlock()
	if p != nil {
		C.gh_free_parser(p)
	}
}

func newSet(name string, c compiled) *Set {
	c.idle = &idleContexts{}
	s := &Set{name: name, c: c}
	s.clean = runtime.AddCleanup(s, compiled.free, c)
	return s
}

// Name returns the name the set was compiled under: the embedded file name,
// or the file paths given to CompileFiles.
func (s *Set) Name() string { return s.name }

// Close frees the compiled schema. It is idempotent.
func (s *Set) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.users == 0 {
		s.release()
	}
}

// release frees the C memory; s.mu is held.
func (s *Set) release() {
	s.clean.Stop()
	s.c.free()
	s.c = compiled{}
}

// acquire pins the schema for one document validation and hands out an
// idle validation context of it (nil when there is none: the shim makes one).
func (s *Set) acquire() (C.xmlSchemaPtr, C.xmlSchemaValidCtxtPtr, error) {
	return s.acquireKind(false)
}

// acquireKind is acquire for document (stream false) or tree validations.
func (s *Set) acquireKind(stream bool) (C.xmlSchemaPtr, C.xmlSchemaValidCtxtPtr, error) {
	if s == nil {
		return nil, nil, errors.New("schemas: no schema set")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errClosed
	}
	s.users++
	var v C.xmlSchemaValidCtxtPtr
	if p := s.c.idle.pool(stream); len(*p) > 0 {
		v = (*p)[len(*p)-1]
		*p = (*p)[:len(*p)-1]
	}
	return s.c.schema, v, nil
}

// done ends one document validation; v is the context it leaves for reuse
// (nil when the shim freed it).
func (s *Set) done(v C.xmlSchemaValidCtxtPtr) { s.doneKind(false, v) }

// doneKind is done for document (stream false) or tree validations.
func (s *Set) doneKind(stream bool, v C.xmlSchemaValidCtxtPtr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v != nil {
		if p := s.c.idle.pool(stream); !s.closed && len(*p) < maxIdle {
			*p = append(*p, v)
		} else {
			C.gh_free_valid(v)
		}
	}
	s.users--
	if s.closed && s.users == 0 {
		s.release()
	}
}

// Validate parses doc with libxml2 (no network, no DTD) and validates the
// whole document against s. It returns a *ValidationError for schema
// problems and a *ParseError for a document that cannot be parsed.
func (s *Set) Validate(doc []byte) error {
	schema, v, err := s.acquire()
	if err != nil {
		return err
	}
	cx := C.gh_ctxts{envelope: v}
	defer func() { s.done(cx.envelope) }()
	if err := checkSize(doc); err != nil {
		return err
	}
	cx.parser = takeParser()
	var res *C.gh_result
	st := C.gh_validate(schema, &cx, bytesPtr(doc), C.int(len(doc)), &res)
	putParser(cx.parser)
	return outcome(st, res)
}

// ValidateEnvelope parses doc once, validates the root element against
// envelope, then validates every element child of the root's Body (the
// root's child named "Body" in the root's namespace) against payload, if
// payload is not nil, with xmlSchemaValidateOneElement. A Body child with
// no global element declaration in payload is a problem. Envelope problems
// stop before the payload is looked at; a root with no Body or with more
// than one is a problem even if the envelope schema allows it.
// It returns a *ValidationError for schema problems and a *ParseError for
// a document that cannot be parsed; line numbers are those of doc.
func ValidateEnvelope(doc []byte, envelope, payload *Set) error {
	env, venv, err := envelope.acquire()
	if err != nil {
		return err
	}
	cx := C.gh_ctxts{envelope: venv}
	defer func() { envelope.done(cx.envelope) }()
	var pay C.xmlSchemaPtr
	if payload != nil {
		if pay, cx.payload, err = payload.acquire(); err != nil {
			return err
		}
		defer func() { payload.done(cx.payload) }()
	}
	if err := checkSize(doc); err != nil {
		return err
	}
	cx.parser = takeParser()
	var res *C.gh_result
	st := C.gh_validate_envelope(env, pay, &cx, bytesPtr(doc), C.int(len(doc)), &res)
	putParser(cx.parser)
	return outcome(st, res)
}

func checkSize(doc []byte) error {
	if len(doc) == 0 {
		return &ParseError{Message: "empty document"}
	}
	if len(doc) > math.MaxInt32 {
		return &ParseError{Message: "document too large"}
	}
	return nil
}

// bytesPtr passes b to C for the duration of one call; libxml2 copies what
// it keeps.
func bytesPtr(b []byte) *C.char { return (*C.char)(unsafe.Pointer(unsafe.SliceData(b))) }

// outcome turns a shim status and its problems into an error.
func outcome(st C.int, res *C.gh_result) error {
	problems, dropped := takeResult(res)
	switch st {
	case C.GH_OK:
		return nil
	case C.GH_INVALID:
		ve := &ValidationError{Truncated: dropped > 0}
		for _, p := range problems {
			el := clark(p.ns, p.name)
			ve.Problems = append(ve.Problems, Problem{Line: p.line, Element: el, Message: cleanMessage(p.msg, el, p.cut)})
		}
		return ve
	case C.GH_NOT_WELL_FORMED:
		pe := &ParseError{Message: "document is not well-formed"}
		if len(problems) > 0 {
			pe.Line, pe.Message = problems[0].line, cleanMessage(problems[0].msg, "", problems[0].cut)
		}
		return pe
	default:
		msg := "unknown error"
		if len(problems) > 0 {
			msg = cleanMessage(problems[0].msg, "", problems[0].cut)
		}
		return fmt.Errorf("schemas: internal libxml2 error: %s", msg)
	}
}

// rawProblem is a gh_problem copied into Go memory.
type rawProblem struct {
	level, line         int
	file, ns, name, msg string
	cut                 bool
}

// takeResult copies and frees a gh_result.
func takeResult(res *C.gh_result) (ps []rawProblem, dropped int) {
	if res == nil {
		return nil, 0
	}
	defer C.gh_result_free(res)
	n := min(max(int(res.n), 0), int(C.GH_MAX_PROBLEMS))
	for i := range n {
		p := &res.p[i]
		ps = append(ps, rawProblem{
			level: int(p.level),
			line:  int(p.line),
			file:  C.GoString(&p.file[0]),
			ns:    C.GoString(&p.ns[0]),
			name:  C.GoString(&p.name[0]),
			msg:   C.GoString(&p.msg[0]),
			cut:   p.msg_truncated != 0,
		})
	}
	return ps, int(res.dropped)
}

// compile parses and compiles the main schema document d; r answers every
// schemaLocation libxml2 asks for while compiling.
func compile(name string, d *schemaDoc, r *resolver) (*Set, error) {
	initLibxml()
	if len(d.data) == 0 || len(d.data) > maxSchemaBytes {
		return nil, &CompileError{Name: name, Problems: []CompileProblem{{File: displayName(d.url), Message: "empty or too large"}}}
	}
	h := cgo.NewHandle(r)
	defer h.Delete()
	defer func() {
		for _, p := range r.cmem {
			C.free(p)
		}
		r.cmem = nil
	}()
	curl := C.CString(d.url)
	defer C.free(unsafe.Pointer(curl))

	var c compiled
	var res *C.gh_result
	st := C.gh_compile(bytesPtr(d.data), C.int(len(d.data)), curl, C.uintptr_t(h), &c.schema, &c.doc, &res)
	problems, dropped := takeResult(res)
	failed := st != C.GH_OK || len(r.refusals) > 0
	for _, p := range problems {
		failed = failed || p.level >= int(C.XML_ERR_ERROR)
	}
	if !failed {
		return newSet(name, c), nil
	}
	if c.schema != nil {
		c.free()
	}
	return nil, compileError(name, r, problems, dropped)
}

// compileError explains a failed compilation: refused locations first,
// then libxml2's errors (or, if it gave none, its warnings).
func compileError(name string, r *resolver, problems []rawProblem, dropped int) *CompileError {
	e := &CompileError{Name: name, Truncated: dropped > 0}
	mentionsRefusal := func(msg string) bool {
		for _, f := range r.refusals {
			if strings.Contains(msg, f.resolved) || strings.Contains(msg, f.location) {
				return true
			}
		}
		return false
	}
	for _, f := range r.refusals {
		cp := CompileProblem{File: displayName(f.from), Line: f.line, Location: f.location, Message: f.reason}
		if f.from == "" { // refused by the loader: libxml2's warning knows where
			for _, p := range problems {
				if strings.Contains(p.msg, f.resolved) {
					cp.File, cp.Line = displayName(p.file), p.line
					break
				}
			}
		}
		e.Problems = append(e.Problems, cp)
	}
	for _, level := range []int{int(C.XML_ERR_ERROR), int(C.XML_ERR_WARNING)} {
		if len(e.Problems) > 0 {
			break
		}
		for _, p := range problems {
			if p.level < level || mentionsRefusal(p.msg) {
				continue
			}
			e.Problems = append(e.Problems, CompileProblem{File: displayName(p.file), Line: p.line, Message: cleanMessage(p.msg, "", p.cut)})
		}
	}
	if len(e.Problems) == 0 {
		e.Problems = []CompileProblem{{Message: "libxml2 could not compile the schema"}}
	}
	if len(e.Problems) > int(C.GH_MAX_PROBLEMS) {
		e.Problems, e.Truncated = e.Problems[:C.GH_MAX_PROBLEMS], true
	}
	return e
}

// ghResolve is called by the shim's external entity loader, on the thread
// of a gh_compile call, for every schema document libxml2 wants to read.
// It returns C copies that stay valid until the compilation ends.
//
//export ghResolve
func ghResolve(h C.uintptr_t, url *C.char, data **C.char, n *C.size_t, canon **C.char) C.int {
	r, ok := cgo.Handle(h).Value().(*resolver)
	if !ok || url == nil {
		return 0
	}
	loc := C.GoStringN(url, C.int(C.strnlen(url, maxLocation+1)))
	d, ok := r.load(loc)
	if !ok {
		return 0
	}
	pd := C.CBytes(d.data)
	pc := C.CString(d.url)
	r.cmem = append(r.cmem, pd, unsafe.Pointer(pc))
	*data, *n, *canon = (*C.char)(pd), C.size_t(len(d.data)), pc
	return 1
}
