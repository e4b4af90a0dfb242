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
 * Or, with model_random_set_vocab_from, a real vocabulary: every
 * `tokenizer.*` key of another GGUF copied byte for byte (a vocabulary-only
 * file from bench/vocab_gguf.py: Qwen3, Llama 3), n_vocab its token count.
 *
 * Weights: all F32. Projections uniform with std 1/sqrt(fan_in); norms 1.
 * The output rows of control, byte and filler tokens are zero, so greedy
 * text is made of the named pieces (readable) and never stops at EOS by
 * chance; with a copied vocabulary, the rows of every token whose
 * token_type is not normal (1) are zero.
 *
 * Ownership: nothing is kept; the writer / buffer returned belong to the
 * caller (gguf_writer_free / free). cfg.vocab_from is borrowed: the file
 * must stay open until the build returns.
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
    const gguf_file *vocab_from; /* NULL: the synthetic vocabulary; else set
                                    by model_random_set_vocab_from (borrowed) */
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

/* Take the vocabulary of f: the build copies every key of f whose name
 * starts with "tokenizer." (in f's order, values byte for byte) and no
 * other, instead of the synthetic vocabulary, and c->n_vocab becomes the
 * length of f's tokenizer.ggml.tokens (the embedding's rows). f is borrowed.
 * @return KK_OK; KK_E_MISSING without tokenizer.ggml.tokens, KK_E_TYPE when
 * it is not an array of strings, KK_E_RANGE past MODEL_RANDOM_MAX_VOCAB
 * tokens; err names f's file and the key. */
#define MODEL_RANDOM_MAX_VOCAB 262144
kk_code model_random_set_vocab_from(model_random_cfg *c, const gguf_file *f, kk_err *err);

kk_code model_random_build(const model_random_cfg *c, gguf_writer **out, kk_err *err);
kk_code model_random_to_buffer(const model_random_cfg *c, uint8_t **buf, size_t *len,
                               kk_err *err);
kk_code model_random_write(const model_random_cfg *c, const char *path, kk_err *err);

#endif /* KK_MODEL_RANDOM_H */
