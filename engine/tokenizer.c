/*
 * tok: llama.cpp's SPM tokenizer (src/llama-vocab.cpp: llama_vocab::impl::
 * load, tokenizer_st_partition, tokenize, llm_tokenizer_spm_session,
 * token_to_piece), re-done in C so that ids agree exactly.
 *
 * Contents (encoding is in tokenizer_encode.c)
 *   1. the vocabulary: text -> id hash, attributes, byte tokens
 *   2. loading from GGUF metadata (llama.cpp's defaults and checks)
 *   3. decoding (token_to_piece with special = false)
 *
 * docs/tokenizer.md lists where we differ from llama.cpp, and why.
 */
#include "tokenizer_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================== */
/* 1. The vocabulary                                                      */
/* ===================================================================== */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* llama.cpp's text_to_token: the id whose text is exactly s, or -1. */
int32_t tok_find_text(const tok *t, const char *s, size_t n)
{
    if (n == 0 || n > t->max_len)
        return -1;
    for (size_t i = hash_bytes(s, n) & t->ht_mask;; i = (i + 1) & t->ht_mask) {
        int32_t id = t->ht[i];
        if (id < 0)
            return -1;
        size_t m;
        const char *p = tok_str(t, id, &m);
        if (m == n && memcmp(p, s, n) == 0)
            return id;
    }
}

/* Names llama.cpp marks control whatever their type (its EOG list and the
 * FIM/EOT/EOM auto-detection in llama_vocab::impl::load). */
