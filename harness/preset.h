/*
 * preset: the harness's reading of a preset file (presets/NAME.yaml), typed
 * and bounded, checked against the kind's compiled-in schema (kind.h). The
 * file is read by the common reader (common/kk_preset.h: YAML limits, the
 * top level, the gate block, the YAML tree); this module checks the tree's
 * params, models and arms against the kind, and applies --set.
 *
 * Grammar (docs/harness.md has the full text with examples):
 *
 *   name: NAME                   required; equals the file's stem
 *   kind: KIND                   required; one of the allowlisted kinds
 *   description: STRING          required, one line
 *   params:                      optional; each key a parameter of the kind
 *     NAME: {type: T, default: V, [min: N], [max: N], [values: [..]],
 *            [of: T], [max_len: N], [max_count: N], [env: [VAR, ..]],
 *            [help: STRING]}
 *       T = int | float | bool | string | enum | list
 *       list: `of` = int | float | string | enum, default a YAML list
 *       min/max bound int, float and list elements; values list the allowed
 *       enum strings; max_len bounds strings; max_count bounds lists;
 *       env (strings only) names the environment variables the value may
 *       reference as ${ENV:VAR}. A declaration may narrow the kind's bounds,
 *       never widen them, and must use the kind's type.
 *   models:                      optional; [{role: ROLE, param: NAME}]
 *                                each role the kind needs, its source taken
 *                                from a string parameter (kind default: model)
 *   arms:                        required; [{name: ARM, FIELD: V, ...}]
 *                                fields typed by the kind's arm schema
 *   gate:                        required; the gate's block (kk_preset.h),
 *                                read by the common reader the gate uses,
 *                                its arm names checked against `arms`
 *
 * Everything is refused with a located error (file:line:col, key path in
 * err->where, the value found, what is allowed): unknown and duplicate
 * keys, wrong types, values out of bounds, anchors, aliases and tags, files
 * over 64 KiB, nesting over 32 levels (kk_yaml.h), and ${...} anywhere
 * but in a string parameter that declares the variable in `env`.
 *
 * `--set NAME=VALUE` overrides (preset_set) are checked the same way; the
 * error's where is "--set NAME". Lists are written comma-separated
 * (`--set ctx=1024,2048`).
 *
 * Ownership: preset_load / preset_parse return a preset that owns all its
 * memory, including src (the common reading: gate block and YAML tree)
 * whose strings file, name and description borrow; preset_free accepts
 * NULL. The kind is
 * a pointer into the static table (kind.h).
 */
#ifndef KK_PRESET_H
#define KK_PRESET_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "kk_preset.h"

struct kind_def;

typedef enum preset_type {
    PRESET_T_INT = 0,
    PRESET_T_FLOAT,
    PRESET_T_BOOL,
    PRESET_T_STRING,
    PRESET_T_ENUM,
    PRESET_T_LIST
} preset_type;

/* Where a parameter's value came from. */
typedef enum preset_origin {
    PRESET_ORIGIN_KIND = 0,   /* the kind's default */
    PRESET_ORIGIN_PRESET,     /* the preset's default */
    PRESET_ORIGIN_SET         /* a --set override */
} preset_origin;

/* A parameter's type and bounds: from the kind (hard limits) narrowed by
 * the preset's declaration. For lists `of` is the element type and the
 * element bounds are imin..fmax / values / max_len. */
typedef struct preset_bounds {
    preset_type type;
    preset_type of;              /* lists only */
    int64_t imin, imax;          /* int (and list of int) */
    double fmin, fmax;           /* float (and list of float) */
    size_t max_len;              /* string / enum / list elements */
    size_t min_count, max_count; /* lists */
    const char *const *values;   /* enum values, NULL-terminated (borrowed or owned) */
} preset_bounds;

/* A resolved value: a scalar is n == 1. Element arrays by base type. */
typedef struct preset_value {
    size_t n;
    int64_t *i;   /* int, bool (0/1) */
    double *f;    /* float */
    char **s;     /* string, enum */
} preset_value;

typedef struct preset_param {
    const char *name;          /* borrowed from the kind's spec */
    const char *help;          /* the preset's help, else the kind's */
    preset_bounds b;
    char **values_own;         /* the preset's narrowed enum values, if any */
    char **env;                /* ${ENV:VAR} names allowed (strings) */
    size_t n_env;
    preset_value v;
    preset_origin origin;
    int line, col;             /* the declaration; 0 when from the kind */
} preset_param;

typedef struct preset_model {
    char *role;
    const preset_param *param; /* string parameter holding the source */
} preset_model;

/* One arm field's value; which member is used follows the arm schema. */
typedef struct preset_field {
    const char *key;           /* borrowed from the kind's arm schema */
    int present;               /* 0: the schema's default applies */
    int64_t i;                 /* int, bool */
    double f;
    char *s;                   /* string, enum (owned) */
} preset_field;

typedef struct preset_arm {
    char *name;
    preset_field *fields;      /* one per arm-schema field, in schema order */
    int line, col;
} preset_arm;

typedef struct preset {
    const char *file;          /* the path read (borrowed from src) */
    const char *name;          /* borrowed from src */
    const char *description;   /* borrowed from src */
    const struct kind_def *kind;
    char sha256[65];           /* of the file's bytes */
    preset_param *params;      /* one per kind parameter, in kind order */
    size_t n_params;
    preset_model *models;
    size_t n_models;
    preset_arm *arms;
    size_t n_arms;
    kk_preset *src;            /* the common reader's reading of the file:
                                  the gate block (src->thresholds...) and
                                  the YAML tree (owned) */
} preset;

/* Parse `len` bytes named `file`; expect_name (the stem) may be NULL. */
kk_code preset_parse(const char *buf, size_t len, const char *file,
                     const char *expect_name, preset **out, kk_err *err);
/* Read (size-checked first) and parse DIR/NAME.yaml. NAME must be a plain
 * stem: [A-Za-z0-9_][A-Za-z0-9._+-]*; anything else is KK_E_RANGE. */
kk_code preset_load(const char *dir, const char *name, preset **out, kk_err *err);
void preset_free(preset *p);

/* Apply one `NAME=VALUE` override (the text after --set). */
kk_code preset_set(preset *p, const char *assignment, kk_err *err);

/* Lookups: NULL / -1 when absent (kinds only ask for their own names). */
const preset_param *preset_find_param(const preset *p, const char *name);
int64_t preset_get_int(const preset *p, const char *name);
double preset_get_float(const preset *p, const char *name);
const char *preset_get_str(const preset *p, const char *name);
/* Field `key` of an arm: NULL when the schema has no such field. */
const preset_field *preset_arm_field(const preset *p, const preset_arm *a,
                                     const char *key);

/* Expand ${ENV:VAR} in a string parameter's value (only declared names
 * occur: checked at load and --set). *out is malloc'ed. KK_E_MISSING when
 * a variable is unset, naming it and the parameter. */
kk_code preset_expand_env(const preset_param *prm, size_t idx, char **out,
                          kk_err *err);

/* "int", "list of float", ... */
const char *preset_type_name(preset_type t);
/* What the bounds allow, for messages: "an integer in 64..8192". */
void preset_bounds_text(const preset_bounds *b, char *buf, size_t cap);
/* The value as --set would write it (comma lists), into buf. */
void preset_value_text(const preset_param *prm, char *buf, size_t cap);

#endif /* KK_PRESET_H */
