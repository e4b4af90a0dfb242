/*
 * gate_check: judges one evidence file against the evidence schema and its
 * preset's `gate:` block, appending one gate_check per check to a report.
 *
 * Order (docs/gate.md): JSON syntax -> LEGACY_SCHEMA (schema_version is read
 * first; an older file is judged by it alone) -> schema validation -> arm
 * names unique -> preset found and well-formed -> PRESET_KIND ->
 * STALE_PRESET -> UNKNOWN_COMMIT -> THRESHOLD[i] -> CONTROL_POSITIVE ->
 * CONTROL_NEGATIVE -> evidence-phase rules (gate_rules.h), with relax.
 * A malformed file, a schema violation or a malformed preset stops the file
 * there (severity 2); threshold, control and rule failures are severity 1
 * and every one is reported.
 *
 * Lifecycle: gate_ctx_init (borrows the compiled schema and the strings in
 * opts, which must outlive it) -> gate_check_file for each file ->
 * gate_ctx_free (accepts NULL). The context caches each preset it loads
 * (and its staleness facts), so N evidence files of one preset read it once.
 */
#ifndef KK_GATE_CHECK_H
#define KK_GATE_CHECK_H

#include "gate_report.h"
#include "js.h"
#include "kk_err.h"

typedef struct gate_opts {
    const char *presets_dir;  /* folder of <name>.yaml */
    const js_schema *schema;  /* the compiled evidence schema */
    int allow_stale;          /* skip the preset sha256 comparison */
    int allow_dirty;          /* DIRTY_TREE: a note, not a failure */
} gate_opts;

typedef struct gate_ctx gate_ctx;

gate_ctx *gate_ctx_init(const gate_opts *opts);
void gate_ctx_free(gate_ctx *ctx);

/* `path` is used as given in every check's file field. */
void gate_check_file(gate_ctx *ctx, const char *path, gate_report *rep);

/* Judges a parsed document (used by gate_check_file and the unit tests). */
void gate_check_doc(gate_ctx *ctx, const char *path, const json_value *root,
                    gate_report *rep);

/* RFC 6901: appends "/" + token with ~ -> ~0 and / -> ~1 to buf (cap bytes). */
void gate_ptr_append(char *buf, size_t cap, const char *token);

#endif /* KK_GATE_CHECK_H */