static const char *const CONTROL_NAMES[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
    "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "[e~[",
    /* FIM names (llama.cpp marks them only while that FIM id is unset;
     * here always: docs/tokenizer.md) */
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>",
    "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", "<|fim_suffix|>",
    "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xe2\x96\x81<SUF>",
    "<|code_suffix|>", "<|suffix|>", "<|fim_middle|>", "<fim-middle>",
    "<fim_middle>", "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>",
    "<|middle|>", "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
    "<|file_sep|>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>",
    "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
};
/* The first N_EOG_NAMES of CONTROL_NAMES also end generation. */
#define N_EOG_NAMES 22

static int32_t find_cstr(const tok *t, const char *s)
{
    return tok_find_text(t, s, strlen(s));
}

/* llama.cpp's attribute overrides by token name, in its order. */
static void apply_name_overrides(tok *t)
{
    for (size_t i = 0; i < sizeof CONTROL_NAMES / sizeof CONTROL_NAMES[0]; i++) {
        int32_t id = find_cstr(t, CONTROL_NAMES[i]);
        if (id < 0)
            continue;
        t->attr[id] |= TOK_ATTR_CONTROL;
        if (i < N_EOG_NAMES)
            t->attr[id] |= TOK_ATTR_EOG;
    }
    /* gpt-oss: always rendered */
    static const char *const user_names[] = {"<|channel|>", "<|message|>",
                                             "<|start|>", "<|constrain|>"};
    for (size_t i = 0; i < 4; i++) {
        int32_t id = find_cstr(t, user_names[i]);
        if (id >= 0)
            t->attr[id] = TOK_ATTR_USER_DEFINED;
    }
    if (t->eos >= 0)
        t->attr[t->eos] |= TOK_ATTR_EOG;
    /* o200k_harmony / solar-open: "<|end|>" is no EOG but user-defined */
    int32_t end = find_cstr(t, "<|end|>");
    bool has_call = find_cstr(t, "<|call|>") >= 0 || find_cstr(t, "<|calls|>") >= 0;
    if (end >= 0 && has_call &&
        (find_cstr(t, "<|return|>") >= 0 || find_cstr(t, "<|flush|>") >= 0))
        t->attr[end] = TOK_ATTR_USER_DEFINED;
    /* gemma4 / paddleocr: "</s>" is a normal token next to <|tool_response> */
    int32_t s_end = find_cstr(t, "</s>");
    if (s_end >= 0 && find_cstr(t, "<|tool_response>") >= 0)
        t->attr[s_end] = TOK_ATTR_NORMAL;
}

static uint8_t attr_of_type(int32_t type)
{
    switch (type) {
    case TOK_TYPE_NORMAL: return TOK_ATTR_NORMAL;
    case TOK_TYPE_UNKNOWN: return TOK_ATTR_UNKNOWN;
    case TOK_TYPE_CONTROL: return TOK_ATTR_CONTROL;
    case TOK_TYPE_USER_DEFINED: return TOK_ATTR_USER_DEFINED;
    case TOK_TYPE_UNUSED: return TOK_ATTR_UNUSED;
    case TOK_TYPE_BYTE: return TOK_ATTR_BYTE;
    default: return TOK_ATTR_UNDEFINED; /* llama.cpp: any other value */
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xHH>" -> HH, else -1. */
static int parse_byte_text(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Special tokens for the partition: longest text first. llama.cpp uses an
 * unstable std::sort on length alone; ties go to the lower id here. */
typedef struct special_key {
    size_t len;
    int32_t id;
} special_key;
static int cmp_special(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void tok_free(tok *t)
{
    if (!t)
        return;
    free(t->pool);
    free(t->off);
    free(t->score);
    free(t->attr);
    free(t->ht);
    free(t->special);
    tok_bpe_free(t->bpe_data);
    free(t);
}

kk_code tok_init_from_vocab(tok **out, const tok_vocab *v, kk_err *err)
{
    kk_err local;
    if (!err)
        err = &local;
    kk_err_clear(err);
    char where[64] = "";
    tok *t = NULL;
    special_key *keys = NULL;
    *out = NULL;
    KK_CHECK(v && v->n >= 1 && v->text, err, KK_E_RANGE,
             "vocabulary is empty");
    t = calloc(1, sizeof *t);
    KK_CHECK(t, err, KK_E_NOMEM, "out of memory");
    int32_t n = v->n;
    t->n_vocab = n;
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    t->score = malloc((size_t)n * sizeof *t->score);
    t->attr = malloc((size_t)n);
    KK_CHECK(t->off && t->score && t->attr, err, KK_E_NOMEM, "out of memory");

    /* Texts: llama.cpp reads them as C strings (cut at a NUL) and renames
     * an empty one "[EMPTY_<id>]". */
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len = v->text_len ? v->text_len[i] : strlen(v->text[i]);
        const char *nul = memchr(v->text[i], 0, len);
        if (nul)
            len = (size_t)(nul - v->text[i]);
        if (len == 0)
            len = (size_t)snprintf(NULL, 0, "[EMPTY_%d]", (int)i);
        snprintf(where, sizeof where, "tokenizer.ggml.tokens[%d]", (int)i);
        /* tok_piece returns an int; real tokens are a few bytes long */
        KK_CHECK(len <= TOK_MAX_TEXT_LEN, err, KK_E_LIMIT,
                 "token %d is %zu bytes long (limit %d)", (int)i, len,
                 TOK_MAX_TEXT_LEN);
        KK_CHECK(total <= SIZE_MAX - len - 16, err, KK_E_LIMIT,
                 "token texts too large");
        total += len;
    }
    t->pool = malloc(total + 16); /* + room for the last snprintf's NUL */
    KK_CHECK(t->pool, err, KK_E_NOMEM, "out of memory");
    size_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len = v->text_len ? v->text_len[i] : strlen(v->text[i]);
        const char *nul = memchr(v->text[i], 0, len);
        if (nul)
            len = (size_t)(nul - v->text[i]);
        t->off[i] = pos;
        if (len == 0) {
            pos += (size_t)snprintf(t->pool + pos, total + 16 - pos,
                                    "[EMPTY_%d]", (int)i);
        } else {
            memcpy(t->pool + pos, v->text[i], len);
            pos += len;
        }
        if (pos - t->off[i] > t->max_len)
            t->max_len = pos - t->off[i];
        float s = v->scores ? v->scores[i] : 0.0f;
        snprintf(where, sizeof where, "tokenizer.ggml.scores[%d]", (int)i);
        /* NaN would make the merge order undefined (it is in llama.cpp's
         * priority queue too); infinities order fine. */
        KK_CHECK(!isnan(s), err, KK_E_RANGE, "score of token %d is NaN", (int)i);
        t->score[i] = s;
        t->attr[i] = attr_of_type(v->types ? v->types[i] : TOK_TYPE_NORMAL);
    }
    t->off[n] = pos;
    where[0] = '\0';

    /* Hash at most half full. */
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    t->ht = malloc(cap * sizeof *t->ht);
    KK_CHECK(t->ht, err, KK_E_NOMEM, "out of memory");
    memset(t->ht, 0xff, cap * sizeof *t->ht);
    t->ht_mask = cap - 1;
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *s = tok_str(t, i, &len);
        size_t h = hash_bytes(s, len) & t->ht_mask;
        for (; t->ht[h] >= 0; h = (h + 1) & t->ht_mask) {
            size_t m;
            const char *p = tok_str(t, t->ht[h], &m);
            snprintf(where, sizeof where, "tokenizer.ggml.tokens[%d]", (int)i);
            KK_CHECK(!(m == len && memcmp(p, s, len) == 0), err,
                     KK_E_DUPLICATE, "duplicate token text '%.*s': ids %d and %d",
                     (int)(len > 64 ? 64 : len), s, (int)t->ht[h], (int)i);
        }
        t->ht[h] = i;
        if (t->attr[i] & TOK_ATTR_BYTE) {
            snprintf(where, sizeof where, "tokenizer.ggml.tokens[%d]", (int)i);
            KK_CHECK(parse_byte_text(s, len) >= 0, err, KK_E_FORMAT,
                     "byte token %d is '%.*s', not <0xHH>", (int)i,
                     (int)(len > 64 ? 64 : len), s);
        }
    }

    where[0] = '\0';

    /* Special ids. */
    const int32_t ids[3] = {v->bos, v->eos, v->unk};
    static const char *const names[3] = {"tokenizer.ggml.bos_token_id",
                                         "tokenizer.ggml.eos_token_id",
                                         "tokenizer.ggml.unknown_token_id"};
    for (int k = 0; k < 3; k++) {
        snprintf(where, sizeof where, "%s", names[k]);
        KK_CHECK(ids[k] >= -1 && ids[k] < n, err, KK_E_RANGE,
                 "token id %d out of range (vocabulary of %d)", (int)ids[k],
                 (int)n);
    }
    t->bos = v->bos;
    t->eos = v->eos;
    t->unk = v->unk;
    t->add_bos = v->add_bos;
    t->add_space_prefix = v->add_space_prefix;
    snprintf(where, sizeof where, "tokenizer.ggml.add_bos_token");
    KK_CHECK(!t->add_bos || t->bos >= 0, err, KK_E_MISSING,
             "add_bos_token is true, but there is no BOS token");

    apply_name_overrides(t);

    /* Byte fallback (llama.cpp byte_to_token): "<0xHH>" (upper-case hex)
     * by text whatever its type, else the one-byte token. */
    for (int b = 0; b < 256; b++) {
        char buf[7];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        t->byte_tok[b] = tok_find_text(t, buf, 6);
        if (t->byte_tok[b] < 0) {
            char c = (char)b;
            t->byte_tok[b] = tok_find_text(t, &c, 1);
        }
    }

    size_t n_special = 0;
    for (int32_t i = 0; i < n; i++)
        if (t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN))
            n_special++;
    t->special = malloc((n_special ? n_special : 1) * sizeof *t->special);
    keys = malloc((n_special ? n_special : 1) * sizeof *keys);
    KK_CHECK(t->special && keys, err, KK_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++)
        if (t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) {
            keys[t->n_special].len = t->off[i + 1] - t->off[i];
            keys[t->n_special++].id = i;
        }
    qsort(keys, t->n_special, sizeof *keys, cmp_special);
    for (size_t i = 0; i < t->n_special; i++)
        t->special[i] = keys[i].id;
    free(keys);
    keys = NULL;

    if (v->pre) {
        t->bpe = true;
        snprintf(t->pre, sizeof t->pre, "%s", v->pre);
        /* GPT-2 texts are no <0xXX> byte pieces: no byte fallback */
        for (int b = 0; b < 256; b++)
            t->byte_tok[b] = -1;
        snprintf(where, sizeof where, "tokenizer.ggml.merges");
        if (tok_bpe_init(t, v->merges, v->merge_len, v->n_merges, v->pre, err) != KK_OK)
            goto fail;
    }

    *out = t;
    return KK_OK;
fail:
    if (err->where[0] == '\0')
        kk_err_where(err, where);
    free(keys);
    tok_free(t);
    return err->code;
}

/* ===================================================================== */
/* 2. Loading from GGUF metadata                                          */
/* ===================================================================== */

/* Locate an error at a metadata key of f. */
static kk_code gguf_fail(kk_err *err, const gguf_file *f, const char *key)
{
    kk_err_file(err, f->path);
    kk_err_where(err, key);
    int64_t k = gguf_find_key(f, key);
    if (k >= 0)
        kk_err_offset(err, (int64_t)f->kv[k].file_offset);
    return err->code;
}

/* An optional array of n_min or more fixed-size elements of one of two
 * types; NULL when absent. */
static kk_code get_num_array(const gguf_file *f, const char *key, uint64_t n_min,
                             gguf_type ta, gguf_type tb, const gguf_value **out,
                             kk_err *err)
{
    *out = NULL;
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return KK_OK;
    if (v->type != GGUF_TYPE_ARRAY ||
        (v->v.arr.elem_type != ta && v->v.arr.elem_type != tb)) {
        kk_err_set(err, KK_E_TYPE, "expected an array of %s%s%s, found %s",
                   gguf_type_name(ta), tb != ta ? " or " : "",
                   tb != ta ? gguf_type_name(tb) : "",
                   v->type == GGUF_TYPE_ARRAY ? "an array of another type"
                                              : gguf_type_name(v->type));
        return gguf_fail(err, f, key);
    }
    if (v->v.arr.n < n_min) {
        kk_err_set(err, KK_E_RANGE,
                   "%llu entries for %llu tokens (llama.cpp needs at least one "
                   "per token)",
                   (unsigned long long)v->v.arr.n, (unsigned long long)n_min);
        return gguf_fail(err, f, key);
    }
    *out = v;
    return KK_OK;
}

/* A special id as llama.cpp reads it: absent or out of range (0xFFFFFFFF
 * means none) keeps the default; a default out of range becomes none. */
/* A special id as llama.cpp reads it (llama-vocab.cpp, load): the key must
 * be UINT32 (get_key throws on another type: here a located KK_E_TYPE); an
 * id at or past n_vocab keeps the default (dflt, or none when dflt is not
 * in the vocabulary either), which llama.cpp logs and we return as a
 * warning line in warn (warn[0] stays '\0' otherwise). */
static kk_code get_special_id(const gguf_file *f, const char *key, int32_t dflt,
                              int32_t n_vocab, int32_t *out, char *warn, size_t warn_cap,
                              kk_err *err)
{
    *out = dflt >= 0 && dflt < n_vocab ? dflt : -1;
    warn[0] = '\0';
    const gguf_value *v = gguf_get(f, key);
    if (!v)
        return KK_OK;
    if (v->type != GGUF_TYPE_UINT32) {
        kk_err_set(err, KK_E_TYPE, "value is %s (uint32 expected, as llama.cpp reads it)",
                   gguf_type_name(v->type));
        return gguf_fail(err, f, key);
    }
    const uint64_t id = v->v.u;
    if (id < (uint64_t)n_vocab) {
        *out = (int32_t)id;
        return KK_OK;
    }
    if (*out >= 0)
        snprintf(warn, warn_cap, "%s = %" PRIu64 " is outside the vocabulary of %d tokens: "
                 "the default %d is kept (as llama.cpp does)", key, id, (int)n_vocab, (int)*out);
    else
        snprintf(warn, warn_cap, "%s = %" PRIu64 " is outside the vocabulary of %d tokens: "
                 "none is used (as llama.cpp does)", key, id, (int)n_vocab);
    return KK_OK;
}

static kk_code get_opt_bool(const gguf_file *f, const char *key, bool *val,
                            kk_err *err)
{
    bool b;
    kk_err e;
    kk_err_clear(&e);
    kk_code rc = gguf_get_bool(f, key, &b, &e);
    if (rc == KK_E_MISSING)
        return KK_OK;
    if (rc != KK_OK) {
        *err = e;
        return gguf_fail(err, f, key);
    }
    *val = b;
    return KK_OK;
}

kk_code tok_init_from_gguf(tok **out, const gguf_file *f, kk_err *err)
{
    kk_err local;
    if (!err)
        err = &local;
    kk_err_clear(err);
    *out = NULL;
    const char **texts = NULL;
    size_t *lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    const char **merges = NULL;
    size_t *merge_len = NULL;
    kk_code rc;

    static const char K_MODEL[] = "tokenizer.ggml.model";
    static const char K_TOKENS[] = "tokenizer.ggml.tokens";
    gguf_str model;
    rc = gguf_get_str(f, K_MODEL, &model, err);
    if (rc != KK_OK)
        return gguf_fail(err, f, K_MODEL);
    const bool bpe = model.len == 4 && memcmp(model.s, "gpt2", 4) == 0;
    if (!(model.len == 5 && memcmp(model.s, "llama", 5) == 0) && !bpe) {
        kk_err_set(err, KK_E_UNSUPPORTED,
                   "tokenizer model '%.*s' is not supported (allowed: 'llama', "
                   "SentencePiece; 'gpt2', byte-level BPE)",
                   (int)(model.len > 64 ? 64 : model.len), model.s);
        return gguf_fail(err, f, K_MODEL);
    }

    const gguf_value *tv = gguf_get(f, K_TOKENS);
    if (!tv) {
        kk_err_set(err, KK_E_MISSING, "no token list");
        return gguf_fail(err, f, K_TOKENS);
    }
    if (tv->type != GGUF_TYPE_ARRAY || tv->v.arr.elem_type != GGUF_TYPE_STRING ||
        !tv->v.arr.items) {
        kk_err_set(err, KK_E_TYPE, "expected an array of strings");
        return gguf_fail(err, f, K_TOKENS);
    }
    uint64_t n = tv->v.arr.n;
    if (n == 0 || n > (uint64_t)INT32_MAX - 1) {
        kk_err_set(err, KK_E_RANGE, "%llu tokens (allowed: 1 to %d)",
                   (unsigned long long)n, INT32_MAX - 1);
        return gguf_fail(err, f, K_TOKENS);
    }

    const gguf_value *sv, *yv;
    rc = get_num_array(f, "tokenizer.ggml.scores", n, GGUF_TYPE_FLOAT32,
                       GGUF_TYPE_INT32, &sv, err);
    if (rc != KK_OK)
        return rc;
    rc = get_num_array(f, "tokenizer.ggml.token_type", n, GGUF_TYPE_INT32,
                       GGUF_TYPE_INT32, &yv, err);
    if (rc != KK_OK)
        return rc;

    tok_vocab v = {0};
    v.n = (int32_t)n;
    texts = malloc(n * sizeof *texts);
    lens = malloc(n * sizeof *lens);
    scores = malloc(n * sizeof *scores);
    types = malloc(n * sizeof *types);
    if (!texts || !lens || !scores || !types) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory for %llu tokens",
                        (unsigned long long)n);
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) {
        const gguf_value *it = &tv->v.arr.items[i];
        if (it->type != GGUF_TYPE_STRING || it->v.str.len > SIZE_MAX / 4) {
            char where[64];
            snprintf(where, sizeof where, "%s[%llu]", K_TOKENS,
                     (unsigned long long)i);
            kk_err_set(err, KK_E_TYPE, "token %llu is not a string",
                       (unsigned long long)i);
            rc = gguf_fail(err, f, where);
            goto done;
        }
        texts[i] = it->v.str.s;
        lens[i] = (size_t)it->v.str.len;
        if (sv && sv->v.arr.elem_type == GGUF_TYPE_INT32)
            scores[i] = (float)gguf_arr_i32(sv, i);
        else
            scores[i] = sv ? gguf_arr_f32(sv, i) : 0.0f;
        types[i] = yv ? gguf_arr_i32(yv, i) : TOK_TYPE_NORMAL;
    }
    v.text = texts;
    v.text_len = lens;
    v.scores = scores;
    v.types = types;

    /* llama.cpp's defaults (llama-vocab.cpp, load): "llama": BOS 1, EOS 2,
     * UNK 0, add_bos and add_space_prefix true; "gpt2": BOS and EOS 11, no
     * UNK, no space prefix, add_bos false except for the llama3 family of
     * pre-tokenizers; tokenizer.ggml.add_bos_token overrides. */
    char pre[32] = "";
    if (bpe) {
        const gguf_value *pv = gguf_get(f, "tokenizer.ggml.pre");
        if (pv && pv->type == GGUF_TYPE_STRING)
            gguf_str_copy(pv->v.str, pre, sizeof pre);
    }
    v.add_bos = tok_default_add_bos(bpe ? "gpt2" : "llama", pre);
    v.add_space_prefix = !bpe;
    char warn[TOK_MAX_WARNINGS][TOK_WARNING_MAX];
    if ((rc = get_special_id(f, "tokenizer.ggml.bos_token_id", bpe ? 11 : 1, v.n, &v.bos,
                             warn[0], sizeof warn[0], err)) ||
        (rc = get_special_id(f, "tokenizer.ggml.eos_token_id", bpe ? 11 : 2, v.n, &v.eos,
                             warn[1], sizeof warn[1], err)) ||
        (rc = get_special_id(f, "tokenizer.ggml.unknown_token_id", bpe ? -1 : 0, v.n, &v.unk,
                             warn[2], sizeof warn[2], err)) ||
        (rc = get_opt_bool(f, "tokenizer.ggml.add_bos_token", &v.add_bos, err)) ||
        (rc = get_opt_bool(f, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix, err)))
        goto done;

    if (bpe) {
        /* llama.cpp: "cannot find tokenizer merges in model file" */
        static const char K_MERGES[] = "tokenizer.ggml.merges";
        const gguf_value *mv = gguf_get(f, K_MERGES);
        if (!mv || mv->type != GGUF_TYPE_ARRAY || mv->v.arr.elem_type != GGUF_TYPE_STRING ||
            (mv->v.arr.n > 0 && !mv->v.arr.items)) {
            kk_err_set(err, mv ? KK_E_TYPE : KK_E_MISSING,
                       mv ? "expected an array of strings" : "a 'gpt2' tokenizer needs its merges");
            rc = gguf_fail(err, f, K_MERGES);
            goto done;
        }
        const uint64_t nm = mv->v.arr.n;
        merges = malloc((nm ? nm : 1) * sizeof *merges);
        merge_len = malloc((nm ? nm : 1) * sizeof *merge_len);
        if (!merges || !merge_len) {
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory for %llu merges",
                            (unsigned long long)nm);
            goto done;
        }
        for (uint64_t i = 0; i < nm; i++) {
            merges[i] = mv->v.arr.items[i].v.str.s;
            merge_len[i] = (size_t)mv->v.arr.items[i].v.str.len;
        }
        v.pre = pre;
        v.merges = merges;
        v.merge_len = merge_len;
        v.n_merges = (size_t)nm;
    }

    rc = tok_init_from_vocab(out, &v, err);
    for (size_t k = 0; rc == KK_OK && k < TOK_MAX_WARNINGS; k++)
        if (warn[k][0])
            memcpy((*out)->warnings[(*out)->n_warnings++], warn[k], sizeof warn[k]);
    if (rc != KK_OK) {
        /* where names the key (and index) already; add file and offset */
        char where[KK_ERR_WHERE_MAX];
        memcpy(where, err->where, sizeof where);
        char key[KK_ERR_WHERE_MAX];
        memcpy(key, where, sizeof key);
        char *br = strchr(key, '[');
        if (br)
            *br = '\0';
        gguf_fail(err, f, key);
        kk_err_where(err, where);
    }
