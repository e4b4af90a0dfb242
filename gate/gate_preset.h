/*
 * gate_preset: the parts of a preset file the gate reads: top-level `name`
 * and `kind`, and the `gate:` block. Other top-level keys belong to the
 * harness and are ignored here (the file must still be valid YAML within
 * the size and depth limits of gate_yaml.h).
 *
 * Grammar (docs/gate.md has the full text with examples):
 *
 *   name: STRING                       required, equals the file's stem
 *   kind: STRING                       required
 *   gate:                              required
 *     baseline: ARM                    optional (compare's reference arm)
 *     min_samples: {recall: INT, timing: INT}   optional, each 1..1000000
 *                                      (defaults 20 and 5)
 *     thresholds: [COND, ...]          optional
 *     controls:                        optional
 *       positive: COND                 the arm must meet COND
 *       negative: COND                 the arm must meet COND (i.e. lose)
 *     relax: [{rule: CODE, reason: STRING}, ...]   optional
 *
 *   COND = {arm: ARM, metric: METRIC, op: OP, value: NUMBER,
 *           [delta_to: ARM | ratio_to: ARM | ci: lo95 | hi95], [note: STRING]}
 *     OP      one of >= <= > < ==
 *     NUMBER  a plain scalar in JSON number form (0.95, -0.05, 1e-3)
 *     METRIC  a key of the arm's `metrics`, or a dotted path from the arm
 *             into timings/signals ("timings.decode_tok_per_s")
 *     ci: lo95 reads METRIC_ci_lo (the 95% interval's lower bound the
 *             harness records), hi95 reads METRIC_ci_hi.
 *
 * Strings (ARM, METRIC, CODE...) are scalars that do not read as null, a
 * bool or a number unquoted; numbers are plain scalars (a quoted "0.95" is a
 * string and refused). Unknown keys, duplicate keys, wrong types and values
 * out of range are KK_E_* errors with file:line:col (1-based), the key path
 * in err->where ("gate.thresholds[1].op"), the value found and what is
 * allowed.
 *
 * Ownership: gate_preset_parse / gate_preset_load return a gate_preset that
 * owns all its strings; gate_preset_free (accepts NULL).
 */
#ifndef KK_GATE_PRESET_H
#define KK_GATE_PRESET_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef enum gate_op {
    GATE_OP_GE = 0,
    GATE_OP_LE,
    GATE_OP_GT,
    GATE_OP_LT,
    GATE_OP_EQ
} gate_op;

typedef enum gate_form {
    GATE_FORM_VALUE = 0, /* metric op value */
    GATE_FORM_DELTA,     /* metric - metric(other) op value */
    GATE_FORM_RATIO,     /* metric / metric(other) op value */
    GATE_FORM_CI_LO,     /* metric_ci_lo op value */
    GATE_FORM_CI_HI      /* metric_ci_hi op value */
} gate_form;

typedef struct gate_cond {
    char *arm;
    char *metric;
    char *other;     /* delta_to / ratio_to arm; NULL otherwise */
    char *note;      /* NULL when absent */
    gate_form form;
    gate_op op;
    char *value;     /* the JSON-number literal as written */
    int line, col;   /* where the condition starts in the preset */
} gate_cond;

typedef struct gate_relax {
    char *rule;
    char *reason;
    int line, col;
} gate_relax;

#define GATE_MIN_SAMPLES_RECALL_DEFAULT 20
#define GATE_MIN_SAMPLES_TIMING_DEFAULT 5

typedef struct gate_preset {
    char *file;       /* path it was read from */
    char *name;
    char *kind;
    char *baseline;   /* NULL when absent */
    int64_t min_samples_recall, min_samples_timing;
    gate_cond *thresholds;
    size_t n_thresholds;
    int has_positive, has_negative;
    gate_cond positive, negative;
    gate_relax *relax;
    size_t n_relax;
    char sha256[65];  /* of the bytes parsed */
} gate_preset;

/* Parse preset text. `file` names it in errors; when `expect_name` is not
 * NULL the top-level name must equal it (the file's stem). */
kk_code gate_preset_parse(const char *buf, size_t len, const char *file,
                          const char *expect_name, gate_preset **out,
                          kk_err *err);

/* Read (size-checked) and parse presets_dir/<name>.yaml. `name` must be a
 * plain file stem ([A-Za-z0-9._-], not starting with '.'). */
kk_code gate_preset_load(const char *presets_dir, const char *name,
                         gate_preset **out, kk_err *err);

void gate_preset_free(gate_preset *p);

/* ">=" etc. */
const char *gate_op_text(gate_op op);

/* The relax entry for a rule code, or NULL. */
const gate_relax *gate_preset_relax_find(const gate_preset *p,
                                         const char *rule);

#endif /* KK_GATE_PRESET_H */
