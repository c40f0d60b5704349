/*
 * shim.c: XSD compilation and validation over libxml2's xmlschemas API.
 *
 * Why this exists: the error collector must copy libxml2's messages with a
 * bound (they can be tens of kilobytes long when they quote an invalid
 * value), and schema imports must be resolved by our own code, never by
 * libxml2's default loader (which would read any file and fetch http URLs).
 *
 * Threading model. Every gh_* entry point runs start to finish on one OS
 * thread (cgo guarantees this for one C call), so per-call state lives in
 * thread-local variables:
 *   gh_tls_res       where problems of the current call are collected;
 *   gh_tls_resolver  non-zero only while xmlSchemaParse runs inside
 *                    gh_compile; it is the runtime/cgo.Handle of the Go
 *                    resolver that answers schemaLocation look-ups.
 * The external entity loader is process-wide (installed once by gh_init);
 * outside a compilation on the same thread it refuses every request, so
 * instance documents can never load anything.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>

#include "shim.h"
#include "_cgo_export.h"

/*
 * Parse options for every document we parse ourselves (instance documents
 * and the main schema document): no network, and none of NOENT, DTDLOAD,
 * DTDATTR, DTDVALID, XINCLUDE or HUGE. DOCTYPEs are refused outright by
 * gh_refuse_doctype before any declaration is read.
 */
#define GH_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_COMPACT)

static __thread gh_result **gh_tls_res;
static __thread int gh_tls_min_level;
static __thread uintptr_t gh_tls_resolver;

static char gh_doctype_marker; /* its address tags a parser ctxt that met a DOCTYPE */

/* gh_copy copies at most cap-1 bytes of src, never reading past them. */
static int gh_copy(char *dst, size_t cap, const char *src)
{
	size_t n;
	if (src == NULL) {
		dst[0] = '\0';
		return 0;
	}
	n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return src[n] != '\0';
}

/*
 * While gh_validate_tree delivers an event, the element it belongs to (for
 * a text event, the element that contains the text): libxml2 reports
 * streaming problems without a node, and this names their element as the
 * tree validation names it from its node. NULL outside a streaming pass.
 */
static __thread const char *gh_tls_cur_ns;
static __thread const char *gh_tls_cur_name;
/* The parent of that element (NULL name at a validation root). */
static __thread const char *gh_tls_par_ns;
static __thread const char *gh_tls_par_name;

/*
 * gh_names reports whether msg starts with "Element '<name>'" followed by
 * ':' or ',', where <name> is {ns}local as libxml2 writes it.
 */
static int gh_names(const char *msg, const char *ns, const char *local)
{
	static const char pre[] = "Element '";
	size_t n;

	if (msg == NULL || local == NULL || strncmp(msg, pre, sizeof pre - 1) != 0)
		return 0;
	msg += sizeof pre - 1;
	if (ns != NULL) {
		n = strlen(ns);
		if (msg[0] != '{' || strncmp(msg + 1, ns, n) != 0 || msg[1 + n] != '}')
			return 0;
		msg += n + 2;
	}
	n = strlen(local);
	if (strncmp(msg, local, n) != 0 || msg[n] != '\'')
		return 0;
	return msg[n + 1] == ':' || msg[n + 1] == ',';
}

/* gh_add_el records one problem of the current call, or counts it as dropped. */
static void gh_add_el(int level, int line, const char *file, const char *ns,
		      const char *name, const char *msg)
{
	gh_result *r;
	gh_problem *p;

	if (gh_tls_res == NULL || level < gh_tls_min_level)
		return;
	if (*gh_tls_res == NULL) {
		*gh_tls_res = calloc(1, sizeof(gh_result));
		if (*gh_tls_res == NULL)
			return;
	}
	r = *gh_tls_res;
	if (r->n >= GH_MAX_PROBLEMS) {
		r->dropped++;
		return;
	}
	p = &r->p[r->n++];
	p->level = level;
	p->line = line;
	gh_copy(p->file, sizeof p->file, file);
	p->msg_truncated = gh_copy(p->msg, sizeof p->msg, msg);
	gh_copy(p->name, sizeof p->name, name);
	gh_copy(p->ns, sizeof p->ns, ns);
}