done:
    free(merges);
    free(merge_len);
    free(texts);
    free(lens);
    free(scores);
    free(types);
    return rc;
}

/* ===================================================================== */
/* 3. Decoding                                                            */
/* ===================================================================== */

/* GPT-2's bytes_to_unicode, inverted: the printable bytes 33..126,
 * 161..172 and 174..255 stand for themselves; the 68 others were given
 * the code points 256, 257, ... in byte order. @return the byte, or -1 for
 * a code point outside the map. */
static int gpt2_byte_of(uint32_t cp)
{
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp < 256 || cp >= 256 + 68)
        return -1;
    int k = (int)(cp - 256);
    for (int b = 0; b < 256; b++) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        if (!printable && k-- == 0)
            return b;
    }
    return -1;
}

/* A GPT-2 text's bytes (llama.cpp's llama_decode_text): each UTF-8 code
 * point of the map becomes its byte; anything else is kept as it is. */
static int gpt2_piece(const char *s, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        const unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t k = 1;
        if (c >= 0xC0 && c < 0xE0 && i + 1 < n) {
            cp = ((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3F);
            k = 2;
        }
        const int b = k == 2 ? gpt2_byte_of(cp) : (c < 0x80 ? gpt2_byte_of(c) : -1);
        if (b >= 0) {
            if (w < cap)
                buf[w] = (char)b;
            w++;
        } else {
            for (size_t j = 0; j < k; j++, w++)
                if (w < cap)
                    buf[w] = s[i + j];
        }
        i += k;
    }
    return (int)w;
}

