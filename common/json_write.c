/*
 * json_write: JSON Schema equality, writing strings and doubles, and code
 * point counting (see json.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "json_internal.h"

/* JSON Schema 2020-12 core section 4.2.2: same type (integers and other
 * numbers are one type), numbers by mathematical value, strings by code
 * points (equal bytes, as both are valid UTF-8), arrays item by item,
 * objects with the same member names and equal values.
 * Recursion depth is bounded by the documents' nesting (max_depth). */
int json_equal(const json_value *a, const json_value *b)
{
    if (a == b)
        return 1;
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case JSON_NULL:
    case JSON_FALSE:
    case JSON_TRUE:
        return 1;
    case JSON_NUMBER:
        return json_num_cmp(a, b) == 0;
    case JSON_STRING:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!json_equal(a->u.arr.items[i], b->u.arr.items[i]))
                return 0;
        return 1;
    case JSON_OBJECT:
        /* Member names are unique after parsing, so equal counts plus
         * every member of a found equal in b means equal sets. */
        if (a->u.obj.n != b->u.obj.n)
            return 0;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const json_member *m = &a->u.obj.members[i];
            const json_value *bv = json_obj_getn(b, m->key, m->key_len);
            if (!bv || !json_equal(m->value, bv))
                return 0;
        }
        return 1;
    }
    return 0;
}

void json_write_string(FILE *out, const char *s, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;
    putc('"', out);
    for (; p < end; p++) {
        unsigned c = *p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite(run, 1, (size_t)(p - run), out);
        run = p + 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15], 0};
            fputs(u, out);
        }
        }
    }
    fwrite(run, 1, (size_t)(p - run), out);
    putc('"', out);
}

/* printf with any locale's radix turned into '.' (the programs set "C";
 * this keeps a library caller's locale from producing invalid JSON). */
static void fmt_double(char *buf, size_t cap, int prec, double d)
{
    /* prec <= 17: at most 24 bytes ("-1.2345678901234567e-308"); checking
     * the count keeps GCC's -Wformat-truncation quiet. */
    int n = snprintf(buf, cap, "%.*g", prec, d);
    if (n < 0 || (size_t)n >= cap)
        buf[0] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == ',')
            *c = '.';
}

int json_format_double(char *buf, size_t cap, double d)
{
    if (!isfinite(d)) /* JSON has no NaN or infinity */
        return snprintf(buf, cap, "null");
    /* The fewest significant digits (1..17) whose correctly rounded %g form
     * reads back as d. Reading back is monotonic in the digit count (more
     * digits are at least as close to d), and 17 always suffice, so a binary
     * search finds the shortest in at most 5 tries. The reader is the
     * C-locale strtod (json_num_to_double_ref needs a JSON literal, which
     * %g output is: no leading '+', no '.' without digits). */
    char tmp[40];
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        fmt_double(tmp, sizeof tmp, mid, d);
        if (json_num_to_double_ref(tmp, strlen(tmp)) == d)
            hi = mid;
        else
            lo = mid + 1;
    }
    /* %g turns 100 into "1e+02" at 1 digit: integers below 1e17 are
     * printed in full instead (as many digits as they have; still exact). */
    if (d == trunc(d) && fabs(d) < 1e17) {
        int n_int = 1;
        for (double a = fabs(d); a >= 10 && n_int < 17; a /= 10)
            n_int++;
        if (n_int > lo)
            lo = n_int;
    }
    fmt_double(tmp, sizeof tmp, lo, d);
    return snprintf(buf, cap, "%s", tmp);
}

void json_write_double(FILE *out, double d)
{
    char buf[40];
    json_format_double(buf, sizeof buf, d);
    fputs(buf, out);
}

size_t json_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}
