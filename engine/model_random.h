/*
 * model_random: a small random-weight llama, qwen3 or gemma3 model written with the
 * GGUF writer, from a seed alone (no file from outside). Same seed and
 * shape, same bytes: one splitmix64 stream per tensor, derived from the seed
 * and the tensor's index, so nothing depends on the platform's rand().
 *
 * The file carries a `tokenizer.ggml.model = "llama"` vocabulary so `-p
 * TEXT` works: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>
 * (token_type 6), then common pieces ("▁the", "▁a", ... with every prefix,
 * so SentencePiece merges reach them; letters; punctuation), then filler
 * pieces up to n_vocab. Scores fall with the index (earlier = merged first).
 *
 * Weights: all F32. Projections uniform with std 1/sqrt(fan_in); norms 1.
 * The output rows of control, byte and filler tokens are zero, so greedy
 * text is made of the named pieces (readable) and never stops at EOS by
 * chance.
 *
 * Ownership: nothing is kept; the writer / buffer returned belong to the
 * caller (gguf_writer_free / free).
 */
#ifndef KK_MODEL_RANDOM_H
#define KK_MODEL_RANDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "gguf.h"
#include "model.h"

typedef struct model_random_cfg {
    uint64_t seed;
    model_arch arch;
    int32_t n_layers;
    int32_t n_embd;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;      /* key and value head dim; may differ from n_embd/n_heads */
    int32_t n_ff;
    int32_t n_vocab;       /* >= MODEL_RANDOM_MIN_VOCAB */
    int32_t n_ctx;         /* context_length written */
    bool tied;             /* omit output.weight */
    int32_t sliding_window;/* gemma3: attention.sliding_window (0: key not written) */
    int32_t swa_pattern;   /* gemma3: attention.sliding_window_pattern (0: not
                              written, llama.cpp's default of 6 applies) */
} model_random_cfg;

/* 3 control tokens + 256 bytes + at least one piece. */
#define MODEL_RANDOM_MIN_VOCAB 260

/* Defaults: seed 1, llama, 2 layers, d 64, 4 heads, 2 KV heads, head dim 16,
 * FFN 128, vocab 512, context 2048, untied. */
void model_random_defaults(model_random_cfg *c);

/* Check the shape; errors name the model_random_cfg field (`n_layers`, ...)
 * at the start of the message and in err->where, never a program's flag:
 * bin/kakeya maps fields to its flags (harness/cmd_model_random.c). */
kk_code model_random_check(const model_random_cfg *c, kk_err *err);

kk_code model_random_build(const model_random_cfg *c, gguf_writer **out, kk_err *err);
kk_code model_random_to_buffer(const model_random_cfg *c, uint8_t **buf, size_t *len,
                               kk_err *err);
kk_code model_random_write(const model_random_cfg *c, const char *path, kk_err *err);

#endif /* KK_MODEL_RANDOM_H */
