/*
 * codec_e8ans: entropy-coded E8 (e8ans:bits=B), the one variable-rate
 * codec: the nearest E8 point of each 8 values at a fixed step, its
 * coordinates written with rANS. See codec.h for the spec.
 *
 * Why: a fixed-rate code spends the same bits on every block; an entropy
 * coder spends -log2 p on each, so an entropy-coded lattice quantizer sits
 * 10 log10(2 pi e G) above D(R) at high rate, G being the lattice's
 * normalized second moment: 0.88 dB for E8 (G = 0.07168; Conway and
 * Sloane, SPLAG ch. 2, table 2.3), 1.53 dB for the integers.
 *
 * One encode call of n values is a stream:
 *   - scale: F32, the RMS of the call's values (one number: the global
 *     scale, the only side information);
 *   - the step is scale x r, r = sqrt(2 pi e) 2^-B: at high rate the
 *     entropy of the E8 index is h(N(0,1)) - log2 r = B bits/value
 *     (E8 has determinant 1, one point per step^8);
 *   - then chunks of up to E8ANS_CHUNK values, each one rANS stream (Fabian
 *     Giesen's byte-wise rANS: 32-bit state, lower bound 2^23, 15-bit
 *     frequencies); every chunk but the last starts with its byte length
 *     (u32), the last runs to the end of what the caller holds.
 * Each 8 values (after the optional Hadamard rotation of each `dim`) are
 * one E8 point p = d + c/2, d in D8 (even sum), c the coset bit, written
 * in decode order as: c (one raw bit), d_0..d_6 each with the table of its
 * coset (the discretized Gaussian: the mass of N(0,1) over the cell of
 * width r around (d + c/2) r), then d_7 with the table of its coset
 * restricted to the parity that makes the sum even (the D8 constraint
 * saves the bit the coset costs). A coordinate outside a table's range is
 * an escape symbol then d itself as 16 raw bits (d is clamped to
 * +-E8ANS_LIM steps first; codec_stats.symbols_escaped counts escapes).
 *
 * Rate is whatever the data costs: codec_stats.bytes_encoded counts every
 * byte written (scale, lengths, rANS states), and the bits/value the
 * toolkit reports for this codec are 8 x bytes_encoded / values_encoded.
 * codec_encoded_bytes(n) is the most a call can write (every coordinate
 * escaped): what a caller reserves. The decoder reads only within that
 * capacity, so any bytes decode to some finite floats without reading out
 * of bounds (the fuzzer's promise).
 *
 * Only a _ref path: rANS is serial per stream.
 */
#include "codec_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

CODEC_REF_SCALAR_FILE

#define ANS_L (1u << 23)
#define ANS_SCALE 15
#define ANS_M (1u << ANS_SCALE)
#define RAW_BITS 16
/* Values per rANS stream: a KV row is one; a long stream pays 8 bytes per
 * chunk (its length and final state), 0.016 bits/value at 4096. */
#define E8ANS_CHUNK 4096
/* |d| bound in steps, inside the 16 raw bits with room for the nearest
 * point's move of at most 1. */
#define E8ANS_LIM 32000
/* Symbols one 8-value block can take: the coset bit, then per coordinate
 * an escape and its raw value at most. */
#define SYMS_PER_BLOCK 17

typedef struct ans_table {
    int32_t lo, step, n; /* symbol i (< n - 1) is d = lo + i * step; n - 1 escapes */
    uint16_t freq[1024];
    uint32_t cum[1025];
} ans_table;

typedef struct ans_sym {
    uint32_t start, freq;
    uint32_t bits; /* scale bits of this symbol: ANS_SCALE, or the raw width */
} ans_sym;

struct codec_e8ans {
    ans_table t[2][3]; /* [coset][any, even, odd] */
    double ratio;      /* step / scale */
    float rot[E8ANS_CHUNK];
    ans_sym syms[E8ANS_CHUNK / 8 * SYMS_PER_BLOCK];
    uint8_t buf[E8ANS_CHUNK * 4 + 64];
};

static double phi_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* The table of coordinate d's of coset c (value (d + c/2) r in units of
 * the scale), over d of parity par (-1: any): the discretized Gaussian,
 * kept where a symbol gets at least one count of ANS_M; the rest of the
 * mass is the escape's. */
