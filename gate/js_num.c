/*
 * js_num: exact multipleOf (JSON Schema 2020-12 validation section 6.2.1:
 * "valid if division by this keyword's value results in an integer").
 *
 * Both numbers come as exact decimals from json_num_decimal:
 * x = A * 10^ea and d = B * 10^eb with A, B integers without trailing zeros.
 * x / d is an integer iff B divides A * 10^(ea - eb), and when ea < eb it
 * never is (A has no factor 10 left to cancel). So the test is one modular
 * reduction: (A mod B) * (10^(ea - eb) mod B) mod B == 0, done in 128-bit
 * arithmetic when B < 2^64 (any exponent: square-and-multiply), and digit by
 * digit with schoolbook subtraction otherwise. No floating point, so
 * 0.0075 is a multiple of 0.0001 and 1e308 / 0.123456789 cannot overflow.
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

__extension__ typedef unsigned __int128 js_u128;

/* Digit-by-digit work cap for divisors of 20+ significant digits:
 * (digits of A + exponent gap) x digits of B. 2e7 is a few ms. */
#define JS_NUM_MAX_BIG_WORK 20000000ull

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)(((js_u128)a * b) % m);
}

static uint64_t powmod10(uint64_t k, uint64_t m)
{
    uint64_t r = 1 % m, base = 10 % m;
    while (k) {
        if (k & 1)
            r = mulmod(r, base, m);
        base = mulmod(base, base, m);
        k >>= 1;
    }
    return r;
}

/* r (n_r digits, most significant first, no leading zeros) >= b? */
static int big_ge(const unsigned char *r, size_t nr, const unsigned char *b,
                  size_t nb)
{
    if (nr != nb)
        return nr > nb;
    return memcmp(r, b, nr) >= 0;
}

static size_t big_sub(unsigned char *r, size_t nr, const unsigned char *b,
                      size_t nb)
{
    int borrow = 0;
    for (size_t i = 0; i < nr; i++) {
        int bd = i < nb ? b[nb - 1 - i] : 0;
        int v = r[nr - 1 - i] - bd - borrow;
        borrow = v < 0;
        r[nr - 1 - i] = (unsigned char)(v < 0 ? v + 10 : v);
    }
    size_t lz = 0;
    while (lz < nr && r[lz] == 0)
        lz++;
    memmove(r, r + lz, nr - lz);
    return nr - lz;
}

static int decimal_of(const json_value *v, json_decimal *d, char **heap,
                      char *stack, size_t stack_cap)
{
    size_t cap = v->u.num.len + 1;
    char *buf = stack;
    if (cap > stack_cap) {
        buf = malloc(cap);
        if (!buf)
            return -1;
        *heap = buf;
    }
    return json_num_decimal(v, d, buf, cap);
}

int js_num_multiple_of(const json_value *instance, const json_value *divisor)
{
    char sa[128], sb[128];
    char *ha = NULL, *hb = NULL;
    json_decimal a, b;
    int result = -1;
    if (decimal_of(instance, &a, &ha, sa, sizeof sa) != 0 ||
        decimal_of(divisor, &b, &hb, sb, sizeof sb) != 0)
        goto done;
    if (a.n_digits == 0) { /* 0 is a multiple of everything */
        result = 1;
        goto done;
    }
    if (b.n_digits == 0)
        goto done; /* divisor 0: rejected at compile time */
    int64_t ea = a.exp10 - (int64_t)a.n_digits;
    int64_t eb = b.exp10 - (int64_t)b.n_digits;
    if (ea < eb) {
        result = 0;
        goto done;
    }
    uint64_t k = (uint64_t)ea - (uint64_t)eb;
    if (b.n_digits <= 19) {
        uint64_t m = 0;
        for (size_t i = 0; i < b.n_digits; i++)
            m = m * 10 + (uint64_t)(b.digits[i] - '0');
        uint64_t r = 0;
        for (size_t i = 0; i < a.n_digits; i++)
            r = (uint64_t)(((js_u128)r * 10 + (uint64_t)(a.digits[i] - '0')) % m);
        result = mulmod(r, powmod10(k, m), m) == 0;
        goto done;
    }
    /* Divisor of 20+ significant digits: long division, bounded work. */
    if (k > JS_NUM_MAX_BIG_WORK ||
        (a.n_digits + k) * b.n_digits > JS_NUM_MAX_BIG_WORK)
        goto done;
    {
        unsigned char *bd = malloc(b.n_digits), *r = malloc(b.n_digits + 2);
        if (!bd || !r) {
            free(bd);
            free(r);
            goto done;
        }
        for (size_t i = 0; i < b.n_digits; i++)
            bd[i] = (unsigned char)(b.digits[i] - '0');
        size_t nr = 0;
        for (uint64_t i = 0; i < a.n_digits + k; i++) {
            unsigned char d = i < a.n_digits ? (unsigned char)(a.digits[i] - '0') : 0;
            if (nr || d)
                r[nr++] = d;
            while (big_ge(r, nr, bd, b.n_digits))
                nr = big_sub(r, nr, bd, b.n_digits);
        }
        result = nr == 0;
        free(bd);
        free(r);
    }
done:
    free(ha);
    free(hb);
    return result;
}
