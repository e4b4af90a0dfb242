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
 *   ftheta    the proposer's pre-RoPE K/V of each evicted position (stored
 *             by the caller, kv_restored_put_proposer) through f_theta, K
 *             rotated at the position (the verifier's RoPE)
 *   mix       alpha * identity + (1 - alpha) * ftheta, row by row
 * Restored rows are computed once per position, for every layer, when the
 * position is first evicted (leaves the newest row's window: a view
 * restores [sinks, len - window) and nothing past it), and dropped again
 * by a rollback. f_theta's products sum a batch of rows otherwise than one
 * row, so restoring only what is evicted keeps a row's bytes independent
 * of the call that appended it; kv_invariant_rows then makes a batch-
 * invariant call carry one row once rows are evicted (a restored row is
 * what the newest query sees, where an earlier query of the same call
 * still saw the stored one), so verification evicts, and restores, as
 * decode steps do.
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

#include <stdbool.h>
#include <stdint.h>

#include "kv.h"

struct ftheta;

typedef enum kv_restore_mode {
    KV_RESTORE_NONE = 0,
    KV_RESTORE_IDENTITY,
    KV_RESTORE_FTHETA,   /* f_theta of the proposer's stored K/V */
    KV_RESTORE_MIX       /* alpha * true + (1 - alpha) * f_theta */
} kv_restore_mode;

/* What f_theta restoration needs (ftheta and mix; NULL otherwise): the
 * maps, the verifier's RoPE (K is restored pre-RoPE and rotated at its
 * original position), alpha for mix. Borrowed: the maps must outlive the
 * cache. */
typedef struct kv_restore_ftheta {
    const struct ftheta *k, *v; /* din: the proposer's layers x row; dout: the verifier's */
    int32_t n_rot;
    float rope_base;
    bool rope_neox;
    double alpha;               /* mix: in [0, 1] */
} kv_restore_ftheta;

/* A mode as the CLI and presets spell it: none | identity | ftheta | mix:A
 * with A a number in [0, 1] (alpha, 0 otherwise). @return KK_OK or
 * KK_E_RANGE naming the text and what is allowed (outs unchanged). */
kk_code kv_restore_parse(const char *text, kv_restore_mode *mode, double *alpha, kk_err *err);
/* The canonical spelling into buf (cap >= 40): mix as mix:%g. */
void kv_restore_format(kv_restore_mode mode, double alpha, char *buf, size_t cap);

kk_code kv_restored_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                         kv_restore_mode mode, const kv_restore_ftheta *ft, kk_err *err);

/* ftheta and mix: the proposer's pre-RoPE K (n, k->din) and V (n, v->din)
 * of positions [at, at + n), copied into the cache's proposer store before
 * the verifier appends those positions (the caller runs the proposer).
 * @return KK_OK, KK_E_RANGE when the rows do not continue the store or
 * pass its capacity, KK_E_USAGE for another mode. */
kk_code kv_restored_put_proposer(kv_cache *c, int64_t at, const float *k, const float *v,
                                 int64_t n, kk_err *err);

/* The restoration error of one layer as the cache stands: over the
 * positions its view restores (neither sinks nor the newest position's
 * window), the sums of (restored - true)^2 and of true^2, K and V, and how
 * many positions (0 everywhere for identity). The true rows are the ones
 * the cache keeps aside in every restoring mode (the measurement's oracle,
 * kv_restored_bytes_store). @return KK_OK, KK_E_USAGE for mode none or
 * another cache, or the errors of restoring (missing proposer rows). */
kk_code kv_restored_error(kv_cache *c, int32_t layer, double *ek, double *rk, double *ev,
                          double *rv, int64_t *n, kk_err *err);

/* Rows put back into views since the cache was made; 0 for other caches. */
uint64_t kv_restored_positions(const kv_cache *c);
/* Seconds spent applying f_theta (and rotating its K) since the cache was
 * made; 0 for another cache or mode. */
double kv_restored_ftheta_s(const kv_cache *c);
size_t kv_restored_bytes_store(const kv_cache *c);
/* The proposer's stored rows (ftheta, mix): kv_bytes_proposer's share. */
size_t kv_restored_bytes_proposer(const kv_cache *c);
size_t kv_restored_bytes_scratch(const kv_cache *c);

#endif /* KK_KV_RESTORED_H */
