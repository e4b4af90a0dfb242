/*
 * kv_restored: a bounded cache (kv_sinkwin: sinks + a window) whose views
 * put evicted positions back from a restoration source, so attention sees
 * every position again: the sinks and window as stored, the rest restored.
 *
 * Modes:
 *   none      nothing is restored: the view is the bounded cache's (the
 *             negative control: a needle outside sinks and window is gone)
 *   identity  the verifier's own K/V of every position is kept aside as it
 *             is appended and put back for the evicted ones (the positive
 *             control: it proves the machinery, view assembly and masks,
 *             gives exactly the full cache's attention)
 * (ftheta and mix:A, restoring from a proposer's stored K/V through f_theta,
 * use the same assembly; they come with the proposer store.)
 *
 * The view is assembled in position order into scratch the cache owns:
 * for a layer holding len rows, row t < len comes from the bounded cache
 * when it is a sink or inside the newest position's window (t >= len - W),
 * and from the source otherwise (rows the ring still holds as slack are
 * restored too, so what is restored does not depend on the slack);
 * view.window = 0 (every assembled row is visible). With
 * identity, every row equals what a full cache holds, in the same order,
 * so attention and logits are bit-identical to the full cache's.
 * kv_restored_positions counts the rows put back (summed over views).
 *
 * Memory: kv_bytes_resident is the bounded cache's alone (what the
 * verifier keeps); the identity store and the view scratch are reported
 * apart (kv_restored_bytes_store, _scratch): they are the control's oracle
 * and working memory, not the cache.
 *
 * Ownership and lifecycle as kv.h; kv_truncate rolls back the bounded cache
 * (exact or refused, as kv_sinkwin) and the store with it.
 */
#ifndef KK_KV_RESTORED_H
#define KK_KV_RESTORED_H

#include <stdint.h>

#include "kv.h"

typedef enum kv_restore_mode {
    KV_RESTORE_NONE = 0,
    KV_RESTORE_IDENTITY
} kv_restore_mode;

kk_code kv_restored_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                         kv_restore_mode mode, kk_err *err);

/* Rows put back into views since the cache was made; 0 for other caches. */
uint64_t kv_restored_positions(const kv_cache *c);
size_t kv_restored_bytes_store(const kv_cache *c);
size_t kv_restored_bytes_scratch(const kv_cache *c);

#endif /* KK_KV_RESTORED_H */
