/*
 * kv_codec: a KV cache policy (kv.h) that stores every K and V row as the
 * bytes of a codec (codec.h) and decodes on read.
 *
 * Each appended row (n_kv_heads * head_dim values, one token of one layer)
 * is encoded at once into codec_encoded_bytes(row) bytes; kv_view decodes
 * the layer's rows into F32 scratch the cache owns (valid until the next
 * call on the cache, as kv.h says). Resident bytes are the real
 * allocation: the packed codes of n_ctx tokens, positions, and one layer's
 * F32 decode scratch (kv_codec_bytes_codes gives the codes alone).
 * A rotation without `dim` rotates each head: dim = head_dim.
 * A variable-rate codec (e8ans) encodes each row as its own stream into a
 * slot of codec_encoded_bytes(row) bytes (the most a row can take): the
 * allocation, and so the resident bytes, count the slots; the bytes the
 * rows really took are the codec's stats.bytes_encoded, its rate
 * codec_bits_per_value (a packed store would hold those plus an offset
 * per row).
 * A codec whose unit spans several rows (affine axis=token, KIVI: `group`
 * tokens; its channels default to the row length) keeps the rows of the
 * unit not yet full as F32 (the residual, one unit per layer, counted in
 * resident bytes) and encodes them when it fills. With kv_config.
 * max_rollback B > 0 it also keeps the last B + group - 1 raw rows per
 * layer (counted too), so truncating into an encoded unit puts that unit's
 * first rows back into the residual as they were appended: the cache is
 * then byte for byte one that never saw the dropped rows (kv.h). A
 * rollback into an encoded unit whose rows are no longer kept is refused
 * (KK_E_RANGE, nothing changed); one to a unit boundary or inside the open
 * unit needs nothing kept. Because a query sees its own unit raw unless
 * its row closes the unit, kv_invariant_rows stops a batch-invariant call
 * before the next unit-closing row (a call may start on one).
 *
 * Lifecycle as kv.h: kv_codec_init allocates everything; append, view and
 * truncate never allocate; kv_free releases it (and the codecs).
 * Not thread-safe (the codecs count what they encode).
 *
 * Fault injection: with opts->passthrough the cache stores rows as F32 and
 * copies them back without running or counting the codecs (their stats
 * stay 0) and reports nothing: a codec switched off at run time. The
 * engine never decides this itself; the harness sets it from
 * KAKEYA_FAULT=codec-passthrough (common/kk_fault.h) for every kv_codec
 * cache it makes, so the evidence rules can be shown to catch it.
 */
#ifndef KK_KV_CODEC_H
#define KK_KV_CODEC_H

#include <stdbool.h>

#include "codec.h"
#include "kv.h"

/* How a kv_codec cache is made beyond its codecs. A zeroed struct (or NULL
 * where a pointer is taken) is the normal cache. */
typedef struct kv_codec_opts {
    bool passthrough; /* the codec-passthrough fault above: F32 rows, codecs idle */
    /* A declared negative control (the arm field `corrupt`): each row's codes
     * are perturbed on purpose after encoding, its codec units rotated by
     * one (unit u holds what unit u+1 encoded), so every decoded value is
     * a valid code's value in the wrong place. A codec path that passed
     * the values through would still recall; this one must lose. Needs
     * rows of at least two units of a row codec (not axis=token):
     * KK_E_RANGE otherwise. */
    bool corrupt;
} kv_codec_opts;

/* K rows coded with k_spec, V rows with v_spec; opts NULL: the defaults
 * (borrowed during the call only). @return KK_OK; KK_E_RANGE
 * when a row codec's unit does not divide the row or axis=token channels
 * differ from it (the message names the codec and the row length) or the
 * config is bad; KK_E_NOMEM. */
kk_code kv_codec_init(kv_cache **out, const kv_config *cfg, const codec_spec *k_spec,
                      const codec_spec *v_spec, const kv_codec_opts *opts, kk_err *err);

/* Bytes of the packed K and V codes alone (n_ctx tokens, every layer). */
size_t kv_codec_bytes_codes(const kv_cache *c);
/* The K (which = 'k') or V ('v') codec's counters; NULL when c is not a
 * kv_codec cache. */
const codec_stats *kv_codec_get_stats(const kv_cache *c, char which);

#endif /* KK_KV_CODEC_H */