/* gh_add records one problem of the current call, or counts it as dropped. */
static void gh_add(int level, int line, const char *file, xmlNodePtr node,
		   const char *msg)
{
	gh_result *r;
	gh_problem *p;

	if (gh_tls_res == NULL || level < gh_tls_min_level)
		return;
	if (*gh_tls_res == NULL) {
		*gh_tls_res = calloc(1, sizeof(gh_result));
		if (*gh_tls_res == NULL)
			return;
	}
	r = *gh_tls_res;
	if (r->n >= GH_MAX_PROBLEMS) {
		r->dropped++;
		return;
	}
	p = &r->p[r->n++];
	p->level = level;
	p->line = line;
	gh_copy(p->file, sizeof p->file, file);
	p->msg_truncated = gh_copy(p->msg, sizeof p->msg, msg);

	/* An error on an attribute is reported on its element. */
	if (node != NULL && node->type == XML_ATTRIBUTE_NODE)
		node = node->parent;
	if (node != NULL && node->type == XML_ELEMENT_NODE) {
		gh_copy(p->name, sizeof p->name, (const char *)node->name);
		if (node->ns != NULL)
			gh_copy(p->ns, sizeof p->ns, (const char *)node->ns->href);
		if (p->line <= 0)
			p->line = (int)xmlGetLineNo(node);
	}
}

/* gh_on_error is the structured error handler for every libxml2 channel. */
static void gh_on_error(void *unused, xmlErrorPtr e)
{
	(void)unused;
	if (e == NULL)
		return;
	if (e->node == NULL && gh_tls_cur_name != NULL) {
		/*
		 * A streaming problem. The tree validation reports a keyref
		 * problem with the referring element's line instead of a node,
		 * so without an element: do the same.
		 */
		const char *ns = gh_tls_cur_ns, *name = gh_tls_cur_name;

		/*
		 * Problems of a parent's content met at its child's start (say,
		 * an element where the parent's type is simple) are the
		 * parent's, as the message says.
		 */
		if (!gh_names(e->message, ns, name) &&
		    gh_names(e->message, gh_tls_par_ns, gh_tls_par_name)) {
			ns = gh_tls_par_ns;
			name = gh_tls_par_name;
		}
		if (e->code == XML_SCHEMAV_CVC_IDC && e->message != NULL &&
		    strstr(e->message, "of keyref '") != NULL)
			ns = name = NULL;
		gh_add_el((int)e->level, e->line, e->file, ns, name, e->message);
		return;
	}
	gh_add((int)e->level, e->line, e->file, (xmlNodePtr)e->node, e->message);
}

/*
 * gh_refuse_doctype replaces the SAX internalSubset callback. libxml2 calls
 * it right after "<!DOCTYPE name ExternalID", before it reads the internal
 * subset, so no declaration is ever parsed: we stop the parser there.
 */
static void gh_refuse_doctype(void *user, const xmlChar *name,
			      const xmlChar *external_id, const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = (xmlParserCtxtPtr)user;
	int line = 0;
	const char *file = NULL;

	(void)name;
	(void)external_id;
	(void)system_id;
	if (ctxt == NULL)
		return;
	if (ctxt->input != NULL) {
		line = ctxt->input->line;
		file = ctxt->input->filename;
	}
	gh_add(XML_ERR_FATAL, line, file, NULL,
	       "DOCTYPE is not allowed (DTDs are never processed)");
	ctxt->_private = &gh_doctype_marker;
	xmlStopParser(ctxt);
}

/*
 * gh_loader is the process-wide external entity loader. It answers only
 * inside gh_compile on the same thread, through the Go resolver; everything
 * else (DTDs, external entities, xsi:schemaLocation) is refused.
 * The resolver keeps the returned bytes alive until the compilation ends.
 */
