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

void gh_result_free(gh_result *res)
{
	free(res);
}
