/*
 * kk_yaml: a bounded YAML reader for preset files, on libyaml's event API.
 *
 * Why events and not yaml_parser_load: the document loader slows with the
 * square of the nesting depth (measured: about 140 s for a 400 KB file of
 * 200,000 nested `[`), so
 * limits are enforced on the event stream as events arrive:
 *   - size:  more than KK_YAML_MAX_BYTES bytes is refused before parsing;
 *   - depth: a collection nested deeper than KK_YAML_MAX_DEPTH is refused
 *            at the event that opens it;
 *   - anchors (&a), aliases (*a), tags (!x, !!str) and %TAG directives are
 *     refused everywhere: a preset is a tree of plain data, never a graph;
 *   - duplicate keys in any mapping, non-scalar keys, and more than one
 *     document are refused.
 * What passes becomes a small tree of nodes that keep their 1-based line and
 * column (libyaml marks are 0-based; columns count characters) and whether a
 * scalar was plain (unquoted), which decides its type (kk_preset.c).
 *
 * Errors: KK_E_LIMIT (size, depth), KK_E_FORMAT (YAML syntax, anchors,
 * aliases, tags, several documents), KK_E_DUPLICATE (keys), KK_E_IO,
 * KK_E_NOMEM; err has file, line, col and the key path in `where`.
 *
 * Ownership: kk_yaml_parse returns a kk_yaml_doc owning every node and
 * string; free with kk_yaml_doc_free (accepts NULL).
 */
#ifndef KK_YAML_H
#define KK_YAML_H

#include <stdarg.h>
#include <stddef.h>

#include "kk_err.h"

/* 64 KiB and 32 levels, far above real presets: a few KiB and about 5
 * levels deep (gate: thresholds: - {...}). */
#define KK_YAML_MAX_BYTES (64 * 1024)
#define KK_YAML_MAX_DEPTH 32

typedef enum kk_yaml_kind {
    KK_YAML_SCALAR = 0,
    KK_YAML_MAP,
    KK_YAML_SEQ
} kk_yaml_kind;

typedef struct kk_yaml_node kk_yaml_node;
struct kk_yaml_node {
    kk_yaml_kind kind;
    int line, col;        /* 1-based */
    size_t offset;        /* byte offset of the node's first character */
    /* scalar */
    char *str;            /* NUL-terminated; may contain NUL (use len) */
    size_t len;
    int plain;            /* 1 when written without quotes or block style */
    /* map: keys[i] -> vals[i] (keys are scalars); seq: vals[i] */
    kk_yaml_node **keys;
    kk_yaml_node **vals;
    size_t n, cap;
};

typedef struct kk_yaml_doc {
    kk_yaml_node *root; /* NULL for an empty stream */
} kk_yaml_doc;

/* Parse `len` bytes. `file` names the file in errors (may be NULL). */
kk_code kk_yaml_parse(const char *buf, size_t len, const char *file,
                        kk_yaml_doc **out, kk_err *err);

/* Read a file (refusing > KK_YAML_MAX_BYTES before reading it all).
 * On success *buf (NUL-terminated, caller frees) and *len hold its bytes. */
kk_code kk_yaml_read_file(const char *path, char **buf, size_t *len,
                            kk_err *err);

void kk_yaml_doc_free(kk_yaml_doc *doc);

/* Value of `key` in a map node; NULL when absent or node is not a map. */
const kk_yaml_node *kk_yaml_get(const kk_yaml_node *map, const char *key);

/* Fill err with code and the formatted message, located at node n (line,
 * col, offset; n may be NULL) of `file`, with `where` (the key path). Shared
 * by every reader of preset files (gate and harness) so their errors read
 * alike. @return code. */
kk_code kk_yaml_verr(kk_err *err, const char *file, const kk_yaml_node *n,
                       const char *where, kk_code code, const char *fmt,
                       va_list ap);
/* The same with the arguments inline. */
kk_code kk_yaml_err(kk_err *err, const char *file, const kk_yaml_node *n, const char *where,
                    kk_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* What a node is, for messages: "a map", "a list", or the scalar quoted
 * (kk_yaml_quote). */
void kk_yaml_found(const kk_yaml_node *n, char *buf, size_t cap);

/* ---- scalar classes ------------------------------------------------------
 * How a scalar reads under YAML 1.1 and 1.2 resolvers. An unquoted scalar
 * that some resolver takes as null, a bool or a number is never silently
 * taken as text (PyYAML reads `yes` and `y` as true); a quoted or block
 * scalar is always a string. */
typedef enum kk_yaml_sclass {
    KK_YAML_SC_STRING = 0,
    KK_YAML_SC_NULL,      /* "", ~, null, Null, NULL */
    KK_YAML_SC_BOOL,      /* true/false, yes/no, on/off, y/n in three cases */
    KK_YAML_SC_INT,       /* JSON integer form: -?(0|[1-9][0-9]*) */
    KK_YAML_SC_NUMBER,    /* JSON number form with a fraction or exponent */
    KK_YAML_SC_OTHER_NUM  /* YAML-only numbers: +1, .5, 1_000, 0x1f, .inf */
} kk_yaml_sclass;

/* The class of `len` bytes of scalar text; plain = written unquoted. */
kk_yaml_sclass kk_yaml_classify(const char *s, size_t len, int plain);

/* The class of a scalar node (its text and plain flag). n must be a
 * scalar. */
kk_yaml_sclass kk_yaml_node_class(const kk_yaml_node *n);

/* Quote s for a message into buf: "abc" with '"' and '\\' escaped, control
 * bytes as \xNN, cut at 60 bytes with "...". */
void kk_yaml_quote(const char *s, size_t len, char *buf, size_t cap);

#endif /* KK_YAML_H */