static xmlParserInputPtr gh_loader(const char *url, const char *id,
				   xmlParserCtxtPtr ctxt)
{
	char *data = NULL, *canon = NULL;
	size_t n = 0;
	xmlParserInputBufferPtr buf;
	xmlParserInputPtr in;
	char msg[GH_MSG_MAX];

	(void)id;
	if (gh_tls_resolver == 0 || url == NULL || ctxt == NULL) {
		snprintf(msg, sizeof msg, "refused to load external resource '%.200s'",
			 url != NULL ? url : "(none)");
		gh_add(XML_ERR_ERROR, 0, NULL, NULL, msg);
		return NULL;
	}
	if (!ghResolve(gh_tls_resolver, (char *)url, &data, &n, &canon))
		return NULL; /* the resolver recorded why */
	if (n > INT_MAX)
		return NULL;
	buf = xmlParserInputBufferCreateMem(data, (int)n, XML_CHAR_ENCODING_NONE);
	if (buf == NULL)
		return NULL;
	in = xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_NONE);
	if (in == NULL) {
		xmlFreeParserInputBuffer(buf);
		return NULL;
	}
	/* The base URI of the loaded schema, for its own relative imports. */
	in->filename = (const char *)xmlCharStrdup(canon);
	/*
	 * Second layer behind the Go resolver's own DOCTYPE check: libxml2
	 * parses imported schemas with XML_PARSE_NOENT, so make sure this
	 * parser context stops at a DOCTYPE too. xmlNewParserCtxt gives every
	 * context its own SAX handler copy, so this touches nothing else.
	 */
	if (ctxt->sax != NULL)
		ctxt->sax->internalSubset = gh_refuse_doctype;
	return in;
}

void gh_init(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(gh_loader);
}

/* Per-call set-up and tear-down of the thread-local error routing. */
typedef struct {
	xmlStructuredErrorFunc prev;
	void *prev_ctx;
} gh_saved;

static int gh_enter(gh_saved *s, gh_result **res, int min_level)
{
	*res = NULL;
	gh_tls_res = res;
	gh_tls_min_level = min_level;
	s->prev = xmlStructuredError;
	s->prev_ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, gh_on_error);
	if (xmlGetExternalEntityLoader() != gh_loader) {
		gh_add(XML_ERR_FATAL, 0, NULL, NULL,
		       "the libxml2 external entity loader was replaced by other code");
		return 0;
	}
	return 1;
}

static void gh_leave(gh_saved *s)
{
	xmlSetStructuredErrorFunc(s->prev_ctx, s->prev);
	gh_tls_res = NULL;
	gh_tls_resolver = 0;
}

static int gh_has_problem(void)
{
	return gh_tls_res != NULL && *gh_tls_res != NULL;
}

/*
 * Most names (element and attribute names, namespace names) of one document
 * go into the parser context's dictionary, which a reused context keeps: a
 * context whose dictionary grew beyond this many names is not reused, so
 * documents full of invented names cannot make a pooled context grow.
 */
#define GH_DICT_REUSE_MAX 4096

/*
 * gh_parse parses buf with GH_PARSE_OPTIONS. It returns NULL (with a problem
 * recorded) if the document is not well-formed, not namespace-well-formed,
 * has no root element, or has a DOCTYPE.
 *
 * *pc is a parser context to reuse, or NULL for a new one. On return *pc is
 * the context to use for the next document, or NULL when it must not be
 * reused (the document was refused, or its dictionary grew too large).
 * The document holds its own reference to the dictionary.
 */
