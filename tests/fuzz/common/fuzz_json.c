/*
 * fuzz_json: json_parse must never crash, and what it accepts must hold
 * these invariants:
 *   - every number's double equals the strtod reference (json_num_to_double
 *     fast paths against json_num_to_double_ref), and compares equal to
 *     itself exactly;
 *   - every decoded string, written with json_write_string, parses back to
 *     the same bytes, and every finite double written with
 *     json_format_double reads back as the same double;
 *   - the whole document written back (strings escaped, numbers as their
 *     literals) parses to a json_equal document;
 *   - errors carry a location inside the input;
 *   - accept / reject / too deep agrees with the plain recursive validator
 *     of tests/common/json_ref.h (the _ref path);
 *   - every value's offset points at its first byte (the right kind of
 *     byte for its type) and its line/col agree with that offset;
 *   - the canonical form (json_canonical) exists unless a number is beyond
 *     the double range (KK_E_FORMAT), parses, and is its own canonical
 *     form, byte for byte (idempotent: one hash per value).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_ref.h"
#include "json.h"
#include "json_internal.h"

/* The input being checked, and each byte's 1-based line and column. */
static const uint8_t *g_data;
static size_t g_size;
static uint32_t *g_line, *g_col;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_json: invariant broken: %s\n", what);
    abort();
}

static void check_string(const char *s, size_t len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return;
    json_write_string(f, s, len);
    fclose(f);
    json_doc *d = NULL;
    if (json_parse(buf, n, "rt", NULL, &d, NULL) != KK_OK)
        die("written string does not parse");
    const json_value *r = json_doc_root(d);
    if (r->type != JSON_STRING || r->u.str.len != len || memcmp(r->u.str.s, s, len))
        die("written string does not round-trip");
    json_doc_free(d);
    free(buf);
}

static void check_position(const json_value *v)
{
    static const char first[] = {'n', 'f', 't', 0, '"', '[', '{'};
    if (v->offset >= g_size)
        die("value offset outside the input");
    uint8_t c = g_data[v->offset];
    if (v->type == JSON_NUMBER ? !(c == '-' || (c >= '0' && c <= '9'))
                               : c != (uint8_t)first[v->type])
        die("value offset does not point at the value's first byte");
    if (v->line != g_line[v->offset] || v->col != g_col[v->offset])
        die("value line/col disagree with its offset");
}

/* Writes v back as JSON and checks each leaf on the way. */
static void walk(FILE *out, const json_value *v)
{
    check_position(v);
    switch (v->type) {
    case JSON_NULL: fputs("null", out); break;
    case JSON_TRUE: fputs("true", out); break;
    case JSON_FALSE: fputs("false", out); break;
    case JSON_NUMBER: {
        int is_int;
        double ref = json_num_to_double_ref(v->u.num.text, v->u.num.len);
        double fast = json_num_to_double(v->u.num.text, v->u.num.len, &is_int);
        if (memcmp(&ref, &v->u.num.d, sizeof ref) || memcmp(&ref, &fast, sizeof ref))
            die("number's double differs from strtod");
        if (is_int != v->u.num.is_int)
            die("is_int differs between paths");
        if (json_num_cmp(v, v) != 0)
            die("number does not equal itself");
        int c2;
        if (json_num_cmp_literal(v, v->u.num.text, v->u.num.len, &c2) || c2)
            die("number does not equal its literal");
        /* An integer below 2^53 is exact in a double. */
        if (v->u.num.is_int && fabs(v->u.num.d) < 9007199254740992.0 &&
            json_num_cmp_double(v, v->u.num.d) != 0)
            die("small integer differs from its double");
        /* The shortest written form of the double reads back as it. */
        if (isfinite(v->u.num.d)) {
            char buf[40];
            json_format_double(buf, sizeof buf, v->u.num.d);
            double back = json_num_to_double_ref(buf, strlen(buf));
            if (memcmp(&back, &v->u.num.d, sizeof back))
                die("written double does not read back");
        }
        fwrite(v->u.num.text, 1, v->u.num.len, out);
        break;
    }
    case JSON_STRING:
        check_string(v->u.str.s, v->u.str.len);
        json_write_string(out, v->u.str.s, v->u.str.len);
        break;
    case JSON_ARRAY:
        putc('[', out);
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i)
                putc(',', out);
            walk(out, v->u.arr.items[i]);
        }
        putc(']', out);
        break;
    case JSON_OBJECT:
        putc('{', out);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            const json_member *m = &v->u.obj.members[i];
            if (json_obj_getn(v, m->key, m->key_len) != m->value)
                die("lookup does not find a member");
            if (i)
                putc(',', out);
            check_string(m->key, m->key_len);
            json_write_string(out, m->key, m->key_len);
            putc(':', out);
            walk(out, m->value);
        }
        putc('}', out);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc *d = NULL;
    kk_err e;
    kk_code rc = json_parse((const char *)data, size, "fuzz", NULL, &d, &e);
    /* 512: json.h's default max_depth. */
    jref_result ref = jref_check(data, size, 512);
    if ((rc == KK_OK) != (ref == JREF_OK) ||
        (rc == KK_E_LIMIT) != (ref == JREF_LIMIT))
        die(rc == KK_OK ? "accepted what the plain validator rejects"
                        : "result differs from the plain validator");
    if (rc != KK_OK) {
        if (d || e.offset < 0 || (size_t)e.offset > size || e.line < 1 || e.col < 1)
            die("error without a location inside the input");
        if (rc != KK_E_FORMAT && rc != KK_E_LIMIT)
            die("unexpected error code");
        return 0;
    }
    g_data = data;
    g_size = size;
    g_line = malloc((size ? size : 1) * sizeof *g_line);
    g_col = malloc((size ? size : 1) * sizeof *g_col);
    if (!g_line || !g_col)
        die("out of memory");
    for (size_t i = 0, line = 1, col = 1; i < size; i++) {
        g_line[i] = (uint32_t)line;
        g_col[i] = (uint32_t)col;
        if (data[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    const json_value *root = json_doc_root(d);
    if (!json_equal(root, root))
        die("document does not equal itself");
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (f) {
        walk(f, root);
        fclose(f);
        json_doc *d2 = NULL;
        if (json_parse(buf, n, "rewritten", NULL, &d2, NULL) != KK_OK)
            die("rewritten document does not parse");
        if (!json_equal(root, json_doc_root(d2)))
            die("rewritten document differs");
        json_doc_free(d2);
        free(buf);
    }
    char *c1 = NULL, *c2 = NULL;
    size_t n1 = 0, n2 = 0;
    kk_code crc = json_canonical(root, &c1, &n1, &e);
    if (crc != KK_OK && crc != KK_E_FORMAT)
        die("canonical form: unexpected error code");
    if (crc == KK_OK) {
        json_doc *d3 = NULL;
        if (json_parse(c1, n1, "canonical", NULL, &d3, NULL) != KK_OK)
            die("canonical form does not parse");
        if (json_canonical(json_doc_root(d3), &c2, &n2, NULL) != KK_OK || n1 != n2 ||
            memcmp(c1, c2, n1) != 0)
            die("canonical form is not its own canonical form");
        json_doc_free(d3);
    }
    free(c1);
    free(c2);
    json_doc_free(d);
    free(g_line);
    free(g_col);
    return 0;
}
