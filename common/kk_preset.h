/*
 * kk_preset: the one reader of preset files (presets/NAME.yaml), used by the
 * gate and the harness. It reads what both programs share: the top level
 * (`name`, `kind`, `description`), the `gate:` block into typed structs,
 * the sha256 of the file's bytes, and hands the harness's sections
 * (`params`, `models`, `arms`) over as the YAML tree of kk_yaml.h: every
 * node located (1-based line:col), every scalar classed by the one
 * classifier, kk_yaml_classify. What a kind allows in those sections
 * (names, types, bounds, --set) is the harness's (harness/preset.h).
 *
 * Grammar (docs/harness.md and docs/gate.md have the full text):
 *
 *   name: NAME                         required, equals the file's stem;
 *                                      [A-Za-z0-9_][A-Za-z0-9_.+-]*, <= 128
 *   kind: NAME                         required (the harness checks it
 *                                      against its kinds)
 *   description: STRING                KK_PRESET_FULL: required, <= 1000 bytes
 *   params: {NAME: {...}, ...}         KK_PRESET_FULL: optional  } the YAML
 *   models: [{role, param}, ...]       KK_PRESET_FULL: optional  } tree,
 *   arms: [{name: ARM, ...}, ...]      KK_PRESET_FULL: required  } unchecked
 *   gate:                              required
 *     baseline: ARM                    optional (compare's reference arm)
 *     min_samples: {recall: INT, timing: INT}   optional, each 1..1000000
 *                                      (defaults 20 and 5)
 *     restore_min_mass: NUMBER         optional, in [0, 1] (default 0.5):
 *                                      RESTORE_UNUSED's floor on a restoring
 *                                      arm's attention_mass_restored
 *     thresholds: [COND, ...]          optional
 *     controls:                        optional
 *       positive: COND                 the arm must meet COND
 *       negative: COND | [COND, ...]   each arm must meet its COND (i.e. lose)
 *     relax: [{rule: CODE, reason: STRING}, ...]   optional; CODE one of
 *                                      the relaxable codes below
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
 * Two readings of the top level, by flag:
 *   0                the gate's: name, kind and gate are required; other
 *                    top-level keys are not checked (they are the harness's)
 *                    beyond being valid YAML within kk_yaml.h's limits.
 *   KK_PRESET_FULL   the harness's: unknown top-level keys are refused,
 *                    description and arms are required too.
 *
 * Strings (NAME, ARM, METRIC, CODE...) are scalars that kk_yaml_classify
 * calls KK_YAML_SC_STRING (an unquoted `yes`, `y`, `12` or `~` is not
 * text); numbers are plain scalars (a quoted "0.95" is a string and
 * refused). Unknown keys, duplicate keys, wrong types and values out of
 * range are KK_E_* errors with file:line:col (1-based), the key path in
 * err->where ("gate.thresholds[1].op"), the value found and what is
 * allowed.
 *
 * Ownership: kk_preset_parse / kk_preset_load return a kk_preset that owns
 * all its strings and the YAML tree (doc); the node pointers (root,
 * params, models, arms) borrow from that tree and live until
 * kk_preset_free (accepts NULL).
 */
#ifndef KK_PRESET_COMMON_H
#define KK_PRESET_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "kk_yaml.h"

#define KK_PRESET_NAME_MAX_LEN 128   /* preset, kind, arm and metric names */
#define KK_PRESET_DESC_MAX_LEN 1000  /* description, reasons, notes */

/* kk_preset_parse flags. */
#define KK_PRESET_FULL 1u

typedef enum kk_preset_op {
    KK_PRESET_OP_GE = 0,
    KK_PRESET_OP_LE,
    KK_PRESET_OP_GT,
    KK_PRESET_OP_LT,
    KK_PRESET_OP_EQ
} kk_preset_op;

typedef enum kk_preset_form {
    KK_PRESET_FORM_VALUE = 0, /* metric op value */
    KK_PRESET_FORM_DELTA,     /* metric - metric(other) op value */
    KK_PRESET_FORM_RATIO,     /* metric / metric(other) op value */
    KK_PRESET_FORM_CI_LO,     /* metric_ci_lo op value */
    KK_PRESET_FORM_CI_HI      /* metric_ci_hi op value */
} kk_preset_form;

