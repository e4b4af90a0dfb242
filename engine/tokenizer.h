/*
 * tok: the tokenizers of GGUF files whose `tokenizer.ggml.model` is
 * "llama" (SentencePiece, llama.cpp's LLAMA_VOCAB_TYPE_SPM) or "gpt2"
 * (byte-level BPE, LLAMA_VOCAB_TYPE_BPE: tokenizer_bpe.c, with the
 * pre-tokenizers of the gpt-2, llama-bpe and qwen2 families).
 *
 * SentencePiece:
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

#include "kk_err.h"
#include "gguf.h"

typedef struct tok tok;

kk_code tok_init_from_gguf(tok **out, const gguf_file *f, kk_err *err);
void tok_free(tok *t);

int32_t tok_n_vocab(const tok *t);

/* Warnings of tok_init_from_gguf, for the CLI to print on stderr (the
 * engine prints nothing). Today: a `tokenizer.ggml.bos_token_id`,
 * `eos_token_id` or `unknown_token_id` at or past n_vocab (0xFFFFFFFF
 * included), which keeps the default as llama.cpp does (llama-vocab.cpp:
 * "bad special token ... using default id"); the line names the key, the
 * value and the id kept. At most TOK_MAX_WARNINGS; NULL past the last. */
#define TOK_MAX_WARNINGS 3
#define TOK_WARNING_MAX 192
size_t tok_n_warnings(const tok *t);
const char *tok_warning(const tok *t, size_t i);
int32_t tok_bos(const tok *t);     /* -1 when none */
int32_t tok_eos(const tok *t);     /* -1 when none */
bool tok_add_bos(const tok *t);    /* what the GGUF says (default true) */

/* Text (UTF-8 bytes, need not be NUL-terminated) -> ids. add_bos: prepend
 * BOS (pass tok_add_bos(t) to do what the GGUF says). Invalid UTF-8 is
 * encoded through byte-fallback tokens, split as llama.cpp splits it
 * (docs/tokenizer.md). O(n log n). Errors: KK_E_MISSING (add_bos without a
 * BOS token), KK_E_UNSUPPORTED (a byte with no byte token), KK_E_LIMIT
 * (text over ~715 MB), KK_E_NOMEM. */
kk_code tok_encode(const tok *t, const char *text, size_t len, bool add_bos,
                   int32_t **ids, size_t *n_ids, kk_err *err);

/* The bytes one id decodes to, as llama.cpp's token_to_piece does for
 * output (U+2581 -> ' ', <0xXX> -> the byte; control tokens -> ""). Writes
 * up to cap bytes; @return the byte count (may exceed cap: then truncated),
 * or -1 for an id out of range. */
int tok_piece(const tok *t, int32_t id, char *buf, size_t cap);

/* ---- Additions (tokenizer.c; see docs/tokenizer.md) -------------------- */

/* GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
typedef enum tok_type {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6
} tok_type;

/* A vocabulary given directly (tests, synthetic models). Borrowed: only
 * read during tok_init_from_vocab, which copies what it keeps. */
typedef struct tok_vocab {
    int32_t n;                 /* number of tokens, >= 1 */
    const char *const *text;   /* n token texts (escaped: U+2581 for space) */
    const size_t *text_len;    /* n lengths; NULL: strlen(text[i]) */
    const float *scores;       /* n scores; NULL: all 0 */
    const int32_t *types;      /* n tok_type values; NULL: all normal */
    int32_t bos, eos, unk;     /* ids, -1 for none */
    bool add_bos;              /* BOS wanted by default (add_bos needs bos) */
    bool add_space_prefix;     /* prefix the text with one space */
    /* Byte-level BPE (tokenizer.ggml.model "gpt2") when pre is non-NULL:
     * the texts are GPT-2's byte-to-unicode form, pre names the
     * pre-tokenizer (tokenizer.ggml.pre; "" when absent: encoding is then
     * refused), merges the n_merges "left right" strings in rank order
     * (merge_len NULL: NUL-terminated). */
    const char *pre;
    const char *const *merges;
    const size_t *merge_len;
    size_t n_merges;
} tok_vocab;

kk_code tok_init_from_vocab(tok **out, const tok_vocab *v, kk_err *err);

/* tok_encode with llama.cpp's parse_special: when true, the texts of
 * control and unknown tokens in the input become those tokens (as
 * llama.cpp's examples do for prompts); user-defined tokens are matched in
 * both modes. tok_encode(...) is tok_encode_ex(..., false, ...). */
kk_code tok_encode_ex(const tok *t, const char *text, size_t len, bool add_bos,
                      bool parse_special, int32_t **ids, size_t *n_ids,
                      kk_err *err);
/* The plain path: the same result by repeated full scans for the best pair
 * (O(n^2)); for tests. */
kk_code tok_encode_ref(const tok *t, const char *text, size_t len,
                       bool add_bos, bool parse_special, int32_t **ids,
                       size_t *n_ids, kk_err *err);

/* The pieces of ids concatenated (tok_piece of each; no space stripped),
 * NUL-terminated one byte past *len; caller frees *text with free().
 * @return KK_OK, or KK_E_RANGE for an id out of range (err->where names
 * its index). */
kk_code tok_decode(const tok *t, const int32_t *ids, size_t n_ids,
                   char **text, size_t *len, kk_err *err);

/* llama.cpp's add_bos when tokenizer.ggml.add_bos_token is absent, for a
 * tokenizer model ("llama", "gpt2") and pre-tokenizer name ("" absent):
 * true for llama and for gpt2 with a pre-tokenizer of the llama3 family. */
bool tok_default_add_bos(const char *model, const char *pre);
int32_t tok_unk(const tok *t);           /* -1 when none */
bool tok_add_space_prefix(const tok *t);
/* End of generation: EOS and the tokens llama.cpp treats as EOG by name
 * ("</s>", "<|eot_id|>", "<|im_end|>", ...). False for ids out of range. */
bool tok_is_eog(const tok *t, int32_t id);
/* The raw token text (a view owned by t, not NUL-terminated) and its
 * length; NULL for an id out of range. */
const char *tok_text(const tok *t, int32_t id, size_t *len);
/* The token's type after llama.cpp's name-based overrides (a control-looking
 * name such as "</s>" becomes control); TOK_TYPE_UNDEFINED out of range. */
tok_type tok_get_type(const tok *t, int32_t id);

#endif /* KK_TOKENIZER_H */
