/*
 * kind: the allowlist of preset kinds compiled into the harness. Each kind
 * is one file (harness/kind_<name>.c) defining a `const kind_def` and one
 * entry in the table of harness/kind_table.c. A kind declares
 *   - the typed schema of its parameters (kind_param_spec): type, hard
 *     bounds and the default used when the preset does not declare it;
 *   - the typed schema of its arms (kind_field_spec), with an optional
 *     check of a field's text (a codec spec, say);
 *   - the model roles it needs;
 *   - how it runs (run.h's run_ops): plan the tasks, run one task in a
 *     worker into its own result slot, and build an arm's metrics,
 *     timings, signals and samples from those slots.
 * A kind whose `available` is 0 (its runner is not built yet) is listed
 * and its presets validate, but `run` refuses it with KK_E_UNSUPPORTED
 * and a message saying what is missing.
 *
 * Everything here is static data; nothing to free.
 */
#ifndef KK_KIND_H
#define KK_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "preset.h"

typedef struct kind_param_spec {
    const char *name;
    preset_type type;
    preset_type of;             /* lists: element type */
    int64_t imin, imax;         /* int bounds (list of int: per element) */
    double fmin, fmax;          /* float bounds */
    size_t max_len;             /* string/enum length; 0: 256 */
    size_t max_count;           /* lists: at most this many elements */
    const char *const *values;  /* enum: allowed values, NULL-terminated */
    int env_ok;                 /* strings: the preset may declare `env` */
    const char *def;            /* default in --set syntax */
    const char *help;
} kind_param_spec;

typedef struct kind_field_spec {
    const char *key;
    preset_type type;           /* int, float, bool, string or enum */
    int required;
    int64_t imin, imax;
    double fmin, fmax;
    size_t max_len;             /* 0: 256 */
    const char *const *values;  /* enum */
    const char *def;            /* when absent and not required */
    /* Extra check of a string's text; fills why (what is allowed) and
     * returns nonzero to refuse it. NULL: none. */
    int (*check)(const char *val, char *why, size_t cap);
    const char *help;
} kind_field_spec;

struct run_ctx;

typedef struct kind_def {
    const char *name;
    const char *help;
    int available;
    const char *unavailable_why;
    const kind_param_spec *params;
    size_t n_params;
    const kind_field_spec *arm_fields;
    size_t n_arm_fields;
    const char *const *roles;   /* model roles, NULL-terminated */
    /* Cross-field checks after --set (e.g. a codec arm needs a model
     * with K/V). NULL: none. Errors are exit 2. */
    kk_code (*check)(const preset *p, kk_err *err);
    const struct run_ops *ops;  /* run.h; NULL when not available */
} kind_def;

size_t kind_count(void);
const kind_def *kind_at(size_t i);
/* NULL when no kind has this name. */
const kind_def *kind_find(const char *name);
/* "smoke, niah, kv_quant, engine_bench" into buf. */
void kind_names(char *buf, size_t cap);

#endif /* KK_KIND_H */
