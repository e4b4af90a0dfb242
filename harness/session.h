/*
 * session: a GGUF model opened for a command: the file, the model loaded
 * from it and, when the file has one, its tokenizer. Shared by generate and
 * logits (and later commands that run the engine).
 *
 * Ownership: session_open fills a caller-provided session; session_close
 * releases everything (accepts a zeroed or half-opened session).
 */
#ifndef KK_SESSION_H
#define KK_SESSION_H

#include <stdbool.h>

#include "codec.h"
#include "forward.h"
#include "kv_policy.h"
#include "gguf.h"
#include "kk_err.h"
#include "model.h"
#include "tokenizer.h"

typedef struct session {
    gguf_file *file;
    model *m;
    tok *t;          /* NULL when not asked for */
    bool kv_f16;     /* session_cache_init makes an F16 cache (--kv-cache f16) */
    /* --kv-codec SPEC [--kv-codec-v SPEC]: session_cache_init makes a codec
     * cache (kv_codec.h) of K through kc and V through vc */
    bool has_codec;
    codec_spec kc, vc;
    /* kv_config.max_rollback of session_cache_init's cache (0 after
     * session_open): `spec` sets block - 1, so a KIVI unit its rollback
     * reopens still has its raw rows (kv_codec.h) */
    int64_t kv_max_rollback;
    /* --policy SPEC (kv_policy.h) other than full: session_cache_init makes
     * the policy's cache (s5: the model's sliding layers as rings) */
    bool has_policy;
    kv_policy policy;
} session;

/* Open path, load the model; with need_tok also the tokenizer. Errors name
 * the file (exit 2 through kk_exit_code). */
kk_code session_open(session *s, const char *path, bool need_tok, kk_err *err);
void session_close(session *s);

/* Run tokens through a fresh full cache with capacity n_ctx, F32 or, with
 * s->kv_f16, F16 (kv_full_f16_init), or the codec cache of s->kc, s->vc;
 * max_rollback s->kv_max_rollback.
 * (Convenience for commands: allocates the cache and the state.) */
kk_code session_cache_init(const session *s, int64_t n_ctx, kv_cache **kv,
                           fwd_state **st, kk_err *err);

/* --act f32|ggml -> ops_act. NULL: ggml, which agrees with llama.cpp on
 * quantized weights (docs/architecture.md). Apply with model_set_act. */
kk_code session_parse_act(const char *val, ops_act *act, kk_err *err);

/* --kv-cache f32|f16 -> *f16. NULL: f32 (exact K/V); f16 halves the
 * cache and what attention reads, as llama.cpp's default cache. */
kk_code session_parse_kv(const char *val, bool *f16, kk_err *err);

/* The K/V cache flags of a command: --kv-cache f32|f16, or --kv-codec SPEC
 * [--kv-codec-v SPEC] (docs/codecs.md), into s (kv_f16, has_codec, kc,
 * vc). @return KK_OK; KK_E_USAGE (exit 3) when --kv-cache and --kv-codec
 * are both given or --kv-codec-v comes without --kv-codec; a spec's error
 * named by its flag (exit 2). */
kk_code session_parse_cache(session *s, const char *kv_cache, const char *codec,
                            const char *codec_v, kk_err *err);

/* --policy SPEC into s (has_policy, policy); NULL or "full": none. @return
 * KK_OK; KK_E_USAGE (exit 3) when --kv-cache or --kv-codec is given too
 * (the policies build F32 caches); a spec's error named --policy. */
kk_code session_parse_policy(session *s, const char *spec, kk_err *err);

/* --threads: default the cores available (kk_ncores); sets the compute threads (ops_set_threads). */
kk_code session_parse_threads(const char *val, int *threads, kk_err *err);

#endif /* KK_SESSION_H */