static void table_build(ans_table *t, int coset, int par, double r)
{
    const int step = par < 0 ? 1 : 2;
    const int kmax = (int)ceil(12.0 / r) + 2;
    double total = 0.0;
    for (int d = -kmax; d <= kmax; d++) {
        if (par >= 0 && (d & 1) != par)
            continue;
        const double v = d + 0.5 * coset;
        total += phi_cdf((v + 0.5) * r) - phi_cdf((v - 0.5) * r);
    }
    int lo = kmax, hi = -kmax;
    for (int d = -kmax; d <= kmax; d++) {
        if (par >= 0 && (d & 1) != par)
            continue;
        const double v = d + 0.5 * coset;
        const double p = (phi_cdf((v + 0.5) * r) - phi_cdf((v - 0.5) * r)) / total;
        if (p * ANS_M >= 1.0) {
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
    }
    if (lo > hi) /* cannot happen for r <= 1.1, kept for safety */
        lo = hi = par < 0 ? 0 : par;
    int n = (hi - lo) / step + 1;
    if (n > 1023) /* r >= sqrt(2 pi e) 2^-7 keeps n near 500; bound the table */
        n = 1023;
    t->lo = lo;
    t->step = step;
    t->n = n + 1;
    double kept = 0.0;
    int64_t sum = 0, big = 0;
    int arg = 0;
    for (int i = 0; i < n; i++) {
        const double v = lo + i * step + 0.5 * coset;
        const double p = (phi_cdf((v + 0.5) * r) - phi_cdf((v - 0.5) * r)) / total;
        kept += p;
        long f = lround(p * ANS_M);
        t->freq[i] = (uint16_t)(f < 1 ? 1 : f);
    }
    const long fe = lround((1.0 - kept) * ANS_M);
    t->freq[n] = (uint16_t)(fe < 1 ? 1 : fe);
    for (int i = 0; i <= n; i++) {
        sum += t->freq[i];
        if (t->freq[i] > big) {
            big = t->freq[i];
            arg = i;
        }
    }
    t->freq[arg] = (uint16_t)(t->freq[arg] + ((int64_t)ANS_M - sum)); /* total exactly ANS_M */
    t->cum[0] = 0;
    for (int i = 0; i <= n; i++)
        t->cum[i + 1] = t->cum[i] + t->freq[i];
}

size_t codec_e8ans_capacity(const codec *c, size_t n)
{
    const size_t chunks = (n + E8ANS_CHUNK - 1) / E8ANS_CHUNK;
    (void)c;
    /* per 8 values at most 1 + 8 x (15 + 16) = 249 bits of information;
     * rANS writes at most that plus its 4-byte state per chunk */
    return 4 + chunks * 8 + n / 8 * 32 + 16;
}

/* ---- encoder -------------------------------------------------------------- */

static ans_sym *put_coord(const ans_table *t, int32_t d, ans_sym *s, uint64_t *esc)
{
    const int32_t off = d - t->lo;
    if (off >= 0 && off % t->step == 0 && off / t->step < t->n - 1) {
        const int i = off / t->step;
        *s++ = (ans_sym){t->cum[i], t->freq[i], ANS_SCALE};
        return s;
    }
    (*esc)++;
    *s++ = (ans_sym){t->cum[t->n - 1], t->freq[t->n - 1], ANS_SCALE};
    *s++ = (ans_sym){(uint32_t)(d + 32768), 1, RAW_BITS};
    return s;
}

/* rANS over syms (in decode order) into out; @return the bytes written. */
static size_t ans_encode(const ans_sym *syms, size_t ns, uint8_t *buf, size_t cap, uint8_t *out)
{
    uint8_t *end = buf + cap, *p = end;
    uint32_t x = ANS_L;
    for (size_t i = ns; i-- > 0;) {
        const ans_sym *s = &syms[i];
        const uint32_t xmax = ((ANS_L >> s->bits) << 8) * s->freq;
        while (x >= xmax && p > buf) {
            *--p = (uint8_t)(x & 0xff);
            x >>= 8;
        }
        x = ((x / s->freq) << s->bits) + (x % s->freq) + s->start;
    }
    for (int k = 3; k >= 0 && p > buf; k--)
        *--p = (uint8_t)(x >> (8 * k)); /* the state, little-endian, read first */
    const size_t len = (size_t)(end - p);
    memcpy(out, p, len);
    return len;
}

static void quantize_block(const float *x, float inv, int32_t *d, int *coset)
{
    float y[8], pt[8];
    for (int i = 0; i < 8; i++) {
        float v = x[i] * inv;
        if (!(fabsf(v) <= (float)E8ANS_LIM)) /* also NaN */
            v = v > 0.0f ? (float)E8ANS_LIM : v < 0.0f ? -(float)E8ANS_LIM : 0.0f;
        y[i] = v;
    }
    codec_nearest_e8(y, pt);
    *coset = pt[0] != floorf(pt[0]);
    for (int i = 0; i < 8; i++)
        d[i] = (int32_t)floorf(pt[i]); /* p - 1/2 in the half-integer coset */
}

size_t codec_e8ans_encode(codec *c, const float *x, size_t n, uint8_t *out)
{
    struct codec_e8ans *a = c->ans;
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    const float scale = n ? (float)sqrt(ss / (double)n) : 0.0f;
    memcpy(out, &scale, 4); /* little-endian hosts only (x86-64) */
    size_t w = 4;
    const float stepv = (float)(scale * a->ratio);
    const float inv = stepv > 0.0f && isfinite(stepv) ? 1.0f / stepv : 0.0f;
    const int dim = c->signs ? c->spec.dim : 0;
    for (size_t o = 0; o < n; o += E8ANS_CHUNK) {
        const size_t m = n - o < E8ANS_CHUNK ? n - o : E8ANS_CHUNK;
        memcpy(a->rot, x + o, m * sizeof(float));
        if (dim)
            for (size_t u = 0; u < m; u += (size_t)dim)
                codec_rotate_forward(c, a->rot + u);
        ans_sym *s = a->syms;
        for (size_t b = 0; b < m; b += 8) {
            int32_t d[8];
            int coset;
            quantize_block(a->rot + b, inv, d, &coset);
            *s++ = (ans_sym){(uint32_t)coset, 1, 1};
            int32_t sum = 0;
            for (int i = 0; i < 7; i++) {
                s = put_coord(&a->t[coset][0], d[i], s, &c->stats.symbols_escaped);
                sum += d[i];
            }
            s = put_coord(&a->t[coset][1 + (sum & 1)], d[7], s, &c->stats.symbols_escaped);
        }
        const int last = o + m == n;
        uint8_t *dst = out + w + (last ? 0 : 4);
        const size_t len = ans_encode(a->syms, (size_t)(s - a->syms), a->buf, sizeof a->buf, dst);
        if (!last) {
            const uint32_t l32 = (uint32_t)len;
            memcpy(out + w, &l32, 4);
            w += 4;
        }
        w += len;
    }
    return w;
}

/* ---- decoder -------------------------------------------------------------- */

typedef struct ans_dec {
    uint32_t x;
    const uint8_t *p, *end;
} ans_dec;

static uint32_t next_byte(ans_dec *r) { return r->p < r->end ? *r->p++ : 0u; }

static void renorm(ans_dec *r)
{
    /* at most 4 bytes: a well-formed stream needs at most 2, and a
     * malformed one must not spin on a zero state */
    for (int k = 0; k < 4 && r->x < ANS_L; k++)
        r->x = (r->x << 8) | next_byte(r);
}

static uint32_t get_raw(ans_dec *r, int bits)
{
    const uint32_t v = r->x & ((1u << bits) - 1);
    r->x >>= bits;
    renorm(r);
    return v;
}

static int32_t get_coord(ans_dec *r, const ans_table *t)
{
    const uint32_t s = r->x & (ANS_M - 1);
    int lo = 0, hi = t->n - 1; /* the symbol i with cum[i] <= s < cum[i + 1] */
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (t->cum[mid] <= s)
            lo = mid;
        else
            hi = mid - 1;
    }
    r->x = t->freq[lo] * (r->x >> ANS_SCALE) + s - t->cum[lo];
    renorm(r);
    if (lo == t->n - 1)
        return (int32_t)get_raw(r, RAW_BITS) - 32768;
    return t->lo + lo * t->step;
}

