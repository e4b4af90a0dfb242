/*
 * kv_noisy: a KV cache policy (kv.h) that stores every K and V row after
 * min-max affine round-to-nearest quantization (kv_noisy_rtn, groups of
 * KV_NOISY_GROUP values along each head's dims) in a full F32 cache: a
 * way to inject quantization noise of a chosen depth without a codec's
 * byte format. NIAH's `kv_bits` option uses it for recall-against-noise
 * curves; a codec cache (kv_codec.h) is the real thing.
 *
 * Views, positions and rollback are the inner full cache's: kv_truncate
 * forgets rows exactly as kv_full does, and since each row is quantized
 * on its own the cache after a rollback holds what a cache that never saw
 * the dropped rows would hold.
 *
 * Lifecycle as kv.h: kv_noisy_init allocates everything (the inner full
 * cache and a (cap_rows, row) scratch for K and V); append, view and
 * truncate never allocate; kv_free releases it all. Not thread-safe.
 */
#ifndef KK_KV_NOISY_H
#define KK_KV_NOISY_H

#include <stdint.h>

#include "kv.h"

#define KV_NOISY_GROUP 32

/* bits 1..16; cap_rows >= 1: the rows quantized per scratch pass (appends
 * of more rows go through in chunks). @return KK_OK, KK_E_RANGE for bad
 * bits, cap_rows or config, KK_E_NOMEM. */
kk_code kv_noisy_init(kv_cache **out, const kv_config *cfg, int32_t bits, int64_t cap_rows,
                      kk_err *err);

/* Min-max affine round-to-nearest of n values in groups of `group`, in
 * place (a constant group is exact). bits 1..16. */
void kv_noisy_rtn(float *x, int64_t n, int32_t group, int32_t bits);

#endif /* KK_KV_NOISY_H */
