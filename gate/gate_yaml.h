/*
 * gate_yaml: a bounded YAML reader for preset files, on libyaml's event API.
 *
 * Why events and not yaml_parser_load: the document loader slows with the
 * square of the nesting depth (contracts: ~140 s for 200,000 nested `[`), so
 * limits are enforced on the event stream as events arrive:
 *   - size:  more than GATE_YAML_MAX_BYTES bytes is refused before parsing;
 *   - depth: a collection nested deeper than GATE_YAML_MAX_DEPTH is refused
 *            at the event that opens it;
 *   - anchors (&a), aliases (*a), tags (!x, !!str) and %TAG directives are
 *     refused everywhere: a preset is a tree of plain data, never a graph;
 *   - duplicate keys in any mapping, non-scalar keys, and more than one
 *     document are refused.
 * What passes becomes a small tree of nodes that keep their 1-based line and
 * column (libyaml marks are 0-based; columns count characters) and whether a
 * scalar was plain (unquoted), which decides its type (gate_preset.c).
 *
 * Errors: KK_E_LIMIT (size, depth), KK_E_FORMAT (YAML syntax, anchors,
 * aliases, tags, several documents), KK_E_DUPLICATE (keys), KK_E_IO,
 * KK_E_NOMEM; err has file, line, col and the key path in `where`.
 *
 * Ownership: gate_yaml_parse returns a gate_yaml_doc owning every node and
 * string; free with gate_yaml_doc_free (accepts NULL).
 */
#ifndef KK_GATE_YAML_H
#define KK_GATE_YAML_H

#include <stdarg.h>
#include <stddef.h>

#include "kk_err.h"

/* Contracts ("Presets"): 64 KiB and 32 levels. A real preset is a few KiB
 * and about 5 levels deep (gate: thresholds: - {...}). */
#define GATE_YAML_MAX_BYTES (64 * 1024)
#define GATE_YAML_MAX_DEPTH 32

typedef enum gate_yaml_kind {
    GATE_YAML_SCALAR = 0,
    GATE_YAML_MAP,
    GATE_YAML_SEQ
} gate_yaml_kind;

typedef struct gate_yaml_node gate_yaml_node;
struct gate_yaml_node {
    gate_yaml_kind kind;
    int line, col;        /* 1-based */
    size_t offset;        /* byte offset of the node's first character */
    /* scalar */
    char *str;            /* NUL-terminated; may contain NUL (use len) */
    size_t len;
    int plain;            /* 1 when written without quotes or block style */
    /* map: keys[i] -> vals[i] (keys are scalars); seq: vals[i] */
    gate_yaml_node **keys;
    gate_yaml_node **vals;
    size_t n, cap;
};

typedef struct gate_yaml_doc {
    gate_yaml_node *root; /* NULL for an empty stream */
} gate_yaml_doc;

/* Parse `len` bytes. `file` names the file in errors (may be NULL). */
kk_code gate_yaml_parse(const char *buf, size_t len, const char *file,
                        gate_yaml_doc **out, kk_err *err);

/* Read a file (refusing > GATE_YAML_MAX_BYTES before reading it all).
 * On success *buf (NUL-terminated, caller frees) and *len hold its bytes. */
kk_code gate_yaml_read_file(const char *path, char **buf, size_t *len,
                            kk_err *err);

void gate_yaml_doc_free(gate_yaml_doc *doc);

/* Value of `key` in a map node; NULL when absent or node is not a map. */
const gate_yaml_node *gate_yaml_get(const gate_yaml_node *map, const char *key);

/* Fill err with code and the formatted message, located at node n (line,
 * col, offset; n may be NULL) of `file`, with `where` (the key path). Shared
 * by every reader of preset files (gate and harness) so their errors read
 * alike. @return code. */
kk_code gate_yaml_verr(kk_err *err, const char *file, const gate_yaml_node *n,
                       const char *where, kk_code code, const char *fmt,
                       va_list ap);

#endif /* KK_GATE_YAML_H */
