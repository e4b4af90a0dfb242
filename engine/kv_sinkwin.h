/*
 * kv_sinkwin: the bounded cache. Per layer it keeps the first n_sink rows
 * appended (attention sinks) and a ring of the window + slack most recent
 * rows, in F32; everything else is evicted as it is overwritten. Memory is
 * fixed by (n_sink, window, slack): the same at 1k and at 16k tokens.
 *
 * slack = kv_config.max_rollback, B. The ring holds window + B rows so that
 *   - one append may add up to B + 1 rows: the first query of the batch
 *     still finds its window (an append of more is refused, KK_E_LIMIT:
 *     feed the forward pass in chunks of at most B + 1 tokens);
 *   - kv_truncate may drop up to B + 1 of the newest rows and stay exact
 *     (kv.h); a deeper rollback, whose window the ring has overwritten, is
 *     refused with KK_E_RANGE and changes nothing.
 * Views are the storage in place (sinks, then ring slots; not in position
 * order) with view.window = window and view.n_sink = n_sink, so attention
 * hides the B slack rows from each query by its own window; slots a
 * rollback dropped carry position INT32_MAX. A row's slot is a function of
 * its index alone, so a rolled-back cache and one that never saw the
 * dropped rows show every visible entry in the same slot with the same
 * bytes: attention output is bit-identical.
 *
 * Positions are the caller's (kv_append's pos): sinks are the first n_sink
 * rows appended and the window is measured in positions, as the forward
 * pass's mask is.
 *
 * Ownership and lifecycle as kv.h: kv_sinkwin_init allocates everything;
 * kv_free releases it.
 */
#ifndef KK_KV_SINKWIN_H
#define KK_KV_SINKWIN_H

#include "kv.h"

/* n_sink >= 0 sink rows, window >= 1 positions; cfg->max_rollback is the
 * slack (>= 0). cfg->n_ctx bounds the positions a caller will use, not the
 * memory. @return KK_OK, KK_E_RANGE for a bad config (named), KK_E_NOMEM. */
kk_code kv_sinkwin_init(kv_cache **out, const kv_config *cfg, int32_t n_sink, int32_t window,
                        kk_err *err);

/* Rows per layer the cache allocates: n_sink + window + max_rollback. */
int64_t kv_sinkwin_rows(const kv_cache *c);

#endif /* KK_KV_SINKWIN_H */
