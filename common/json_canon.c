/*
 * json_canon: the canonical form of a JSON value and its sha256 (see
 * json.h). Evidence's `config_sha256` is this hash of the arm's `config`:
 * the harness computes it from the config it writes, the gate from the
 * config it reads, both through this one function, so the two agree by
 * construction and neither depends on a printer's key order or digits.
 *
 * The form (docs/evidence.md, "Canonical JSON"):
 *   - no whitespace;
 *   - object members sorted by the bytes of their UTF-8 names (memcmp, a
 *     prefix first), which is code point order;
 *   - strings escaped as json_write_string does: `"` and `\` and the
 *     controls below U+0020 (\b \f \n \r \t, else \u00xx in lower-case
 *     hex); everything else, `/` and non-ASCII included, as raw UTF-8;
 *   - numbers by the IEEE double nearest their literal, in
 *     json_format_double's shortest round-trip form (1, 0.1, 1e+23,
 *     integers below 1e17 in full); -0 is written 0; a literal beyond the
 *     double range (which strtod makes +-inf) has no canonical form;
 *   - true, false, null as themselves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sha256.h"

static int member_cmp(const void *a, const void *b)
{
    const json_member *x = *(const json_member *const *)a, *y = *(const json_member *const *)b;
    const size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    const int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* Recursion depth is bounded by the parser's max_depth. */
static kk_code write_value(FILE *out, const json_value *v, kk_err *err)
{
    switch (v->type) {
    case JSON_NULL: fputs("null", out); return KK_OK;
    case JSON_FALSE: fputs("false", out); return KK_OK;
    case JSON_TRUE: fputs("true", out); return KK_OK;
    case JSON_STRING: json_write_string(out, v->u.str.s, v->u.str.len); return KK_OK;
    case JSON_NUMBER: {
        const double d = v->u.num.d;
        if (!isfinite(d))
            return kk_err_set(err, KK_E_FORMAT, "line %u, column %u: the number %.*s is "
                              "beyond the double range and has no canonical form",
                              v->line, v->col, (int)(v->u.num.len > 40 ? 40 : v->u.num.len),
                              v->u.num.text);
        json_write_double(out, d == 0 ? 0.0 : d); /* -0 is 0 */
        return KK_OK;
    }
    case JSON_ARRAY:
        putc('[', out);
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i)
                putc(',', out);
            KK_TRY(write_value(out, v->u.arr.items[i], err));
        }
        putc(']', out);
        return KK_OK;
    case JSON_OBJECT: {
        const size_t n = v->u.obj.n;
        const json_member **sorted = n ? malloc(n * sizeof *sorted) : NULL;
        if (n && !sorted)
            return kk_err_set(err, KK_E_NOMEM, "out of memory sorting %zu members", n);
        for (size_t i = 0; i < n; i++)
            sorted[i] = &v->u.obj.members[i];
        if (n > 1) /* qsort wants a valid pointer even for 0 elements */
            qsort(sorted, n, sizeof *sorted, member_cmp);
        putc('{', out);
        kk_code code = KK_OK;
        for (size_t i = 0; i < n && code == KK_OK; i++) {
            if (i)
                putc(',', out);
            json_write_string(out, sorted[i]->key, sorted[i]->key_len);
            putc(':', out);
            code = write_value(out, sorted[i]->value, err);
        }
        putc('}', out);
        free(sorted);
        return code;
    }
    }
    return kk_err_set(err, KK_E_INTERNAL, "JSON value of unknown type %d", (int)v->type);
fail:
    return err && err->code != KK_OK ? err->code : KK_E_FORMAT;
}

kk_code json_canonical(const json_value *v, char **out, size_t *len, kk_err *err)
{
    *out = NULL;
    *len = 0;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for a canonical JSON form");
    kk_code code = write_value(f, v, err);
    if (fclose(f) != 0 && code == KK_OK)
        code = kk_err_set(err, KK_E_NOMEM, "out of memory for a canonical JSON form");
    if (code != KK_OK) {
        free(buf);
        return code;
    }
    *out = buf;
    *len = n;
    return KK_OK;
}

kk_code json_canonical_sha256(const json_value *v, char out[65], kk_err *err)
{
    out[0] = '\0';
    char *s = NULL;
    size_t n = 0;
    KK_TRY(json_canonical(v, &s, &n, err));
    sha256_hex(s, n, out);
    free(s);
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_FORMAT;
}
