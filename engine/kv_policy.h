/*
 * kv_policy: which cache a run uses, as a spec string (CLI --policy, the
 * preset arm field `policy`), parsed once and turned into a cache.
 *
 *   full                              every position (kv_full)
 *   sinkwin:sink=S,window=W          S attention sinks and a window of W
 *                                     positions (kv_sinkwin.h); S >= 0,
 *                                     W >= 1
 *   s5                                a hybrid model's own split
 *                                     (kv_composite.h): global layers a
 *                                     full cache, each sliding-window layer
 *                                     a ring of its window (no sinks), so
 *                                     the sliding layers' bytes stop
 *                                     growing at the window; a model
 *                                     without sliding layers is refused
 *
 * Keys may come in any order, each once; the formatted form (kv_policy_
 * format) is canonical: `sinkwin:sink=4,window=64`.
 *
 * Ownership: kv_policy is a plain value; kv_policy_make returns a cache the
 * caller frees with kv_free.
 */
#ifndef KK_KV_POLICY_H
#define KK_KV_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "kv.h"

typedef enum kv_policy_kind {
    KV_POLICY_FULL = 0,
    KV_POLICY_SINKWIN,
    KV_POLICY_S5
} kv_policy_kind;

typedef struct kv_policy {
    kv_policy_kind kind;
    int32_t n_sink; /* sinkwin */
    int32_t window; /* sinkwin: >= 1 */
} kv_policy;

/* Largest sink count and window a spec may name (far past any model's
 * context; keeps the cache's products small). */
#define KV_POLICY_MAX 1048576

/* NULL or "full": the full cache. @return KK_OK, or an error naming the
 * key or value and what is allowed (KK_E_RANGE, _DUPLICATE, _MISSING,
 * _FORMAT; out unchanged). */
kk_code kv_policy_parse(const char *spec, kv_policy *out, kk_err *err);

/* The canonical spec into buf (cap >= 64 always suffices); NULL: full. */
void kv_policy_format(const kv_policy *p, char *buf, size_t cap);

/* A cache of policy p for cfg (cfg->max_rollback: the slack of a window).
 * layer_window: (cfg->n_layers) each layer's sliding window, 0 for a global
 * layer (model_layer.sliding_window); s5 needs it, the others ignore it.
 * @return as the cache's _init; s5: KK_E_RANGE naming the policy when no
 * layer slides (or more distinct windows than a composite has parts). */
kk_code kv_policy_make(const kv_policy *p, const kv_config *cfg, const int32_t *layer_window,
                       kv_cache **out, kk_err *err);

/* s5 with the global layers' cache given (a codec cache, say): global must
 * be built for kv_policy_n_global(layer_window, cfg->n_layers) layers with
 * cfg's heads and dims (NULL: a full F32 cache). Takes global, on success
 * and on error. @return as kv_policy_make's s5. */
kk_code kv_policy_make_s5(const kv_config *cfg, const int32_t *layer_window, kv_cache *global,
                          kv_cache **out, kk_err *err);
/* Layers with no sliding window (layer_window[l] <= 0). */
int32_t kv_policy_n_global(const int32_t *layer_window, int32_t n_layers);

/* s5: the bytes its sliding layers' rings allocate
 * (kv_bytes_resident_sliding); 0 for another policy or cache. */
size_t kv_policy_bytes_sliding(const kv_policy *p, const kv_cache *c);

#endif /* KK_KV_POLICY_H */
