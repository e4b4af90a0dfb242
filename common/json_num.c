/*
 * json_num: JSON numbers, exactly (see json.h).
 *
 * A literal is held as written; its value is read from the digits:
 *   value = (-1)^neg * 0.d1d2...dn * 10^exp10   (d1 != 0, dn != 0)
 * so 1 == 1.0 == 1e0 == 10e-1 compare equal, 9007199254740993 differs from
 * 9007199254740992, and 1e400 < 2e400 without building any digit string
 * (exponents are compared as integers; beyond +-JSON_EXP_SAT they
 * saturate, see json_internal.h).
 *
 * The nearest double: Clinger's fast path (an exact significand times an
 * exact power of ten is one correctly rounded operation; W. D. Clinger,
 * "How to Read Floating Point Numbers Accurately", PLDI 1990), then the
 * same with x87 extended precision when up to 19 digits and |q| <= 27,
 * whose single rounding to 64 bits can only mislead the second rounding
 * to 53 bits when the extended result lies exactly on a halfway point
 * (then strtod decides), else strtod_l in the "C" locale.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "json_internal.h"

/* A number literal taken apart (validated literal assumed). */
typedef struct numview {
    int neg;
    const char *ip; size_t in; /* integer-part digits */
    const char *fp; size_t fn; /* fraction digits */
    int64_t e;                 /* exponent as written, saturated */
    /* canonical form over the digit string D = ip ++ fp: */
    size_t lz, sig;            /* leading zeros, significant digits */
    int64_t exp10;             /* value = 0.D[lz..lz+sig) * 10^exp10 */
} numview;

static inline char view_digit(const numview *v, size_t i)
{
    return i < v->in ? v->ip[i] : v->fp[i - v->in];
}

/* Parses [-]int[.frac][(e|E)[+-]exp]; returns 0 when the text is not a
 * valid JSON number literal. */
static int num_view(const char *s, size_t len, numview *v)
{
    const char *p = s, *end = s + len;
    memset(v, 0, sizeof *v);
    if (p < end && *p == '-') {
        v->neg = 1;
        p++;
    }
    v->ip = p;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    v->in = (size_t)(p - v->ip);
    v->fp = p;
    if (p < end && *p == '.') {
        v->fp = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        v->fn = (size_t)(p - v->fp);
        if (!v->fn)
            return 0;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9')
            return 0;
        int64_t e = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            int d = *p++ - '0';
            e = e > (JSON_EXP_SAT - d) / 10 ? JSON_EXP_SAT : e * 10 + d;
        }
        v->e = eneg ? -e : e;
    }
    if (p != end)
        return 0;
    size_t n = v->in + v->fn, tz = 0;
    while (v->lz < n && view_digit(v, v->lz) == '0')
        v->lz++;
    if (v->lz < n)
        while (view_digit(v, n - 1 - tz) == '0')
            tz++;
    v->sig = n - v->lz - tz;
    v->exp10 = v->sig ? v->e + (int64_t)v->in - (int64_t)v->lz : 0;
    return 1;
}

/* <0, 0, >0 by value. */
static int view_cmp(const numview *a, const numview *b)
{
    int sa = a->sig ? (a->neg ? -1 : 1) : 0, sb = b->sig ? (b->neg ? -1 : 1) : 0;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (!sa)
        return 0;
    int mag;
    if (a->exp10 != b->exp10) {
        mag = a->exp10 < b->exp10 ? -1 : 1;
    } else {
        mag = 0;
        size_t n = a->sig > b->sig ? a->sig : b->sig;
        for (size_t i = 0; i < n && !mag; i++) {
            char da = i < a->sig ? view_digit(a, a->lz + i) : '0';
            char db = i < b->sig ? view_digit(b, b->lz + i) : '0';
            if (da != db)
                mag = da < db ? -1 : 1;
        }
    }
    return sa * mag;
}

/* ---- the nearest double --------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

double json_num_to_double_ref(const char *lit, size_t len)
{
    (void)len; /* lit[len] == '\0' and strtod stops at the literal's end */
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale)
        return strtod_l(lit, NULL, c_locale);
    return strtod(lit, NULL); /* newlocale failed: the caller's locale */
}

