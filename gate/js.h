/*
 * js: JSON Schema draft 2020-12 validation (core + validation vocabularies,
 * applicator, unevaluated, format as annotation).
 *
 * Lifecycle:
 *   1. js_registry_init: a registry of documents by absolute URI, used to
 *      resolve $ref / $dynamicRef (remotes, meta-schemas).
 *   2. js_registry_add / js_registry_add_dir: register parsed documents. The
 *      registry borrows json_value pointers: their json_doc must outlive it
 *      (add_dir parses files itself and owns those docs).
 *   3. js_compile: compile one schema (a json_value, borrowed: it must outlive
 *      the compiled schema) into a form that validates without re-walking the
 *      schema text. Invalid schemas give KK_E_FORMAT with a JSON pointer into
 *      the schema in err->where.
 *   4. js_validate: any number of times, from any number of threads (the
 *      compiled schema is read-only during validation).
 *   5. js_schema_free, js_registry_free (both accept NULL).
 *
 * Errors carry the instance location and the schema location as JSON
 * pointers, and say what was expected and what was found.
 */
#ifndef KK_JS_H
#define KK_JS_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "kk_err.h"

typedef struct js_registry js_registry;
typedef struct js_schema js_schema;

js_registry *js_registry_init(void);
void js_registry_free(js_registry *reg);
kk_code js_registry_add(js_registry *reg, const char *uri, const json_value *doc,
                        kk_err *err);
/* Parse every *.json below dir and register it as base_uri + relative path
 * (e.g. "http://localhost:1234/" + "draft2020-12/subSchemas.json"). */
kk_code js_registry_add_dir(js_registry *reg, const char *base_uri,
                            const char *dir, kk_err *err);

kk_code js_compile(const json_value *schema, const char *base_uri,
                   js_registry *reg, js_schema **out, kk_err *err);
void js_schema_free(js_schema *s);

/* Override one compiled schema's work limits (0 keeps a default): max_steps
 * bounds node evaluations plus regex steps per js_validate call (default
 * 2e8), max_depth nested evaluations (default 2048; at most that). Call
 * before validating, not concurrently with js_validate. */
kk_code js_schema_set_limits(js_schema *s, uint64_t max_steps,
                             size_t max_depth);

typedef struct js_error {
    char *instance_ptr; /* JSON pointer into the instance, "" for the root */
    char *schema_ptr;   /* keyword location, e.g. "/properties/a/type" */
    char *message;      /* "expected integer, found string \"x\"" */
} js_error;

typedef struct js_result {
    size_t n_errors;
    js_error *errors;   /* owned; free with js_result_free */
} js_result;

/* @return 1 valid, 0 invalid (res, when not NULL, lists why), -1 when
 * validation had to stop (depth or work limit: err says which). */
int js_validate(const js_schema *s, const json_value *instance, js_result *res,
                kk_err *err);
void js_result_free(js_result *res);

#endif /* KK_JS_H */
