/*
 * drafter: the `--drafter` setting of `kakeya spec` and of spec_decode
 * arms, parsed and opened into an engine drafter (engine/spec.h):
 *   ngram[:n=N,max=M]   prompt lookup (N tokens matched, default 2; at
 *                       most M proposed, default the block - 1)
 *   random[:seed=S]     the negative control (seeded random ids)
 *   model:FILE          a smaller GGUF model with the verifier's
 *                       vocabulary (same size and, when both files have a
 *                       tokenizer, the same token texts) and its own cache
 *   skip:K              the verifier's first K layers and its output head
 *   none                no drafter: autoregressive decoding through the
 *                       same loop (one token per verify call)
 * Errors name the flag or key the caller gives (`--drafter`, `drafter`),
 * the value found and what is allowed.
 *
 * Ownership: drafter_open fills a caller-provided drafter that owns the
 * drafter model's file, model and state; drafter_close releases them
 * (accepts a zeroed or half-opened drafter). The verifier model is
 * borrowed and must outlive the drafter.
 */
#ifndef KK_DRAFTER_H
#define KK_DRAFTER_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"
#include "kk_err.h"
#include "model.h"
#include "ops.h"
#include "spec.h"
#include "spec_model.h"
#include "tokenizer.h"

typedef enum drafter_kind {
    DRAFTER_NONE = 0,
    DRAFTER_NGRAM,
    DRAFTER_RANDOM,
    DRAFTER_MODEL,
    DRAFTER_SKIP,
} drafter_kind;

typedef struct drafter {
    drafter_kind kind;
    spec_ngram ng;
    spec_random rnd;
    int skip_k;
    char path[4096];         /* model:FILE */
    /* opened */
    gguf_file *file;         /* model:FILE */
    model *m;                /* model:FILE */
    model view;              /* skip:K */
    spec_model sm;           /* model and skip */
    bool sm_open;
    spec_drafter d;
} drafter;

/* The text's syntax into d (nothing opened). name: the flag or key for
 * messages; block: the verify block (ngram's default max = block - 1). */
kk_code drafter_parse(const char *name, const char *text, int64_t block, drafter *d,
                      kk_err *err);

/* Open what d needs against the verifier (m, its tokenizer vt or NULL):
 * random ids over m's vocabulary, the drafter model (vocabulary checked),
 * a skip view; n_ctx: tokens the drafter's cache must hold (prompt +
 * generated + one block); kv_f16: its cache in F16. After success,
 * drafter_spec(d) is what spec_generate takes (NULL for none). */
kk_code drafter_open(drafter *d, const char *name, const model *m, const tok *vt, ops_act act,
                     int64_t n_ctx, bool kv_f16, kk_err *err);
const spec_drafter *drafter_spec(const drafter *d);
/* Tokens the drafter's own forward passes processed (model and skip; 0
 * otherwise). */
int64_t drafter_tokens_run(const drafter *d);
void drafter_close(drafter *d);

/* "ngram", "random", "model", "skip" or "none". */
const char *drafter_kind_name(drafter_kind k);

#endif /* KK_DRAFTER_H */