int tok_piece(const tok *t, int32_t id, char *buf, size_t cap)
{
    if (!t || id < 0 || id >= t->n_vocab)
        return -1;
    uint8_t a = t->attr[id];
    size_t n;
    const char *s = tok_str(t, id, &n);
    if (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL))
        return 0;
    if (a & TOK_ATTR_USER_DEFINED) {
        if (cap > 0)
            memcpy(buf, s, n < cap ? n : cap);
        return (int)n;
    }
    if ((a & TOK_ATTR_NORMAL) && t->bpe)
        return gpt2_piece(s, n, buf, cap);
    if (a & TOK_ATTR_NORMAL) {
        size_t w = 0;
        for (size_t i = 0; i < n; w++) {
            char c;
            if (n - i >= 3 && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                c = ' ';
                i += 3;
            } else {
                c = s[i++];
            }
            if (w < cap)
                buf[w] = c;
        }
        return (int)w;
    }
    if (a & TOK_ATTR_BYTE) {
        if (cap > 0)
            buf[0] = (char)parse_byte_text(s, n);
        return 1;
    }
    return 0; /* unused, undefined: nothing, as llama.cpp */
}

kk_code tok_decode(const tok *t, const int32_t *ids, size_t n_ids, char **text,
                   size_t *len, kk_err *err)
{
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        int n = tok_piece(t, ids[i], NULL, 0);
        if (n < 0) {
            char where[48];
            snprintf(where, sizeof where, "ids[%zu]", i);
            kk_err_set(err, KK_E_RANGE, "token id %d out of range (vocabulary "
                       "of %d)", (int)ids[i], (int)tok_n_vocab(t));
            kk_err_where(err, where);
            return KK_E_RANGE;
        }
        total += (size_t)n; /* <= n_ids * max token length: no overflow */
    }
    char *out = malloc(total + 1);
    if (!out)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu bytes", total);
    size_t pos = 0;
    for (size_t i = 0; i < n_ids; i++)
        pos += (size_t)tok_piece(t, ids[i], out + pos, total - pos);
    out[pos] = '\0';
    *text = out;
    *len = pos;
    return KK_OK;
}

