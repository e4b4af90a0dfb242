/* gate_dec: see gate_dec.h. */
#include "gate_dec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gate_dec_free(gate_dec *d)
{
    if (!d)
        return;
    free(d->dig);
    memset(d, 0, sizeof *d);
}

/* Drops leading and trailing zero digits (moving the exponent), in place. */
static void normalize(gate_dec *d)
{
    size_t lead = 0;
    while (lead < d->n && d->dig[lead] == 0)
        lead++;
    size_t end = d->n;
    while (end > lead && d->dig[end - 1] == 0)
        end--;
    d->exp += (int64_t)(d->n - end);
    if (end == lead) {
        free(d->dig);
        d->dig = NULL;
        d->n = 0;
        d->exp = 0;
        d->neg = 0;
        return;
    }
    memmove(d->dig, d->dig + lead, end - lead);
    d->n = end - lead;
}

int gate_dec_parse(const char *s, size_t len, gate_dec *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t int_start = i;
    if (i < len && s[i] == '0') {
        i++;
    } else {
        if (i >= len || s[i] < '1' || s[i] > '9')
            return -1;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < len && s[i] == '.') {
        i++;
        frac_start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
        if (frac_end == frac_start)
            return -1;
    }
    int64_t e = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= len || s[i] < '0' || s[i] > '9')
            return -1;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            /* Saturate: beyond 10^18 the value is out of any useful range
             * and the digit bound below refuses arithmetic on it anyway. */
            if (e < (int64_t)1e17)
                e = e * 10 + (s[i] - '0');
            i++;
        }
        if (eneg)
            e = -e;
    }
    if (i != len)
        return -1;
    size_t nd = (int_end - int_start) + (frac_end - frac_start);
    if (nd > GATE_DEC_MAX_DIGITS)
        return -1;
    out->dig = malloc(nd ? nd : 1);
    if (!out->dig)
        return -1;
    size_t k = 0;
    for (size_t j = int_start; j < int_end; j++)
        out->dig[k++] = (unsigned char)(s[j] - '0');
    for (size_t j = frac_start; j < frac_end; j++)
        out->dig[k++] = (unsigned char)(s[j] - '0');
    out->n = nd;
    out->neg = neg;
    out->exp = e - (int64_t)(frac_end - frac_start);
    normalize(out);
    return 0;
}

int gate_dec_is_zero(const gate_dec *a)
{
    return a->n == 0;
}

