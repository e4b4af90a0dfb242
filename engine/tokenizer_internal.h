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

/* Byte-level BPE pre-tokenizers (llama.cpp's custom splitters). */
typedef enum tok_pre {
    TOK_PRE_NONE = 0, /* absent or not one we build: encoding is refused */
    TOK_PRE_GPT2,
    TOK_PRE_LLAMA3,
    TOK_PRE_QWEN2
} tok_pre;

typedef struct tok_bpe tok_bpe;                 /* tokenizer_bpe.c */
typedef struct tok_bpe_scratch tok_bpe_scratch; /* one encode call's */

/* A growing list of ids (tokenizer_encode.c). */
typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
kk_code tok_ids_push(tok_ids *o, int32_t id, kk_err *err);

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
     * byte-to-unicode form; decoding maps them back to bytes, encoding is
     * tokenizer_bpe.c's. */
    bool bpe;
    char pre[32];        /* tokenizer.ggml.pre ("" when absent) */
    tok_bpe *bpe_data;   /* merges and pre-tokenizer; NULL unless bpe */
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

/* ---- tokenizer_bpe.c ---------------------------------------------- */

/* The pre-tokenizer llama.cpp gives a tokenizer.ggml.pre name, if it is
 * one of ours (TOK_PRE_NONE otherwise); its short name. */
tok_pre tok_pre_from_name(const char *name);
const char *tok_pre_name(tok_pre p);
tok_pre tok_bpe_pre(const tok *t);

/* GPT-2's bytes_to_unicode: printable bytes (33..126, 161..172, 174..255)
 * stand for themselves, the 68 others get U+0100.. in byte order. */
uint32_t tok_gpt2_char_of_byte(int byte);

/* Sets t->bpe_data (freed by tok_free through tok_bpe_free, also on
 * error): the merges ("left right", llama.cpp's split at the first space
 * past the first byte; merge_len NULL: NUL-terminated) and the
 * pre-tokenizer named pre. t's vocabulary must be complete. */
kk_code tok_bpe_init(tok *t, const char *const *merges, const size_t *merge_len,
                     size_t n_merges, const char *pre, kk_err *err);
void tok_bpe_free(tok_bpe *b);

/* Scratch for fragments of up to max_len bytes. */
kk_code tok_bpe_scratch_new(tok_bpe_scratch **out, size_t max_len, kk_err *err);
void tok_bpe_scratch_free(tok_bpe_scratch *w);

/* One raw fragment's ids appended to out (ref: the plain O(m^2) merge). */
kk_code tok_bpe_fragment(const tok *t, tok_bpe_scratch *w, const char *text, size_t len,
                         bool ref, tok_ids *out, kk_err *err);

/* For tests: the words pre cuts text into, as end offsets in the text
 * re-encoded (invalid bytes become EF BF BD); *ends is the caller's. */
kk_code tok_pre_split(tok_pre pre, const char *text, size_t len, size_t **ends, size_t *n_words,
                      kk_err *err);

#endif /* KK_TOKENIZER_INTERNAL_H */
