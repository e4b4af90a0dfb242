/* Helpers for tests that read evidence JSON (header-only; cJSON and cmocka
 * included before it): a file parsed whole, and an arm found by name. Both
 * fail the current test on error. */
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

#endif /* KK_TEST_EVIDENCE_H */
