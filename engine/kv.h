/*
 * kv: the K/V cache seam between the forward pass and how K/V are stored.
 *
 * The forward pass sees only this interface. Per layer it
 *   1. appends the new tokens' K (post-RoPE) and V with their positions
 *      (kv_append), then
 *   2. asks for the layer's K/V as F32 rows to attend over (kv_view): n
 *      entries, each with its position, in any order. Attention masks by
 *      position (an entry is visible to a query at position p when its
 *      position is <= p, and inside the layer's sliding window), so a cache
 *      that drops entries (sink + window) or reorders them (a ring) needs no
 *      change in the forward pass. A cache with a policy of its own says so
 *      in the view (window, n_sink): attention applies that mask too.
 * A cache that stores K/V compressed (a codec) or restored from elsewhere
 * decodes into F32 rows it owns when kv_view is called; the view stays
 * valid until the next call on the same cache.
 *
 * Implementations fill a kv_vtable; kv_full (this file's kv.c) is the plain
 * full cache: every position kept in F32, capacity allocated up front;
 * kv_full_f16 the same in F16; kv_sinkwin.h the bounded sink + window
 * cache; kv_codec.h, kv_noisy.h the compressed ones.
 *
 * Lifecycle of a kv_cache:
 *   1. kv_full_init (or another implementation's _init): all memory
 *      allocated; decode never allocates.
 *   2. forward passes: kv_append then kv_view, layer by layer.
 *   3. kv_truncate(c, n): forget every token after the first n appended
 *      (speculative verification rolls back rejected drafts this way).
 *      Afterwards the cache behaves exactly as one that never saw the
 *      dropped tokens: every view entry a query can see holds the same
 *      bytes at the same position, so attention gives bit-identical output.
 *      A cache that can no longer do that (a ring that overwrote what the
 *      rollback needs, a codec unit encoded past its kept rows) refuses with
 *      KK_E_RANGE and changes nothing. Emptying (n = 0) always works.
 *      kv_config.max_rollback sizes what bounded caches keep for this.
 *   4. kv_free (accepts NULL).
 * Views are borrowed: valid until the next kv_append/kv_truncate/kv_view/
 * kv_free on the same cache.
 *
 * Shapes (outermost first): K rows (n, n_kv_heads * head_dim_k), V rows
 * (n, n_kv_heads * head_dim_v).
 */
#ifndef KK_KV_H
#define KK_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef struct kv_config {
    int32_t n_layers;
    int32_t n_kv_heads;
    int32_t head_dim_k;
    int32_t head_dim_v;
    int64_t n_ctx;       /* capacity in tokens (bounded caches: the most any
                            query may see, not an allocation) */
    /* The most tokens one kv_truncate may drop from the newest (and, for a
     * ring, the most one append may add beyond its window): bounded caches
     * keep this many rows past their window, codec caches whose units span
     * rows keep this many raw rows, so such a rollback is exact. 0: only
     * rollbacks that need nothing kept (full caches need nothing). */
    int64_t max_rollback;
} kv_config;

typedef struct kv_view {
    int64_t n;           /* entries */
    const float *k;      /* (n, k_stride); NULL when the rows are F16 (k16) */
    const float *v;      /* (n, v_stride); NULL when the rows are F16 (v16) */
    const int32_t *pos;  /* (n) position of each entry */
    int64_t k_stride;    /* elements between rows (>= n_kv_heads*head_dim_k) */
    int64_t v_stride;
    /* kv_full_f16 only: the rows as stored, F16 (then k and v are NULL).
     * Only fwd_attention and fwd_attention_ref read these; every other
     * reader of views (codecs, NIAH's K/V error) works on F32 caches. */
    const uint16_t *k16;
    const uint16_t *v16;
    /* The cache's own mask, on top of causality, the layer's sliding window
     * and the mask hook: window > 0 makes an entry visible to a query at q
     * only when its position < n_sink or q - position < window. 0: none.
     * Entries a rollback dropped carry position INT32_MAX (never visible). */
    int32_t window;
    int32_t n_sink;
    /* kv_restored only: restored[j] != 0 when entry j was put back from a
     * restoration source, not held by the cache (attention probes sum the
     * mass queries put there). NULL: every entry is the cache's own. */
    const uint8_t *restored;
} kv_view;