/* Magnitude comparison. */
static int cmp_abs(const gate_dec *a, const gate_dec *b)
{
    if (a->n == 0 || b->n == 0)
        return (a->n != 0) - (b->n != 0);
    /* Position of the leading digit: n + exp. */
    int64_t pa = (int64_t)a->n + a->exp, pb = (int64_t)b->n + b->exp;
    if (pa != pb)
        return pa < pb ? -1 : 1;
    size_t m = a->n > b->n ? a->n : b->n;
    for (size_t i = 0; i < m; i++) {
        int da = i < a->n ? a->dig[i] : 0, db = i < b->n ? b->dig[i] : 0;
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int gate_dec_cmp(const gate_dec *a, const gate_dec *b)
{
    int sa = a->n == 0 ? 0 : (a->neg ? -1 : 1);
    int sb = b->n == 0 ? 0 : (b->neg ? -1 : 1);
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (sa == 0)
        return 0;
    int c = cmp_abs(a, b);
    return sa > 0 ? c : -c;
}

/* Digits of d aligned to exponent e (e <= d->exp) into buf of width w,
 * least significant digit at buf[w-1]. */
static void place(const gate_dec *d, int64_t e, unsigned char *buf, size_t w)
{
    size_t shift = (size_t)(d->exp - e); /* trailing zeros */
    memset(buf, 0, w);
    for (size_t i = 0; i < d->n; i++)
        buf[w - shift - d->n + i] = d->dig[i];
}

int gate_dec_add(const gate_dec *a, const gate_dec *b, gate_dec *out)
{
    memset(out, 0, sizeof *out);
    if (a->n == 0 || b->n == 0) {
        const gate_dec *s = a->n ? a : b;
        out->dig = malloc(s->n ? s->n : 1);
        if (!out->dig)
            return -1;
        if (s->n)
            memcpy(out->dig, s->dig, s->n);
        out->n = s->n;
        out->neg = s->neg;
        out->exp = s->exp;
        return 0;
    }
    int64_t e = a->exp < b->exp ? a->exp : b->exp;
    int64_t ta = (int64_t)a->n + a->exp, tb = (int64_t)b->n + b->exp;
    int64_t top = ta > tb ? ta : tb;
    if (top - e + 1 > GATE_DEC_MAX_DIGITS)
        return -1;
    size_t w = (size_t)(top - e + 1); /* one more for a carry */
    unsigned char *x = malloc(w), *y = malloc(w);
    if (!x || !y) {
        free(x);
        free(y);
        return -1;
    }
    const gate_dec *big = a, *small = b;
    if (cmp_abs(a, b) < 0) {
        big = b;
        small = a;
    }
    place(big, e, x, w);
    place(small, e, y, w);
    if (a->neg == b->neg) {
        int carry = 0;
        for (size_t i = w; i-- > 0;) {
            int s = x[i] + y[i] + carry;
            x[i] = (unsigned char)(s % 10);
            carry = s / 10;
        }
        out->neg = a->neg;
    } else { /* |big| - |small| >= 0 */
        int borrow = 0;
        for (size_t i = w; i-- > 0;) {
            int s = x[i] - y[i] - borrow;
            borrow = s < 0;
            x[i] = (unsigned char)(s < 0 ? s + 10 : s);
        }
        out->neg = big->neg;
    }
    free(y);
    out->dig = x;
    out->n = w;
    out->exp = e;
    normalize(out);
    return 0;
}

int gate_dec_sub(const gate_dec *a, const gate_dec *b, gate_dec *out)
{
    gate_dec nb = *b;
    nb.neg = !b->neg;
    return gate_dec_add(a, &nb, out);
}

int gate_dec_mul(const gate_dec *a, const gate_dec *b, gate_dec *out)
{
    memset(out, 0, sizeof *out);
    if (a->n == 0 || b->n == 0)
        return 0;
    if (a->n + b->n > GATE_DEC_MAX_DIGITS)
        return -1;
    size_t w = a->n + b->n;
    unsigned *acc = calloc(w, sizeof *acc);
    unsigned char *r = malloc(w);
    if (!acc || !r) {
        free(acc);
        free(r);
        return -1;
    }
    /* Schoolbook; each column sums at most 4096 products of 81 < 2^32. */
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            acc[i + j + 1] += (unsigned)a->dig[i] * b->dig[j];
    unsigned carry = 0;
    for (size_t k = w; k-- > 0;) {
        unsigned s = acc[k] + carry;
        r[k] = (unsigned char)(s % 10);
        carry = s / 10;
    }
    free(acc);
    out->dig = r;
    out->n = w;
    out->neg = a->neg != b->neg;
    out->exp = a->exp + b->exp;
    normalize(out);
    return 0;
}

void gate_dec_format(const gate_dec *a, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    if (a->n == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    size_t at = 0;
#define PUT(c)                                                                \
    do {                                                                      \
        if (at + 1 < cap)                                                     \
            buf[at++] = (c);                                                  \
    } while (0)
    if (a->neg)
        PUT('-');
    int64_t point = (int64_t)a->n + a->exp; /* digits before the point */
    if (point > 40 || point < -20) {
        /* Scientific: d.ddd e(point-1). */
        PUT((char)('0' + a->dig[0]));
        if (a->n > 1) {
            PUT('.');
            for (size_t i = 1; i < a->n && i < 40; i++)
                PUT((char)('0' + a->dig[i]));
        }
        char e[32];
        snprintf(e, sizeof e, "e%+lld", (long long)(point - 1));
        for (char *p = e; *p; p++)
            PUT(*p);
    } else if (point <= 0) {
        PUT('0');
        PUT('.');
        for (int64_t i = 0; i < -point; i++)
            PUT('0');
        for (size_t i = 0; i < a->n; i++)
            PUT((char)('0' + a->dig[i]));
    } else {
        for (int64_t i = 0; i < point; i++)
            PUT((char)('0' + ((size_t)i < a->n ? a->dig[i] : 0)));
        if ((size_t)point < a->n) {
            PUT('.');
            for (size_t i = (size_t)point; i < a->n; i++)
                PUT((char)('0' + a->dig[i]));
        }
    }
    buf[at] = '\0';
#undef PUT
}