static xmlDocPtr gh_parse(const char *buf, int len, const char *url,
			  xmlParserCtxtPtr *pc)
{
	xmlParserCtxtPtr ctxt = *pc;
	xmlDocPtr doc;
	int bad;

	*pc = NULL;
	if (ctxt == NULL)
		ctxt = xmlNewParserCtxt();
	if (ctxt == NULL || ctxt->sax == NULL) {
		gh_add(XML_ERR_FATAL, 0, NULL, NULL,
		       "cannot create a parser context");
		if (ctxt != NULL)
			xmlFreeParserCtxt(ctxt);
		return NULL;
	}
	ctxt->sax->internalSubset = gh_refuse_doctype;
	ctxt->_private = NULL;
	doc = xmlCtxtReadMemory(ctxt, buf, len, url, NULL, GH_PARSE_OPTIONS);
	bad = ctxt->_private == &gh_doctype_marker || !ctxt->wellFormed ||
	      !ctxt->nsWellFormed;
	if (doc != NULL && (bad || doc->intSubset != NULL || doc->extSubset != NULL ||
			    xmlDocGetRootElement(doc) == NULL)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	if (doc != NULL && ctxt->dict != NULL &&
	    xmlDictSize(ctxt->dict) <= GH_DICT_REUSE_MAX)
		*pc = ctxt;
	else
		xmlFreeParserCtxt(ctxt);
	if (doc == NULL && !gh_has_problem())
		gh_add(XML_ERR_FATAL, 0, url, NULL,
		       "document is not well-formed");
	return doc;
}

int gh_compile(const char *buf, int len, const char *url, uintptr_t resolver,
	       xmlSchemaPtr *schema, xmlDocPtr *doc, gh_result **res)
{
	gh_saved saved;
	xmlSchemaParserCtxtPtr pctxt;
	xmlParserCtxtPtr pc = NULL;
	xmlDocPtr d;
	xmlSchemaPtr s = NULL;
	int st = GH_OK;

	*schema = NULL;
	*doc = NULL;
	if (!gh_enter(&saved, res, XML_ERR_WARNING)) {
		st = GH_INTERNAL;
		goto out;
	}
	d = gh_parse(buf, len, url, &pc);
	if (pc != NULL)
		xmlFreeParserCtxt(pc);
	if (d == NULL) {
		st = GH_NOT_WELL_FORMED;
		goto out;
	}
	pctxt = xmlSchemaNewDocParserCtxt(d);
	if (pctxt == NULL) {
		xmlFreeDoc(d);
		st = GH_INTERNAL;
		goto out;
	}
	xmlSchemaSetParserStructuredErrors(pctxt, gh_on_error, NULL);
	gh_tls_resolver = resolver;
	s = xmlSchemaParse(pctxt);
	gh_tls_resolver = 0;
	xmlSchemaFreeParserCtxt(pctxt);
	if (s == NULL) {
		xmlFreeDoc(d);
		st = GH_INVALID;
		goto out;
	}
	/*
	 * The schema may point into the main document (we handed it over with
	 * xmlSchemaNewDocParserCtxt, so libxml2 does not own it): keep it as
	 * long as the schema and free both in gh_free_schema.
	 */
	*schema = s;
	*doc = d;
out:
	gh_leave(&saved);
	return st;
}

void gh_free_schema(xmlSchemaPtr schema, xmlDocPtr doc)
{
	if (schema != NULL)
		xmlSchemaFree(schema);
	if (doc != NULL)
		xmlFreeDoc(doc);
}

/* gh_status maps a libxml2 validation return value to GH_*. */
static int gh_status(int ret)
{
	if (ret == 0)
		return GH_OK;
	if (ret < 0)
		return GH_INTERNAL;
	if (!gh_has_problem())
		gh_add(XML_ERR_ERROR, 0, NULL, NULL,
		       "document is not valid");
	return GH_INVALID;
}

void gh_free_parser(xmlParserCtxtPtr ctxt)
{
	if (ctxt != NULL)
		xmlFreeParserCtxt(ctxt);
}

xmlSchemaValidCtxtPtr gh_new_valid(xmlSchemaPtr schema)
{
	xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);

	if (v != NULL)
		xmlSchemaSetValidStructuredErrors(v, gh_on_error, NULL);
	return v;
}

void gh_free_valid(xmlSchemaValidCtxtPtr v)
{
	if (v != NULL)
		xmlSchemaFreeValidCtxt(v);
}

/*
 * gh_validate_node validates doc (node == NULL) or the subtree at node with
 * the validation context *v (created for schema if NULL). A context is not
 * thread-safe: the caller owns it for the call. libxml2 resets a context at
 * the start of every validation (xmlSchemaPreRun) and clears it at the end,
 * so one that validated a document can validate the next; after any other
 * outcome it is freed (*v = NULL) rather than trusted again.
 */
static int gh_validate_node(xmlSchemaPtr schema, xmlSchemaValidCtxtPtr *v,
			    xmlDocPtr doc, xmlNodePtr node)
{
	int ret, st;

	if (*v == NULL)
		*v = gh_new_valid(schema);
	if (*v == NULL) {
		gh_add(XML_ERR_FATAL, 0, NULL, NULL,
		       "cannot create a validation context");
		return GH_INTERNAL;
	}
	if (node == NULL)
		ret = xmlSchemaValidateDoc(*v, doc);
	else
		ret = xmlSchemaValidateOneElement(*v, node);
	st = gh_status(ret);
	if (st != GH_OK) {
		xmlSchemaFreeValidCtxt(*v);
		*v = NULL;
	}
	return st;
}

int gh_validate(xmlSchemaPtr schema, gh_ctxts *cx, const char *buf, int len,
		gh_result **res)
{
	gh_saved saved;
	xmlDocPtr doc;
	int st;

	if (!gh_enter(&saved, res, XML_ERR_ERROR)) {
		st = GH_INTERNAL;
		goto out;
	}
	doc = gh_parse(buf, len, NULL, &cx->parser);
	if (doc == NULL) {
		st = GH_NOT_WELL_FORMED;
		goto out;
	}
	st = gh_validate_node(schema, &cx->envelope, doc, NULL);
	xmlFreeDoc(doc);
out:
	gh_leave(&saved);
	return st;
}