static const double P10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define JSON_HAVE_X87 1
/* 10^k for k <= 27 is exact in 64 bits: 5^27 < 2^63. */
static const long double P10L[28] = {
    1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

double json_num_to_double(const char *lit, size_t len, int *is_int)
{
    numview v;
    if (!num_view(lit, len, &v)) { /* not reached for parsed literals */
        *is_int = 0;
        return json_num_to_double_ref(lit, len);
    }
    /* 0.D * 10^exp10 is an integer iff exp10 >= the number of digits. */
    *is_int = !v.sig || v.exp10 >= (int64_t)v.sig;
    if (!v.sig)
        return v.neg ? -0.0 : 0.0;
    if (v.sig <= 19) {
        uint64_t w = 0;
        for (size_t i = 0; i < v.sig; i++)
            w = w * 10 + (uint64_t)(view_digit(&v, v.lz + i) - '0');
        int64_t q = v.exp10 - (int64_t)v.sig; /* value = w * 10^q */
        if (w <= (UINT64_C(1) << 53) && q >= -22 && q <= 22) {
            double d = q < 0 ? (double)w / P10[-q] : (double)w * P10[q];
            return v.neg ? -d : d;
        }
#ifdef JSON_HAVE_X87
        if (q >= -27 && q <= 27) {
            volatile long double y = q < 0 ? (long double)w / P10L[-q]
                                           : (long double)w * P10L[q];
            long double yy = y;
            uint64_t mant;
            memcpy(&mant, &yy, sizeof mant); /* x87: 64-bit significand first */
            if ((mant & 0x7ff) != 0x400) {   /* not exactly halfway */
                double d = (double)yy;
                return v.neg ? -d : d;
            }
        }
#endif
    }
    return json_num_to_double_ref(lit, len);
}

/* ---- json.h API ------------------------------------------------------- */

int json_num_decimal(const json_value *num, json_decimal *out, char *buf,
                     size_t cap)
{
    numview v;
    memset(out, 0, sizeof *out);
    out->digits = "";
    if (!num || num->type != JSON_NUMBER ||
        !num_view(num->u.num.text, num->u.num.len, &v))
        return -1;
    if (!v.sig)
        return 0;
    out->neg = v.neg;
    out->n_digits = v.sig;
    out->exp10 = v.exp10;
    if (v.lz + v.sig <= v.in) {
        out->digits = v.ip + v.lz;
    } else if (v.lz >= v.in) {
        out->digits = v.fp + (v.lz - v.in);
    } else {
        if (!buf || cap < v.sig)
            return -1;
        for (size_t i = 0; i < v.sig; i++)
            buf[i] = view_digit(&v, v.lz + i);
        out->digits = buf;
    }
    return 0;
}

static int type_rank(const json_value *a)
{
    return a ? (int)a->type : -1;
}

int json_num_cmp(const json_value *a, const json_value *b)
{
    numview va, vb;
    if (!a || !b || a->type != JSON_NUMBER || b->type != JSON_NUMBER) {
        int ra = type_rank(a), rb = type_rank(b);
        return ra < rb ? -1 : ra > rb;
    }
    if (!num_view(a->u.num.text, a->u.num.len, &va) ||
        !num_view(b->u.num.text, b->u.num.len, &vb))
        return a->u.num.d < b->u.num.d ? -1 : a->u.num.d > b->u.num.d;
    return view_cmp(&va, &vb);
}

int json_num_cmp_literal(const json_value *a, const char *lit, size_t len,
                         int *out)
{
    numview va, vb;
    if (!a || a->type != JSON_NUMBER || !lit ||
        !num_view(a->u.num.text, a->u.num.len, &va) || !num_view(lit, len, &vb))
        return -1;
    *out = view_cmp(&va, &vb);
    return 0;
}

int json_num_cmp_double(const json_value *a, double b)
{
    if (!a || a->type != JSON_NUMBER || isnan(b))
        return -1;
    if (isinf(b)) /* every JSON number is finite, even 1e400 */
        return b > 0 ? -1 : 1;
    /* Rounding is monotonic: d(a) < b implies a < b, and likewise for >. */
    double da = a->u.num.d;
    if (da < b)
        return -1;
    if (da > b)
        return 1;
    /* Equal as doubles: compare with b's exact decimal expansion (a double
     * has at most 767 significant decimal digits; glibc prints exactly). */
    char raw[840], lit[840];
    int n = snprintf(raw, sizeof raw, "%.780e", b);
    if (n <= 0 || (size_t)n >= sizeof raw)
        return 0;
    size_t k = 0;
    int dot = 0;
    for (int i = 0; i < n; i++) { /* any locale's radix becomes '.' */
        char c = raw[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e')
            lit[k++] = c;
        else if (!dot) {
            lit[k++] = '.';
            dot = 1;
        }
    }
    numview va, vb;
    if (!num_view(a->u.num.text, a->u.num.len, &va) || !num_view(lit, k, &vb))
        return 0;
    return view_cmp(&va, &vb);
}