typedef struct kk_preset_cond {
    char *arm;
    char *metric;
    char *other;     /* delta_to / ratio_to arm; NULL otherwise */
    char *note;      /* NULL when absent */
    kk_preset_form form;
    kk_preset_op op;
    char *value;     /* the JSON-number literal as written */
    int line, col;   /* where the condition starts in the preset */
} kk_preset_cond;

typedef struct kk_preset_relax {
    char *rule;
    char *reason;
    int line, col;
} kk_preset_relax;

#define KK_PRESET_MIN_SAMPLES_RECALL_DEFAULT 20
#define KK_PRESET_MIN_SAMPLES_TIMING_DEFAULT 5
#define KK_PRESET_RESTORE_MIN_MASS_DEFAULT 0.5

typedef struct kk_preset {
    char *file;       /* path it was read from */
    char *name;
    char *kind;
    char *description; /* NULL when absent (read only with KK_PRESET_FULL) */
    /* The YAML tree and the harness's sections in it; NULL when absent.
     * Borrowed from doc. */
    kk_yaml_doc *doc;
    const kk_yaml_node *root, *params, *models, *arms;
    /* the gate: block */
    char *baseline;   /* NULL when absent */
    int64_t min_samples_recall, min_samples_timing;
    double restore_min_mass;       /* KK_PRESET_RESTORE_MIN_MASS_DEFAULT */
    int has_restore_min_mass;      /* declared (line, col below) */
    int restore_min_mass_line, restore_min_mass_col;
    kk_preset_cond *thresholds;
    size_t n_thresholds;
    int has_positive, has_negative;
    kk_preset_cond positive;
    /* controls.negative: one condition or a list of them (n_negative; the
     * needle-masked arm beside a corrupted codec arm, say) */
    kk_preset_cond *negative;
    size_t n_negative;
    kk_preset_relax *relax;
    size_t n_relax;
    char sha256[65];  /* of the bytes parsed */
} kk_preset;

/* Parse preset text. `file` names it in errors; when `expect_name` is not
 * NULL the top-level name must equal it (the file's stem). flags: 0 or
 * KK_PRESET_FULL. @return KK_OK with *out set, or an error with *out NULL. */
kk_code kk_preset_parse(const char *buf, size_t len, const char *file,
                        const char *expect_name, unsigned flags,
                        kk_preset **out, kk_err *err);

/* KK_E_RANGE (err->file the path) when path, a preset file in
 * presets_dir, resolves (realpath) outside presets_dir's realpath: a
 * symlink out of the folder is never followed, so no file elsewhere is
 * read or quoted in a parse error. A symlink that does not resolve is
 * refused too; an absent path is KK_OK (the read reports it). */
kk_code kk_preset_path_check(const char *presets_dir, const char *path, kk_err *err);

/* Read (size-checked first) and parse presets_dir/<name>.yaml. `name`
 * must be a plain file stem (kk_preset_name_ok), else KK_E_RANGE; a path
 * that leaves presets_dir is kk_preset_path_check's KK_E_RANGE; a file
 * that cannot be read is kk_yaml_read_file's error (KK_E_IO, KK_E_TYPE
 * for a FIFO or other non-regular file). */
kk_code kk_preset_load(const char *presets_dir, const char *name,
                       unsigned flags, kk_preset **out, kk_err *err);

/* 1 when s is a plain name: [A-Za-z0-9_][A-Za-z0-9_.+-]*, at most
 * KK_PRESET_NAME_MAX_LEN bytes (preset names, arm names). */
int kk_preset_name_ok(const char *s);

void kk_preset_free(kk_preset *p);

/* ">=" etc. */
const char *kk_preset_op_text(kk_preset_op op);

/* The relax entry for a rule code, or NULL. */
const kk_preset_relax *kk_preset_relax_find(const kk_preset *p,
                                            const char *rule);

/* ---- rule codes ------------------------------------------------------------
 * The evidence rules' codes, the words `relax:` may name. The gate's rule
 * table (gate/gate_rules.c) implements them in this order; its test checks
 * that both lists agree. Static data: nothing to free. */
typedef struct kk_preset_rule_code {
    const char *code;  /* "NOISY" */
    int relaxable;     /* 0: a preset naming it in relax is malformed */
} kk_preset_rule_code;

size_t kk_preset_rule_count(void);
const kk_preset_rule_code *kk_preset_rule_at(size_t i);
/* NULL when no rule has this code. */
const kk_preset_rule_code *kk_preset_rule_find(const char *code);

#endif /* KK_PRESET_COMMON_H */
