package orchestration

/*
#cgo pkg-config: libxml-2.0
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

// What lestrrat-go/libxml2 does not offer: binding XPath variables, reading
// a result as a string or as node pointers, and libxml2's error text and
// position without printing it to stderr. Pointers arrive as uintptr_t (the
// values lestrrat's Pointer methods return) so that Go never converts an
// integer into a pointer.

typedef struct {
	char msg[256];
	int pos;
	int set;
} gh_xp_problem;

static void gh_xp_capture(void *data, xmlErrorPtr err)
{
	gh_xp_problem *p = data;
	size_t n;

	if (p == NULL || err == NULL || p->set)
		return;
	p->set = 1;
	p->pos = err->int1;
	if (err->message == NULL)
		return;
	n = strnlen(err->message, sizeof p->msg - 1);
	memcpy(p->msg, err->message, n);
	p->msg[n] = '\0';
}

// gh_xp_check compiles expr with errors routed to p instead of stderr. The
// handler is thread-local in libxml2 and this call runs on one thread.
static int gh_xp_check(const char *expr, gh_xp_problem *p)
{
	xmlStructuredErrorFunc prev = xmlStructuredError;
	void *prev_ctx = xmlStructuredErrorContext;
	xmlXPathCompExprPtr comp;

	memset(p, 0, sizeof *p);
	xmlSetStructuredErrorFunc(p, gh_xp_capture);
	comp = xmlXPathCompile((const xmlChar *)expr);
	xmlSetStructuredErrorFunc(prev_ctx, prev);
	if (comp == NULL)
		return 0;
	xmlXPathFreeCompExpr(comp);
	return 1;
}

static void gh_xp_silent(void *data, xmlErrorPtr err)
{
	(void)data;
	(void)err;
}

// gh_xp_setup keeps evaluation errors in the context's lastError instead
// of printing them, and bounds the work of one evaluation: libxml2 counts
// operations (roughly, nodes visited) and stops at opLimit, since nothing
// else can interrupt an evaluation in C.
static void gh_xp_setup(uintptr_t ctx, unsigned long op_limit)
{
	xmlXPathContextPtr c = (xmlXPathContextPtr)ctx;

	c->error = gh_xp_silent;
	c->opLimit = op_limit;
	c->opCount = 0;
}

static int gh_xp_error(uintptr_t ctx, int *pos)
{
	xmlXPathContextPtr c = (xmlXPathContextPtr)ctx;
	*pos = c->lastError.int1;
	return c->lastError.code;
}

// gh_xp_reset makes a context ready for another evaluation: no variables,
// no namespaces, no error, the context size and position of a fresh one.
static void gh_xp_reset(uintptr_t ctx)
{
	xmlXPathContextPtr c = (xmlXPathContextPtr)ctx;

	xmlXPathRegisteredVariablesCleanup(c);
	xmlXPathRegisteredNsCleanup(c);
	xmlResetError(&c->lastError);
	c->contextSize = -1;
	c->proximityPosition = -1;
	c->opCount = 0;
	c->depth = 0;
}

static int gh_xp_register_ns(uintptr_t ctx, const char *prefix, const char *uri)
{
	return xmlXPathRegisterNs((xmlXPathContextPtr)ctx, (const xmlChar *)prefix, (const xmlChar *)uri);
}

static int gh_xp_bind_nodes(uintptr_t ctx, const char *name, const uintptr_t *nodes, int n)
{
	xmlXPathObjectPtr o = xmlXPathNewNodeSet(NULL);
	int i;

	if (o == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (xmlXPathNodeSetAddUnique(o->nodesetval, (xmlNodePtr)nodes[i]) < 0) {
			xmlXPathFreeObject(o);
			return -1;
		}
	}
	if (xmlXPathRegisterVariable((xmlXPathContextPtr)ctx, (const xmlChar *)name, o) != 0) {
		xmlXPathFreeObject(o);
		return -1;
	}
	return 0;
}

static int gh_xp_bind_string(uintptr_t ctx, const char *name, const char *s)
{
	xmlXPathObjectPtr o = xmlXPathNewString((const xmlChar *)s);

	if (o == NULL)
		return -1;
	if (xmlXPathRegisterVariable((xmlXPathContextPtr)ctx, (const xmlChar *)name, o) != 0) {
		xmlXPathFreeObject(o);
		return -1;
	}
	return 0;
}

// gh_xp_string is the XPath string() of a result; free it with gh_free.
static char *gh_xp_string(uintptr_t obj)
{
	return (char *)xmlXPathCastToString((xmlXPathObjectPtr)obj);
}

static void gh_free(char *p)
{
	xmlFree(p);
}

// gh_xp_node_count is the size of a node-set result, 0 for other types.
static int gh_xp_node_count(uintptr_t obj)
{
	xmlXPathObjectPtr o = (xmlXPathObjectPtr)obj;

	if (o->type != XPATH_NODESET || o->nodesetval == NULL)
		return 0;
	return o->nodesetval->nodeNr;
}

// gh_xp_nodes copies up to cap nodes of a node-set result into out and
// returns how many it copied. A document node becomes its root element;
// namespace nodes, which the result owns, are left out and counted in
// *skipped.
static int gh_xp_nodes(uintptr_t obj, uintptr_t *out, int cap, int *skipped)
{
	xmlXPathObjectPtr o = (xmlXPathObjectPtr)obj;
	int i, n = 0;

	*skipped = 0;
	if (o->type != XPATH_NODESET || o->nodesetval == NULL)
		return 0;
	for (i = 0; i < o->nodesetval->nodeNr && n < cap; i++) {
		xmlNodePtr node = o->nodesetval->nodeTab[i];
		switch (node->type) {
		case XML_NAMESPACE_DECL:
			(*skipped)++;
			continue;
		case XML_DOCUMENT_NODE:
			node = xmlDocGetRootElement((xmlDocPtr)node);
			if (node == NULL)
				continue;
			break;
		default:
			break;
		}
		out[n++] = (uintptr_t)node;
	}
	return n;
}

// gh_node_type is a node's libxml2 type.
static int gh_node_type(uintptr_t node)
{
	return ((xmlNodePtr)node)->type;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// Node types of libxml2 that the engine distinguishes.
const (
	nodeElement   = C.XML_ELEMENT_NODE
	nodeAttribute = C.XML_ATTRIBUTE_NODE
	nodeText      = C.XML_TEXT_NODE
	nodeCDATA     = C.XML_CDATA_SECTION_NODE
)

// checkXPath compiles expr once with libxml2 to report its syntax errors
// with libxml2's message and position, which xpath.NewExpression drops
// (and prints to stderr instead).
func checkXPath(expr string) error {
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var p C.gh_xp_problem
	if C.gh_xp_check(cexpr, &p) == 1 {
		return nil
	}
	msg := strings.TrimSpace(C.GoString(&p.msg[0]))
	if msg == "" {
		msg = "invalid expression"
	}
	return fmt.Errorf("%s at offset %d", strings.ToLower(msg[:1])+msg[1:], int(p.pos))
}

// maxXPathOps bounds the operations of one evaluation (libxml2's opLimit),
// so that no expression over no input can hold a run past its deadline
// for long: a run's context cannot interrupt C code.
const maxXPathOps = 5_000_000

func xpSetup(ctx uintptr) { C.gh_xp_setup(C.uintptr_t(ctx), maxXPathOps) }

func xpReset(ctx uintptr) { C.gh_xp_reset(C.uintptr_t(ctx)) }

// cString is a NUL-terminated copy of a string in C memory, made once at
// load for names that every evaluation passes to libxml2.
type cString struct{ p unsafe.Pointer }

func newCString(s string) cString { return cString{unsafe.Pointer(C.CString(s))} }

func (c *cString) free() {
	C.free(c.p)
	c.p = nil
}

func (c cString) ptr() *C.char { return (*C.char)(c.p) }

func xpRegisterNS(ctx uintptr, prefix, uri cString) error {
	if C.gh_xp_register_ns(C.uintptr_t(ctx), prefix.ptr(), uri.ptr()) != 0 {
		return errors.New("cannot register an XPath namespace")
	}
	return nil
}

// xpError describes the error the last evaluation in ctx ran into.
func xpError(ctx uintptr) error {
	var pos C.int
	code := int(C.gh_xp_error(C.uintptr_t(ctx), &pos))
	msg, ok := xpathErrors[code-C.XML_XPATH_EXPRESSION_OK]
	if !ok {
		msg = fmt.Sprintf("libxml2 error %d", code)
	}
	return fmt.Errorf("%s at offset %d", msg, int(pos))
}

// xpathErrors are libxml2's XPath error codes (xmlXPathError) in words.
var xpathErrors = map[int]string{
	1:  "number error",
	2:  "unfinished literal",
	3:  "start of literal",
	4:  "expected $ for variable reference",
	5:  "undefined variable",
	6:  "invalid predicate",
	7:  "invalid expression",
	8:  "missing closing curly brace",
	9:  "unregistered function",
	10: "invalid operand",
	11: "invalid type",
	12: "invalid number of arguments",
	13: "invalid context size",
	14: "invalid context position",
	15: "memory allocation failed",
	16: "syntax error",
	17: "resource error",
	18: "sub resource error",
	19: "undefined namespace prefix",
	20: "encoding error",
	21: "char out of XML range",
	22: "invalid or incomplete context",
	23: "stack usage error",
	24: "forbidden variable",
	25: "operation limit exceeded",
	26: "recursion limit exceeded",
}

var errBind = errors.New("cannot bind an XPath variable")

func xpBindNodes(ctx uintptr, name cString, nodes []uintptr) error {
	var p *C.uintptr_t
	if len(nodes) > 0 {
		p = (*C.uintptr_t)(unsafe.Pointer(&nodes[0]))
	}
	if C.gh_xp_bind_nodes(C.uintptr_t(ctx), name.ptr(), p, C.int(len(nodes))) != 0 {
		return errBind
	}
	return nil
}

func xpBindString(ctx uintptr, name cString, s string) error {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	if C.gh_xp_bind_string(C.uintptr_t(ctx), name.ptr(), cs) != 0 {
		return errBind
	}
	return nil
}

// xpString is the XPath string value of a result object.
func xpString(obj uintptr) string {
	p := C.gh_xp_string(C.uintptr_t(obj))
	if p == nil {
		return ""
	}
	defer C.gh_free(p)
	return C.GoString(p)
}

// xpNodes returns the nodes of a node-set result (nil for other types),
// document nodes replaced by their root elements; namespace nodes are
// reported as an error, since the result owns them.
func xpNodes(obj uintptr) ([]uintptr, error) {
	n := int(C.gh_xp_node_count(C.uintptr_t(obj)))
	if n == 0 {
		return nil, nil
	}
	out := make([]uintptr, n)
	var skipped C.int
	got := int(C.gh_xp_nodes(C.uintptr_t(obj), (*C.uintptr_t)(unsafe.Pointer(&out[0])), C.int(n), &skipped))
	if skipped > 0 {
		return nil, errors.New("the expression selects namespace nodes")
	}
	return out[:got], nil
}

func nodeType(node uintptr) int { return int(C.gh_node_type(C.uintptr_t(node))) }
