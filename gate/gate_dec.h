/*
 * gate_dec: exact decimal arithmetic for threshold comparisons.
 *
 * Why: evidence numbers and preset values are decimal literals. Compared as
 * doubles, `0.9 - 0.95 >= -0.05` is false (the difference is
 * -0.050000000000000044); a gate must not fail a run on rounding. Values
 * here are sign * digits * 10^exp with the digits as written, so sums,
 * products and comparisons are exact.
 *
 * Bounds: at most GATE_DEC_MAX_DIGITS digits per value (after aligning
 * exponents for a sum); beyond that the operation returns -1 and the caller
 * falls back to doubles (documented in docs/gate.md). A 1e999999 literal is
 * fine to hold; adding it to 1 is not.
 *
 * Ownership: gate_dec values own their digits; gate_dec_free (accepts an
 * all-zero struct). Results of add/mul are new values the caller frees.
 */
#ifndef KK_GATE_DEC_H
#define KK_GATE_DEC_H

#include <stddef.h>
#include <stdint.h>

#define GATE_DEC_MAX_DIGITS 4096

typedef struct gate_dec {
    int neg;
    unsigned char *dig; /* most significant first, values 0..9; NULL for 0 */
    size_t n;           /* no leading or trailing zeros; 0 for zero */
    int64_t exp;        /* value = digits * 10^exp */
} gate_dec;

/* Parses a JSON number literal (RFC 8259 grammar). @return 0, -1 when it is
 * not one or is out of bounds. */
int gate_dec_parse(const char *lit, size_t len, gate_dec *out);
void gate_dec_free(gate_dec *d);

int gate_dec_add(const gate_dec *a, const gate_dec *b, gate_dec *out);
int gate_dec_sub(const gate_dec *a, const gate_dec *b, gate_dec *out);
int gate_dec_mul(const gate_dec *a, const gate_dec *b, gate_dec *out);
/* <0, 0, >0 (always exact). */
int gate_dec_cmp(const gate_dec *a, const gate_dec *b);
int gate_dec_is_zero(const gate_dec *a);

/* Plain decimal text ("-0.05", "1200", "1e+40" style only when the exponent
 * is large). Writes at most cap bytes including the NUL. */
void gate_dec_format(const gate_dec *a, char *buf, size_t cap);

#endif /* KK_GATE_DEC_H */