/* ===================================================================== */
/* Accessors                                                              */
/* ===================================================================== */

bool tok_default_add_bos(const char *model, const char *pre)
{
    /* llama-vocab.cpp: SPM add_bos = true; BPE false, but the llama3 family
     * of pre-tokenizers sets it */
    if (!strcmp(model, "llama"))
        return true;
    return !strcmp(model, "gpt2") && tok_pre_from_name(pre) == TOK_PRE_LLAMA3;
}

int32_t tok_n_vocab(const tok *t) { return t->n_vocab; }
int32_t tok_bos(const tok *t) { return t->bos; }
size_t tok_n_warnings(const tok *t) { return t->n_warnings; }
const char *tok_warning(const tok *t, size_t i) { return i < t->n_warnings ? t->warnings[i] : NULL; }
int32_t tok_eos(const tok *t) { return t->eos; }
int32_t tok_unk(const tok *t) { return t->unk; }
bool tok_add_bos(const tok *t) { return t->add_bos; }
bool tok_add_space_prefix(const tok *t) { return t->add_space_prefix; }

bool tok_is_eog(const tok *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && (t->attr[id] & TOK_ATTR_EOG);
}

const char *tok_text(const tok *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    return tok_str(t, id, len);
}

tok_type tok_get_type(const tok *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab)
        return TOK_TYPE_UNDEFINED;
    uint8_t a = t->attr[id];
    if (a & TOK_ATTR_CONTROL) return TOK_TYPE_CONTROL;
    if (a & TOK_ATTR_UNKNOWN) return TOK_TYPE_UNKNOWN;
    if (a & TOK_ATTR_USER_DEFINED) return TOK_TYPE_USER_DEFINED;
    if (a & TOK_ATTR_BYTE) return TOK_TYPE_BYTE;
    if (a & TOK_ATTR_UNUSED) return TOK_TYPE_UNUSED;
    if (a & TOK_ATTR_NORMAL) return TOK_TYPE_NORMAL;
    return TOK_TYPE_UNDEFINED;
}
