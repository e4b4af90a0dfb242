/*
 * kv_composite: a cache made of caches, one per group of layers, behind the
 * same seam (kv.h). Each layer is served by one part; a part built for k
 * layers serves the composite's layers mapped to it, in increasing order
 * (its local layer j is the j-th of them). This is how a hybrid model's
 * layers get different policies: global layers a full (F16, codec) cache,
 * sliding layers a ring of the model's window (s5: exact global layers,
 * bounded sliding ones).
 *
 * kv_truncate asks every part first (kv_truncate_check) and changes none
 * when one refuses. Resident bytes are the parts' sum; kv_composite_part
 * gives a part (its bytes, its counters).
 *
 * Ownership: kv_composite_init takes the parts (all of them, on success and
 * on error); kv_free frees them with the composite.
 */
#ifndef KK_KV_COMPOSITE_H
#define KK_KV_COMPOSITE_H

#include "kv.h"

#define KV_COMPOSITE_MAX_PARTS 8

/* parts[0..n_parts) with part_of_layer[l] in [0, n_parts) for every layer
 * of cfg; part p must have been built for exactly the number of layers
 * mapped to it, with cfg's heads and head dims, and every part must serve
 * a layer. @return KK_OK, KK_E_RANGE naming what does not fit, KK_E_NOMEM. */
kk_code kv_composite_init(kv_cache **out, const kv_config *cfg, kv_cache **parts, int32_t n_parts,
                          const int32_t *part_of_layer, kk_err *err);

/* Part p of a composite (borrowed); NULL when c is not one or p is out of
 * range. */
kv_cache *kv_composite_part(const kv_cache *c, int32_t p);
int32_t kv_composite_n_parts(const kv_cache *c);

#endif /* KK_KV_COMPOSITE_H */
