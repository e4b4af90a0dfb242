/*
 * tok: the SentencePiece-style tokenizer of GGUF files whose
 * `tokenizer.ggml.model` is "llama" (llama.cpp's LLAMA_VOCAB_TYPE_SPM).
 *
 * Encoding follows llama.cpp's llm_tokenizer_spm: the text gets a leading
 * space (add_space_prefix, default true), spaces become U+2581, then
 * pieces are merged greedily by score (bigram priority queue); symbols that
 * are no piece fall back to <0xXX> byte tokens. BOS is prepended when
 * add_bos is true (from `tokenizer.ggml.add_bos_token`, default true for
 * "llama").
 *
 * Ownership: tok_init_from_gguf returns a tok the caller frees with tok_free
 * (accepts NULL); it copies what it needs, so it may outlive the gguf_file.
 * tok_encode allocates *ids (caller frees with free()).
 */
#ifndef KK_TOKENIZER_H
#define KK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/kk_err.h"
#include "gguf.h"

typedef struct tok tok;

kk_code tok_init_from_gguf(tok **out, const gguf_file *f, kk_err *err);
void tok_free(tok *t);

int32_t tok_n_vocab(const tok *t);
int32_t tok_bos(const tok *t);     /* -1 when none */
int32_t tok_eos(const tok *t);     /* -1 when none */
bool tok_add_bos(const tok *t);    /* what the GGUF says (default true) */

/* Text (UTF-8 bytes, need not be NUL-terminated) -> ids. add_bos: prepend
 * BOS. Invalid UTF-8 is encoded byte by byte through byte-fallback tokens. */
kk_code tok_encode(const tok *t, const char *text, size_t len, bool add_bos,
                   int32_t **ids, size_t *n_ids, kk_err *err);

/* The bytes one id decodes to, as llama.cpp's token_to_piece does for
 * output (U+2581 -> ' ', <0xXX> -> the byte; control tokens -> ""). Writes
 * up to cap bytes; @return the byte count (may exceed cap: then truncated),
 * or -1 for an id out of range. */
int tok_piece(const tok *t, int32_t id, char *buf, size_t cap);

#endif /* KK_TOKENIZER_H */