void codec_e8ans_decode(const codec *c, const uint8_t *in, size_t cap, size_t n, float *y)
{
    const struct codec_e8ans *a = c->ans;
    const uint8_t *end = in + cap;
    float scale = 0.0f;
    if (cap >= 4)
        memcpy(&scale, in, 4);
    const float stepv = isfinite(scale) ? (float)(scale * a->ratio) : 0.0f;
    const uint8_t *p = in + (cap >= 4 ? 4 : cap);
    for (size_t o = 0; o < n; o += E8ANS_CHUNK) {
        const size_t m = n - o < E8ANS_CHUNK ? n - o : E8ANS_CHUNK;
        ans_dec r = {0, p, end};
        if (o + m < n) { /* a length, then this chunk's bytes */
            uint32_t len = 0;
            for (int k = 0; k < 4; k++)
                len |= next_byte(&r) << (8 * k);
            r.end = (size_t)(end - r.p) < len ? end : r.p + len;
            p = r.end;
        }
        for (int k = 0; k < 4; k++)
            r.x |= next_byte(&r) << (8 * k);
        for (size_t b = 0; b < m; b += 8) {
            const int coset = (int)get_raw(&r, 1);
            int32_t d[8], sum = 0;
            for (int i = 0; i < 7; i++) {
                d[i] = get_coord(&r, &a->t[coset][0]);
                sum += d[i];
            }
            d[7] = get_coord(&r, &a->t[coset][1 + (sum & 1)]);
            for (int i = 0; i < 8; i++)
                y[o + b + (size_t)i] = ((float)d[i] + (coset ? 0.5f : 0.0f)) * stepv;
        }
    }
    if (c->signs)
        for (size_t o = 0; o < n; o += (size_t)c->spec.dim)
            codec_rotate_inverse(c, y + o);
}

/* ---- setup ---------------------------------------------------------------- */

kk_code codec_e8ans_setup(codec *c)
{
    c->ans = malloc(sizeof *c->ans);
    if (!c->ans)
        return KK_E_NOMEM;
    c->ans->ratio = sqrt(2.0 * M_PI * M_E) * ldexp(1.0, -c->spec.bits);
    for (int k = 0; k < 2; k++)
        for (int par = -1; par <= 1; par++)
            table_build(&c->ans->t[k][par + 1], k, par, c->ans->ratio);
    c->variable = true;
    c->arm_values = 8;
    c->arm_bytes = 32; /* the capacity of 8 values: see codec_e8ans_capacity */
    return KK_OK;
}
