/*
 * libFuzzer target for the JSON Schema validator: input = SCHEMA NUL
 * INSTANCE (both JSON; no NUL: the whole input is the schema and the
 * instance is the schema itself). Must not crash, leak or hang; the fast
 * path (no result) and the full path (errors collected) must agree, and an
 * invalid verdict must carry at least one error.
 * Limits are lowered so a hostile schema ends in milliseconds: 1e5 steps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "js.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t slen = nul ? (size_t)(nul - text) : size;
    const char *itext = nul ? nul + 1 : text;
    size_t ilen = nul ? size - slen - 1 : size;
    json_doc *sd = NULL, *id = NULL;
    js_schema *s = NULL;
    json_parse_opts opts = {.max_depth = 64};
    if (json_parse(text, slen, "schema", &opts, &sd, NULL) != KK_OK)
        goto done;
    if (json_parse(itext, ilen, "instance", &opts, &id, NULL) != KK_OK)
        goto done;
    if (js_compile(json_doc_root(sd), "", NULL, &s, NULL) != KK_OK)
        goto done;
    js_schema_set_limits(s, 100000, 0);
    kk_err err;
    js_result res;
    int fast = js_validate(s, json_doc_root(id), NULL, &err);
    int full = js_validate(s, json_doc_root(id), &res, &err);
    if (fast >= 0 && full >= 0 &&
        (fast != full || (full == 0) != (res.n_errors > 0)))
        abort(); /* the two paths disagree: a validator bug */
    js_result_free(&res);
done:
    js_schema_free(s);
    json_doc_free(sd);
    json_doc_free(id);
    return 0;
}