static int gh_same_ns(xmlNodePtr a, xmlNodePtr b)
{
	if (a->ns == NULL || b->ns == NULL)
		return a->ns == b->ns;
	return xmlStrEqual(a->ns->href, b->ns->href);
}

int gh_validate_envelope(xmlSchemaPtr envelope, xmlSchemaPtr payload,
			 gh_ctxts *cx, const char *buf, int len, gh_result **res)
{
	gh_saved saved;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, c, body = NULL, extra = NULL;
	int bodies = 0, st, one;

	if (!gh_enter(&saved, res, XML_ERR_ERROR)) {
		st = GH_INTERNAL;
		goto out;
	}
	doc = gh_parse(buf, len, NULL, &cx->parser);
	if (doc == NULL) {
		st = GH_NOT_WELL_FORMED;
		goto out;
	}
	st = gh_validate_node(envelope, &cx->envelope, doc, NULL);
	if (st != GH_OK)
		goto out;

	/* Exactly one Body in the envelope's namespace, whatever the schema says. */
	root = xmlDocGetRootElement(doc);
	for (c = root->children; c != NULL; c = c->next) {
		if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "Body") &&
		    gh_same_ns(c, root)) {
			if (body == NULL)
				body = c;
			else if (extra == NULL)
				extra = c;
			bodies++;
		}
	}
	if (bodies != 1) {
		gh_add(XML_ERR_ERROR, 0, NULL,
		       bodies == 0 ? root : extra,
		       bodies == 0 ? "the envelope has no Body" :
				     "the envelope has more than one Body");
		st = GH_INVALID;
		goto out;
	}
	if (payload == NULL)
		goto out;
	/*
	 * Each element child of Body must match a global element declaration
	 * of the payload schema (libxml2 reports "No matching global
	 * declaration available for the validation root" otherwise).
	 */
	for (c = body->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		one = gh_validate_node(payload, &cx->payload, doc, c);
		if (one == GH_INTERNAL) {
			st = GH_INTERNAL;
			break;
		}
		if (one != GH_OK)
			st = one;
	}
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	gh_leave(&saved);
	return st;
}

/*
 * Tree validation: the events of an element tree, serialized by Go into an
 * op array (see shim.h), are fed to libxml2's streaming validator, which
 * xmlSchemaSAXPlug puts behind a SAX2 handler of its own. No document is
 * parsed or built. Names and values are offsets into strs, each string
 * NUL-terminated; the validator keeps pointers to them until the pass ends
 * (xmlSchemaSAXUnplug), so they stay valid for the whole call.
 */

/* gh_scratch holds the pointer arrays of one startElementNs call. */
typedef struct {
	const xmlChar **p;
	size_t cap;
	const xmlChar **stack; /* (uri, local) of the open elements */
	size_t depth, stack_cap;
} gh_scratch;

/* gh_set_cur names the element of the next event: the open element at the
 * top of the stack, and its parent. */
static void gh_set_cur(gh_scratch *sc)
{
	gh_tls_cur_ns = gh_tls_cur_name = gh_tls_par_ns = gh_tls_par_name = NULL;
	if (sc->depth >= 1) {
		gh_tls_cur_ns = (const char *)sc->stack[2 * sc->depth - 2];
		gh_tls_cur_name = (const char *)sc->stack[2 * sc->depth - 1];
	}
	if (sc->depth >= 2) {
		gh_tls_par_ns = (const char *)sc->stack[2 * sc->depth - 4];
		gh_tls_par_name = (const char *)sc->stack[2 * sc->depth - 3];
	}
}

static int gh_push(gh_scratch *sc, const xmlChar *uri, const xmlChar *local)
{
	if (sc->depth == sc->stack_cap) {
		size_t n = sc->stack_cap ? 2 * sc->stack_cap : 32;
		const xmlChar **np;

		if (n > ((size_t)1 << 24))
			return 0;
		np = realloc(sc->stack, 2 * n * sizeof *np);
		if (np == NULL)
			return 0;
		sc->stack = np;
		sc->stack_cap = n;
	}
	sc->stack[2 * sc->depth] = uri;
	sc->stack[2 * sc->depth + 1] = local;
	sc->depth++;
	return 1;
}

