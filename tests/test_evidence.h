/* Helpers for tests that read evidence JSON (header-only; cJSON and cmocka
 * included before it): a file parsed whole, an arm found by name, a member
 * that must be there, and a `kakeya run` whose evidence the gate's schema
 * validates (test_proc.h included before it for that one). All fail the
 * current test on error. */
#ifndef KK_TEST_EVIDENCE_H
#define KK_TEST_EVIDENCE_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_util.h"

static inline cJSON *tu_read_json(const char *path)
{
    char *buf = tu_slurp(path);
    if (!buf)
        fail_msg("cannot read %s", path);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j)
        fail_msg("%s is not JSON", path);
    return j;
}

static inline const cJSON *tu_arm(const cJSON *doc, const char *name)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc, "arms"))
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring, name))
            return a;
    fail_msg("no arm %s", name);
    return NULL;
}

/* Member k of o; fails the test when absent. */
static inline const cJSON *tu_get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        fail_msg("missing key %s", k);
    return v;
}

#ifdef KK_TEST_PROC_H
/* Run `bin args...` (a `kakeya run` that prints the evidence path as its
 * first stdout line), validate that file with `gate validate --schema
 * <root>/gate/schemas/evidence.schema.json`, and return it parsed (the
 * caller deletes it). */
static inline cJSON *tu_run_evidence(const char *bin, const char *gate, const char *root,
                                     const char *const *args)
{
    TP_REQUIRE_PROGRAM(bin);
    tp_run r = tp_run_prog(NULL, bin, args);
    if (r.code != 0)
        fail_msg("kakeya run: exit %d: %s", r.code, r.err);
    char file[4096];
    snprintf(file, sizeof file, "%s", r.out);
    char *nl = strchr(file, '\n');
    if (nl)
        *nl = '\0';
    tp_run_free(&r);
    char schema[4200];
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", root);
    const char *vargs[] = {"validate", "--schema", schema, file, NULL};
    TP_REQUIRE_PROGRAM(gate);
    r = tp_run_prog(NULL, gate, vargs);
    if (r.code != 0)
        fail_msg("%s fails the schema: %s%s", file, r.out, r.err);
    tp_run_free(&r);
    return tu_read_json(file);
}
#endif

#endif /* KK_TEST_EVIDENCE_H */
