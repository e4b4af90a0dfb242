/*
 * tokenizer_internal.h: what tokenizer.c (vocabulary, loading, decoding)
 * and tokenizer_encode.c (the SPM merges) share. Not for other modules.
 */
#ifndef KK_TOKENIZER_INTERNAL_H
#define KK_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* llama.cpp's llama_token_attr bits (include/llama.h); a token can carry
 * several after the name-based overrides. */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_EOG = 1 << 7 /* ours: end of generation (not a llama.cpp attr) */
};

#define TOK_MAX_TEXT_LEN (1 << 20)

struct tok {
    int32_t n_vocab;
    char *pool;          /* every token text, back to back */
    size_t *off;         /* (n_vocab + 1) offsets into pool */
    float *score;        /* (n_vocab) */
    uint8_t *attr;       /* (n_vocab) TOK_ATTR_* bits */
    int32_t *ht;         /* open-addressing hash of texts: ids, -1 empty */
    size_t ht_mask;
    size_t max_len;      /* longest token text, bytes */
    int32_t byte_tok[256]; /* id for a byte fallback, -1 when none */
    int32_t *special;    /* control/user-defined/unknown ids, longest first */
    size_t n_special;
    int32_t bos, eos, unk;
    bool add_bos, add_space_prefix;
    /* tokenizer.ggml.model "gpt2" (byte-level BPE): texts are GPT-2's
     * byte-to-unicode form; decoding maps them back to bytes. Encoding is
     * not built (issue #28): tok_encode refuses it by name. */
    bool bpe;
    char pre[32];        /* tokenizer.ggml.pre ("" when absent) */
    /* What tok_init_from_gguf kept quiet about but the CLI prints: one
     * line per special id the file gives outside the vocabulary. */
    char warnings[TOK_MAX_WARNINGS][TOK_WARNING_MAX];
    size_t n_warnings;
};

static inline const char *tok_str(const tok *t, int32_t id, size_t *n)
{
    *n = t->off[id + 1] - t->off[id];
    return t->pool + t->off[id];
}

/* llama.cpp's text_to_token: the id whose text is exactly s, or -1. */
int32_t tok_find_text(const tok *t, const char *s, size_t n);

#endif /* KK_TOKENIZER_INTERNAL_H */