typedef struct kv_cache kv_cache;

typedef struct kv_vtable {
    const char *name;
    kk_code (*append)(kv_cache *c, int32_t layer, const float *k, const float *v,
                      const int32_t *pos, int64_t n, kk_err *err);
    kk_code (*view)(kv_cache *c, int32_t layer, kv_view *out, kk_err *err);
    /* check_only: say whether the rollback would be exact (KK_OK) or
     * refused, changing nothing (a composite asks every part first). */
    kk_code (*truncate)(kv_cache *c, int64_t n_tokens, bool check_only, kk_err *err);
    int64_t (*n_tokens)(const kv_cache *c);
    size_t (*bytes_resident)(const kv_cache *c);
    void (*free)(kv_cache *c);
    /* kv_invariant_rows; NULL: n (every row is stored on its own). */
    int64_t (*invariant_rows)(const kv_cache *c, int64_t n);
} kv_vtable;

/* Every implementation starts its struct with this header. */
struct kv_cache {
    const kv_vtable *vt;
    kv_config cfg;
};

/* Append n tokens' k (n, n_kv_heads*head_dim_k) and v (n, n_kv_heads*
 * head_dim_v), copied, at positions pos[0..n). @return KK_OK, or KK_E_LIMIT
 * when the cache is full, KK_E_RANGE for a bad layer. */
kk_code kv_append(kv_cache *c, int32_t layer, const float *k, const float *v,
                  const int32_t *pos, int64_t n, kk_err *err);
/* The entries of a layer as F32 rows (borrowed, see above). */
kk_code kv_view_layer(kv_cache *c, int32_t layer, kv_view *out, kk_err *err);
/* Keep the first n_tokens appended; n_tokens >= kv_n_tokens is a no-op,
 * n_tokens <= 0 empties the cache. @return KK_OK, or KK_E_RANGE (nothing
 * changed, err names the cache, the rollback and what it keeps) when the
 * cache no longer holds what the rollback needs (see above). */
kk_code kv_truncate(kv_cache *c, int64_t n_tokens, kk_err *err);
/* Whether kv_truncate(c, n_tokens) would succeed; changes nothing. */
kk_code kv_truncate_check(kv_cache *c, int64_t n_tokens, kk_err *err);
/* How many of the next n rows (n >= 1) one forward call may append and
 * still show each row's query, in the view after that append, the entries
 * a view after its own row alone would show (same bytes, same positions,
 * same places): 1..n. A cache that stores each row on its own answers n.
 * One whose stored form of a row depends on rows appended later answers
 * less: a codec whose unit spans token rows (KIVI, affine axis=token)
 * encodes a unit when its last row arrives, so a call may not carry a
 * unit's earlier rows together with its last; the restored cache in
 * ftheta or mix mode restores what lies outside the NEWEST row's window,
 * so once rows are evicted a call carries one row. The forward pass's
 * batch-invariant mode (forward.h) splits its calls so. */
int64_t kv_invariant_rows(const kv_cache *c, int64_t n);
/* Tokens appended to the last layer (all layers agree between passes). */
int64_t kv_n_tokens(const kv_cache *c);
/* Bytes the cache holds allocated (deterministic for a config). */
size_t kv_bytes_resident(const kv_cache *c);
void kv_free(kv_cache *c);

/* For implementations: n floats of row storage, 64-byte aligned so head
 * slices start on a cache line (free with free()); NULL when out of
 * memory. */
float *kv_alloc_f32(int64_t n);

/* The plain full cache: F32, every position, n_ctx tokens allocated up
 * front. @return KK_OK, KK_E_RANGE for a bad config, KK_E_NOMEM. */
kk_code kv_full_init(kv_cache **out, const kv_config *cfg, kk_err *err);
/* The kv_bytes_resident of a kv_full_init cache of cfg, without making one
 * (the full-cache equivalent of a bounded cache's bytes). */
size_t kv_full_bytes(const kv_config *cfg);

/* The full cache with K/V stored as F16 (llama.cpp's default cache type):
 * half the bytes resident and read per step; values rounded to nearest
 * even on append (dtype_f32_to_f16). Views carry k16/v16, not k/v.
 * @return as kv_full_init. */
kk_code kv_full_f16_init(kv_cache **out, const kv_config *cfg, kk_err *err);

#endif /* KK_KV_H */
