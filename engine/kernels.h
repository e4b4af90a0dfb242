/*
 * kernels: the kernel variants of the matmul fast paths, chosen per host
 * (docs/performance.md "Kernel variants").
 *
 * Two kinds of knob:
 *   - bit-identical: the GEMV's software prefetch distance per weight type
 *     and its hint (non-temporal or T0), and how many Q8_0 rows the GEMV
 *     streams at once (1 or 4: each row's sums run in the same order). They move bytes earlier or not at
 *     all; every product and sum is the same, so any choice gives the same
 *     floats (tests/engine/test_kernels.c checks it on every variant).
 *   - rounding-changing: the F16 GEMV's row kernel, four accumulators
 *     (`row4`, the default) or the tile kernel's one (`tile1`): the same
 *     products summed in another order. A rounding-changing knob keeps its
 *     default until a program sets it (`kakeya tune` on a host, or
 *     `--kernels`), so a fresh clone and CI compute the same metrics.
 *
 * Spec grammar (`--kernels`, the tune cache): "default", or
 *   field { "," field }, field = key "=" value, keys
 *   f16_gemv = row4 | tile1
 *   pf_f32, pf_f16, pf_q8 = bytes ahead, 0 (none) or 1024..65536, a
 *                           multiple of 64
 *   hint = nta | t0
 *   q8_rows = 1 | 4
 * starting from the defaults. kern_format writes every field, in this
 * order: the canonical form evidence records.
 *
 * Process-wide state, like matmul_set_isa: kern_set may be called at any
 * time but not while a product runs on another thread (the kernels read
 * the choice at each product). The engine reads no environment.
 */
#ifndef KK_KERNELS_H
#define KK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef enum kern_f16_gemv { KERN_F16_ROW4 = 0, KERN_F16_TILE1 = 1 } kern_f16_gemv;
typedef enum kern_hint { KERN_HINT_NTA = 0, KERN_HINT_T0 = 1 } kern_hint;

typedef struct kern_choice {
    kern_f16_gemv f16_gemv;
    int32_t pf_f32, pf_f16, pf_q8; /* GEMV prefetch distance in bytes; 0: none */
    kern_hint hint;
    int32_t q8_rows;               /* Q8_0 GEMV rows streamed at once: 1 or 4 */
} kern_choice;

/* The defaults (the values tuned on the first host: row4, 12288, 8192,
 * 16384, nta, 1). */
void kern_defaults(kern_choice *c);
const kern_choice *kern_current(void);
void kern_set(const kern_choice *c);
/* Whether two choices differ in a rounding-changing knob. */
int kern_rounding_differs(const kern_choice *a, const kern_choice *b);

/* Parse spec (see above) into *out. @return KK_OK, KK_E_FORMAT (not
 * key=value, unknown key), KK_E_RANGE (a value outside its set); the
 * message names the key, the value and what is allowed; where "kernels". */
kk_code kern_parse(const char *spec, kern_choice *out, kk_err *err);
/* The canonical spec; @return the length it needs (as snprintf). */
int kern_format(const kern_choice *c, char *buf, size_t cap);

#endif /* KK_KERNELS_H */