static int gh_scratch_grow(gh_scratch *sc, size_t n)
{
	const xmlChar **np;

	if (n <= sc->cap)
		return 1;
	if (n > ((size_t)1 << 26))
		return 0;
	np = realloc(sc->p, n * sizeof *np);
	if (np == NULL)
		return 0;
	sc->p = np;
	sc->cap = n;
	return 1;
}

/* gh_str returns the string at offset off of strs, NULL for GH_NONE. */
static const xmlChar *gh_str(const char *strs, size_t nstrs, uint32_t off,
			     int *bad)
{
	if (off == GH_NONE)
		return NULL;
	if ((size_t)off >= nstrs) {
		*bad = 1;
		return NULL;
	}
	return (const xmlChar *)(strs + off);
}

/*
 * gh_stream runs the events from ops[*pi] to the next GH_OP_DONE through the
 * plugged handler sax/user. It returns 0 when the program is malformed.
 */
static int gh_stream(xmlSAXHandlerPtr sax, void *user, const uint32_t *ops,
		     size_t nops, size_t *pi, const char *strs, size_t nstrs,
		     gh_scratch *sc)
{
	size_t i = *pi, k, nns, nat;
	int bad = 0;
	const xmlChar *local, *prefix, *uri, *text;
	uint32_t len;

	while (i < nops && !bad) {
		switch (ops[i]) {
		case GH_OP_DONE:
			*pi = i + 1;
			return sc->depth == 0;
		case GH_OP_START:
			if (nops - i < 6)
				return 0;
			local = gh_str(strs, nstrs, ops[i + 1], &bad);
			prefix = gh_str(strs, nstrs, ops[i + 2], &bad);
			uri = gh_str(strs, nstrs, ops[i + 3], &bad);
			nns = ops[i + 4];
			nat = ops[i + 5];
			i += 6;
			if (local == NULL || nns > (nops - i) / 2 ||
			    nat > (nops - i - 2 * nns) / 5 ||
			    !gh_scratch_grow(sc, 2 * nns + 5 * nat + 1))
				return 0;
			for (k = 0; k < 2 * nns; k++)
				sc->p[k] = gh_str(strs, nstrs, ops[i + k], &bad);
			i += 2 * nns;
			for (k = 0; k < nat; k++) {
				const uint32_t *a = ops + i + 5 * k;
				const xmlChar **q = sc->p + 2 * nns + 5 * k;

				q[0] = gh_str(strs, nstrs, a[0], &bad);
				q[1] = gh_str(strs, nstrs, a[1], &bad);
				q[2] = gh_str(strs, nstrs, a[2], &bad);
				q[3] = gh_str(strs, nstrs, a[3], &bad);
				if (q[0] == NULL || q[3] == NULL ||
				    (size_t)a[4] > nstrs - a[3]) {
					bad = 1;
					break;
				}
				q[4] = q[3] + a[4];
			}
			i += 5 * nat;
			if (bad)
				return 0;
			if (!gh_push(sc, uri, local))
				return 0;
			gh_set_cur(sc);
			sax->startElementNs(user, local, prefix, uri, (int)nns,
					    sc->p, (int)nat, 0, sc->p + 2 * nns);
			break;
		case GH_OP_END:
			if (nops - i < 4)
				return 0;
			local = gh_str(strs, nstrs, ops[i + 1], &bad);
			prefix = gh_str(strs, nstrs, ops[i + 2], &bad);
			uri = gh_str(strs, nstrs, ops[i + 3], &bad);
			i += 4;
			if (bad || local == NULL)
				return 0;
			if (sc->depth == 0)
				return 0;
			gh_set_cur(sc);
			sax->endElementNs(user, local, prefix, uri);
			sc->depth--;
			break;
		case GH_OP_TEXT:
		case GH_OP_CDATA:
			if (nops - i < 5)
				return 0;
			text = gh_str(strs, nstrs, ops[i + 1], &bad);
			len = ops[i + 2];
			uri = gh_str(strs, nstrs, ops[i + 3], &bad);
			local = gh_str(strs, nstrs, ops[i + 4], &bad);
			if (bad || text == NULL || local == NULL || len > INT_MAX ||
			    (size_t)len > nstrs - ops[i + 1])
				return 0;
			gh_set_cur(sc);
			if (ops[i] == GH_OP_TEXT)
				sax->characters(user, text, (int)len);
			else
				sax->cdataBlock(user, text, (int)len);
			i += 5;
			break;
		default:
			return 0;
		}
	}
	return 0; /* no GH_OP_DONE */
}

