/*
 * json_ref: the plain path of the strict reader, for tests and the fuzzer.
 *
 * A recursive-descent validator written straight from RFC 8259's ABNF and
 * Unicode's table of well-formed UTF-8 (table 3-7), one byte at a time, with
 * none of json.c's fast paths (no SWAR scan, no goto state machine, no
 * number fast path). It only answers accept / reject / too deep, and the
 * tests require json_parse to give the same answer on every input.
 *
 * Decisions it shares with json.c (docs/json.md): whitespace is SP HT LF CR
 * only, lone surrogate escapes are rejected, a BOM is rejected, nesting
 * deeper than max_depth arrays and objects is a limit error (checked when
 * the container opens, so it wins over any later syntax error).
 * Recursion depth is max_depth + 1 at most: callers keep max_depth small.
 */
#ifndef KK_TEST_JSON_REF_H
#define KK_TEST_JSON_REF_H

#include <stddef.h>
#include <stdint.h>

typedef enum jref_result { JREF_OK = 0, JREF_FORMAT, JREF_LIMIT } jref_result;

typedef struct jref {
    const uint8_t *p, *end;
    size_t depth, max_depth;
    jref_result fail; /* the first failure wins */
} jref;

static int jref_err(jref *r, jref_result why)
{
    if (r->fail == JREF_OK)
        r->fail = why;
    return 0;
}

static void jref_ws(jref *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int jref_lit(jref *r, const char *w)
{
    for (; *w; w++, r->p++)
        if (r->p >= r->end || *r->p != (uint8_t)*w)
            return jref_err(r, JREF_FORMAT);
    return 1;
}

static int jref_digits(jref *r)
{
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return jref_err(r, JREF_FORMAT);
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return 1;
}

/* number = [ minus ] int [ frac ] [ exp ] */
static int jref_number(jref *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (r->p < r->end && *r->p >= '1' && *r->p <= '9')
        jref_digits(r);
    else
        return jref_err(r, JREF_FORMAT);
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!jref_digits(r))
            return 0;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!jref_digits(r))
            return 0;
    }
    return 1;
}

static int jref_hex4(jref *r, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        if (r->p >= r->end)
            return jref_err(r, JREF_FORMAT);
        unsigned c = *r->p;
        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (c - 'A' + 10);
        else
            return jref_err(r, JREF_FORMAT);
    }
    *out = v;
    return 1;
}

/* One well-formed UTF-8 sequence of 2..4 bytes (Unicode table 3-7). */
static int jref_utf8(jref *r)
{
    unsigned c = *r->p, n, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return jref_err(r, JREF_FORMAT);
    r->p++;
    for (unsigned i = 1; i < n; i++, r->p++) {
        if (r->p >= r->end)
            return jref_err(r, JREF_FORMAT);
        unsigned b = *r->p, l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xbf;
        if (b < l || b > h)
            return jref_err(r, JREF_FORMAT);
    }
    return 1;
}

static int jref_string(jref *r)
{
    r->p++; /* the opening quote */
    for (;;) {
        if (r->p >= r->end)
            return jref_err(r, JREF_FORMAT);
        unsigned c = *r->p;
        if (c == '"') {
            r->p++;
            return 1;
        }
        if (c < 0x20)
            return jref_err(r, JREF_FORMAT);
        if (c >= 0x80) {
            if (!jref_utf8(r))
                return 0;
            continue;
        }
        r->p++;
        if (c != '\\')
            continue;
        if (r->p >= r->end)
            return jref_err(r, JREF_FORMAT);
        c = *r->p++;
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
            c == 'n' || c == 'r' || c == 't')
            continue;
        if (c != 'u')
            return jref_err(r, JREF_FORMAT);
        unsigned u, lo;
        if (!jref_hex4(r, &u))
            return 0;
        if (u >= 0xdc00 && u <= 0xdfff)
            return jref_err(r, JREF_FORMAT); /* lone low surrogate */
        if (u >= 0xd800 && u <= 0xdbff) {
            if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
                return jref_err(r, JREF_FORMAT);
            r->p += 2;
            if (!jref_hex4(r, &lo))
                return 0;
            if (lo < 0xdc00 || lo > 0xdfff)
                return jref_err(r, JREF_FORMAT);
        }
    }
}

static int jref_value(jref *r);

/* array = '[' ws [ value *( ws ',' ws value ) ] ws ']', object likewise */
static int jref_container(jref *r, int is_obj)
{
    if (r->depth >= r->max_depth)
        return jref_err(r, JREF_LIMIT);
    r->depth++;
    r->p++;
    jref_ws(r);
    uint8_t close = is_obj ? '}' : ']';
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return 1;
    }
    for (;;) {
        jref_ws(r);
        if (is_obj) {
            if (r->p >= r->end || *r->p != '"')
                return jref_err(r, JREF_FORMAT);
            if (!jref_string(r))
                return 0;
            jref_ws(r);
            if (r->p >= r->end || *r->p != ':')
                return jref_err(r, JREF_FORMAT);
            r->p++;
        }
        if (!jref_value(r))
            return 0;
        jref_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            r->depth--;
            return 1;
        }
        return jref_err(r, JREF_FORMAT);
    }
}

static int jref_value(jref *r)
{
    jref_ws(r);
    if (r->p >= r->end)
        return jref_err(r, JREF_FORMAT);
    switch (*r->p) {
    case '{': return jref_container(r, 1);
    case '[': return jref_container(r, 0);
    case '"': return jref_string(r);
    case 't': return jref_lit(r, "true");
    case 'f': return jref_lit(r, "false");
    case 'n': return jref_lit(r, "null");
    default: return jref_number(r);
    }
}

/* JSON-text = ws value ws */
static inline jref_result jref_check(const void *text, size_t len, size_t max_depth)
{
    jref r = {(const uint8_t *)text, (const uint8_t *)text + len, 0, max_depth, JREF_OK};
    if (jref_value(&r)) {
        jref_ws(&r);
        if (r.p != r.end)
            jref_err(&r, JREF_FORMAT);
    }
    return r.fail;
}

#endif /* KK_TEST_JSON_REF_H */
