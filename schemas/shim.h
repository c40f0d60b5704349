/*
 * shim.h: the small C layer between package schemas and libxml2's
 * xmlschemas API. See shim.c for what each function guarantees.
 */
#ifndef GATEHOUSE_SCHEMAS_SHIM_H
#define GATEHOUSE_SCHEMAS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

/* Bounds of what one call reports. Everything is copied into fixed arrays. */
enum {
	GH_MAX_PROBLEMS = 16,
	GH_MSG_MAX = 512,  /* bytes of a message, including the final NUL */
	GH_NAME_MAX = 128, /* bytes of an element local name */
	GH_NS_MAX = 256,   /* bytes of a namespace name */
	GH_FILE_MAX = 512  /* bytes of a document URL (schema compilation) */
};

/* Outcome of a shim call. */
enum {
	GH_OK = 0,
	GH_INVALID = 1,         /* schema validation (or compilation) failed */
	GH_NOT_WELL_FORMED = 2, /* the document could not be parsed, or has a DOCTYPE */
	GH_INTERNAL = 3         /* libxml2 internal error, out of memory, bad setup */
};

typedef struct {
	int level; /* xmlErrorLevel: 1 warning, 2 error, 3 fatal */
	int line;  /* 0 if unknown */
	int msg_truncated;
	char file[GH_FILE_MAX];
	char ns[GH_NS_MAX];
	char name[GH_NAME_MAX];
	char msg[GH_MSG_MAX];
} gh_problem;

typedef struct {
	int n;       /* problems recorded in p */
	int dropped; /* problems seen but not recorded (beyond GH_MAX_PROBLEMS) */
	gh_problem p[GH_MAX_PROBLEMS];
} gh_result;

void gh_init(void);

int gh_compile(const char *buf, int len, const char *url, uintptr_t resolver,
	       xmlSchemaPtr *schema, xmlDocPtr *doc, gh_result **res);
void gh_free_schema(xmlSchemaPtr schema, xmlDocPtr doc);

/*
 * Contexts a validation may reuse, each owned by the caller for the call:
 * NULL means "make one". On return each is the context to keep for the
 * next call, or NULL when the shim freed it (it must not be reused).
 * envelope belongs to the envelope (or only) schema, payload to the
 * payload schema.
 */
typedef struct {
	xmlParserCtxtPtr parser;
	xmlSchemaValidCtxtPtr envelope;
	xmlSchemaValidCtxtPtr payload;
} gh_ctxts;

int gh_validate(xmlSchemaPtr schema, gh_ctxts *cx, const char *buf, int len,
		gh_result **res);
int gh_validate_envelope(xmlSchemaPtr envelope, xmlSchemaPtr payload,
			 gh_ctxts *cx, const char *buf, int len, gh_result **res);

/*
 * Tree validation. ops is a program of events, each an op code followed by
 * its operands; a string operand is an offset into strs (a NUL-terminated
 * string there) or GH_NONE for none:
 *   GH_OP_START local prefix uri nns nattr  (prefix uri)*nns
 *               (local prefix uri value value_len)*nattr
 *   GH_OP_END   local prefix uri
 *   GH_OP_TEXT  text len parent_uri parent_local   (GH_OP_CDATA alike)
 *   GH_OP_DONE  ends a pass
 * The first pass is the document for envelope; then, if bodies == 1 and
 * payload is not NULL, one pass per element child of Body for payload.
 * When bodies != 1, body_ns/body_name name the element of that problem.
 * Contexts (cx->envelope, cx->payload) are as for gh_validate_envelope,
 * but a context used here must only be reused here: libxml2 keeps it in
 * streaming mode.
 */
enum {
	GH_OP_START = 1,
	GH_OP_END = 2,
	GH_OP_TEXT = 3,
	GH_OP_CDATA = 4,
	GH_OP_DONE = 5
};
#define GH_NONE 0xFFFFFFFFu

int gh_validate_tree(xmlSchemaPtr envelope, xmlSchemaPtr payload, gh_ctxts *cx,
		     const uint32_t *ops, size_t nops, const char *strs,
		     size_t nstrs, int bodies, uint32_t body_ns,
		     uint32_t body_name, gh_result **res);

xmlSchemaValidCtxtPtr gh_new_valid(xmlSchemaPtr schema);
void gh_free_valid(xmlSchemaValidCtxtPtr v);
void gh_free_parser(xmlParserCtxtPtr ctxt);

void gh_result_free(gh_result *res);

#endif