/*
 * gh_validate_pass validates one pass of the program (up to its GH_OP_DONE)
 * with the context *v, as gh_validate_node does with a tree: a context that
 * validated is kept, any other is freed (*v = NULL).
 */
static int gh_validate_pass(xmlSchemaPtr schema, xmlSchemaValidCtxtPtr *v,
			    const uint32_t *ops, size_t nops, size_t *pi,
			    const char *strs, size_t nstrs, gh_scratch *sc)
{
	xmlSAXHandlerPtr sax = NULL;
	void *user = NULL;
	xmlSchemaSAXPlugPtr plug;
	int ok, valid, st;

	if (*v == NULL)
		*v = gh_new_valid(schema);
	if (*v == NULL) {
		gh_add(XML_ERR_FATAL, 0, NULL, NULL,
		       "cannot create a validation context");
		return GH_INTERNAL;
	}
	plug = xmlSchemaSAXPlug(*v, &sax, &user);
	if (plug == NULL || sax == NULL || sax->startElementNs == NULL ||
	    sax->endElementNs == NULL || sax->characters == NULL ||
	    sax->cdataBlock == NULL) {
		if (plug != NULL)
			xmlSchemaSAXUnplug(plug);
		gh_add(XML_ERR_FATAL, 0, NULL, NULL,
		       "cannot plug the schema validator");
		xmlSchemaFreeValidCtxt(*v);
		*v = NULL;
		return GH_INTERNAL;
	}
	sc->depth = 0;
	ok = gh_stream(sax, user, ops, nops, pi, strs, nstrs, sc);
	sc->depth = 0;
	gh_set_cur(sc);
	valid = xmlSchemaIsValid(*v);
	xmlSchemaSAXUnplug(plug);
	if (!ok) {
		gh_add(XML_ERR_FATAL, 0, NULL, NULL, "malformed event program");
		st = GH_INTERNAL;
	} else if (valid == 1) {
		st = GH_OK;
	} else {
		if (!gh_has_problem())
			gh_add(XML_ERR_ERROR, 0, NULL, NULL,
			       "document is not valid");
		st = GH_INVALID;
	}
	if (st != GH_OK) {
		xmlSchemaFreeValidCtxt(*v);
		*v = NULL;
	}
	return st;
}

int gh_validate_tree(xmlSchemaPtr envelope, xmlSchemaPtr payload, gh_ctxts *cx,
		     const uint32_t *ops, size_t nops, const char *strs,
		     size_t nstrs, int bodies, uint32_t body_ns,
		     uint32_t body_name, gh_result **res)
{
	gh_saved saved;
	gh_scratch sc = {NULL, 0, NULL, 0, 0};
	size_t i = 0;
	int st, one, bad = 0;
	const xmlChar *ns, *name;

	if (!gh_enter(&saved, res, XML_ERR_ERROR)) {
		st = GH_INTERNAL;
		goto out;
	}
	st = gh_validate_pass(envelope, &cx->envelope, ops, nops, &i, strs,
			      nstrs, &sc);
	if (st != GH_OK)
		goto out;

	/* Exactly one Body in the envelope's namespace, whatever the schema says. */
	if (bodies != 1) {
		ns = gh_str(strs, nstrs, body_ns, &bad);
		name = gh_str(strs, nstrs, body_name, &bad);
		gh_add_el(XML_ERR_ERROR, 0, NULL, bad ? NULL : (const char *)ns,
			  bad ? NULL : (const char *)name,
			  bodies == 0 ? "the envelope has no Body" :
					"the envelope has more than one Body");
		st = GH_INVALID;
		goto out;
	}
	if (payload == NULL)
		goto out;
	/* One pass per element child of Body, each its own validation root. */
	while (i < nops) {
		one = gh_validate_pass(payload, &cx->payload, ops, nops, &i,
				       strs, nstrs, &sc);
		if (one == GH_INTERNAL) {
			st = GH_INTERNAL;
			break;
		}
		if (one != GH_OK)
			st = one;
	}
out:
	free(sc.p);
	free(sc.stack);
	sc.depth = 0;
	gh_set_cur(&sc);
	gh_leave(&saved);
	return st;
}

void gh_result_free(gh_result *res)
{
	free(res);
}
