/* model_random: see model_random.h. */
#include "model_random.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_rand.h"

void model_random_defaults(model_random_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->arch = MODEL_ARCH_LLAMA;
    c->n_layers = 2;
    c->n_embd = 64;
    c->n_heads = 4;
    c->n_kv_heads = 2;
    c->head_dim = 16;
    c->n_ff = 128;
    c->n_vocab = 512;
    c->n_ctx = 2048;
    c->tied = false;
}

/* A range error naming the model_random_cfg field (message and where):
 * programs map field names to their own flags or keys. */
static kk_code bad(kk_err *err, const char *field, int64_t v, int64_t lo, int64_t hi,
                   const char *why)
{
    kk_err_set(err, KK_E_RANGE, "%s: %lld is out of range (allowed: %lld..%lld%s)", field,
               (long long)v, (long long)lo, (long long)hi, why);
    return kk_err_where(err, field);
}

#define TOKENS_KEY "tokenizer.ggml.tokens"

/* The token array of a file model_random_set_vocab_from accepted. */
static const gguf_value *vocab_from_tokens(const gguf_file *f)
{
    return gguf_get(f, TOKENS_KEY);
}

kk_code model_random_set_vocab_from(model_random_cfg *c, const gguf_file *f, kk_err *err)
{
    const int64_t i = gguf_find_key(f, TOKENS_KEY);
    if (i < 0) {
        kk_err_set(err, KK_E_MISSING, "key missing: the file has no vocabulary to copy");
        kk_err_file(err, f->path);
        return kk_err_where(err, TOKENS_KEY);
    }
    const gguf_kv *kv = &f->kv[i];
    kk_code rc = KK_OK;
    if (kv->value.type != GGUF_TYPE_ARRAY || kv->value.v.arr.elem_type != GGUF_TYPE_STRING)
        rc = kk_err_set(err, KK_E_TYPE, "%s%s, not an array of strings",
                        kv->value.type == GGUF_TYPE_ARRAY ? "an array of " : "a ",
                        kv->value.type == GGUF_TYPE_ARRAY
                            ? gguf_type_name(kv->value.v.arr.elem_type)
                            : gguf_type_name(kv->value.type));
    else if (kv->value.v.arr.n < 1 || kv->value.v.arr.n > MODEL_RANDOM_MAX_VOCAB)
        rc = kk_err_set(err, KK_E_RANGE, "%llu tokens (allowed: 1..%d)",
                        (unsigned long long)kv->value.v.arr.n, MODEL_RANDOM_MAX_VOCAB);
    if (rc != KK_OK) {
        kk_err_file(err, f->path);
        kk_err_offset(err, (int64_t)kv->file_offset);
        return kk_err_where(err, TOKENS_KEY);
    }
    c->vocab_from = f;
    c->n_vocab = (int32_t)kv->value.v.arr.n;
    return KK_OK;
}

kk_code model_random_check(const model_random_cfg *c, kk_err *err)
{
    if (c->n_layers < 1 || c->n_layers > 256)
        return bad(err, "n_layers", c->n_layers, 1, 256, "");
    if (c->n_embd < 2 || c->n_embd > 16384)
        return bad(err, "n_embd", c->n_embd, 2, 16384, "");
    if (c->n_heads < 1 || c->n_heads > 256)
        return bad(err, "n_heads", c->n_heads, 1, 256, "");
    if (c->n_kv_heads < 1 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return bad(err, "n_kv_heads", c->n_kv_heads, 1, c->n_heads,
                   ", and dividing n_heads");
    if (c->head_dim < 2 || c->head_dim > 1024 || c->head_dim % 2)
        return bad(err, "head_dim", c->head_dim, 2, 1024, ", even");
    if (c->n_ff < 1 || c->n_ff > 65536)
        return bad(err, "n_ff", c->n_ff, 1, 65536, "");
    if (c->vocab_from) {
        const int64_t n = (int64_t)vocab_from_tokens(c->vocab_from)->v.arr.n;
        if (c->n_vocab != n)
            return bad(err, "n_vocab", c->n_vocab, n, n, " (the copied vocabulary's tokens)");
    } else if (c->n_vocab < MODEL_RANDOM_MIN_VOCAB || c->n_vocab > MODEL_RANDOM_MAX_VOCAB) {
        return bad(err, "n_vocab", c->n_vocab, MODEL_RANDOM_MIN_VOCAB, MODEL_RANDOM_MAX_VOCAB,
                   "");
    }
    if (c->n_ctx < 1 || c->n_ctx > (1 << 24))
        return bad(err, "n_ctx", c->n_ctx, 1, 1 << 24, "");
    if (c->sliding_window < 0 || c->sliding_window > c->n_ctx)
        return bad(err, "sliding_window", c->sliding_window, 0, c->n_ctx, "");
    if (c->swa_pattern < 0 || c->swa_pattern > c->n_layers)
        return bad(err, "swa_pattern", c->swa_pattern, 0, c->n_layers, "");
    if ((c->sliding_window || c->swa_pattern) && c->arch != MODEL_ARCH_GEMMA3)
        return bad(err, c->sliding_window ? "sliding_window" : "swa_pattern",
                   c->sliding_window ? c->sliding_window : c->swa_pattern, 0, 0,
                   " (only gemma3 has sliding layers)");
    return KK_OK;
}

/* ---- deterministic random numbers ---------------------------------------- */

/* Uniform in [-1, 1) from the top 24 bits (exact in float). */
static float unif(uint64_t *s)
{
    return (float)(kk_splitmix64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* ---- vocabulary ------------------------------------------------------------ */

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */

static const char *const WORDS[] = {
    SP "the", SP "a", SP "and", SP "was", SP "to", SP "upon", SP "time", SP "Once",
    SP "there", SP "little", SP "girl", SP "boy", SP "named", SP "she", SP "he",
    SP "it", SP "in", SP "of", SP "day", SP "happy", SP "play", SP "said", SP "with",
    SP "her", SP "his", SP "big", SP "saw", SP "went", SP "park", SP "dog", SP "cat",
    SP "sun", SP "tree", SP "friend", SP "Lily", SP "Tom", SP "they", SP "very",
    SP "wanted", SP "mom",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

typedef struct vocab {
    char **tok;
    float *score;
    int32_t *type;
    int32_t n, cap;
    int32_t first_filler;   /* index of the first filler piece */
} vocab;

static bool vocab_has(const vocab *v, int32_t from, const char *s)
{
    for (int32_t i = from; i < v->n; i++)
        if (!strcmp(v->tok[i], s))
            return true;
    return false;
}

static bool vocab_add(vocab *v, const char *s, int32_t type)
{
    if (v->n >= v->cap)
        return true; /* full: callers stop at n == cap */
    char *copy = malloc(strlen(s) + 1);
    if (!copy)
        return false;
    strcpy(copy, s);
    v->tok[v->n] = copy;
    v->type[v->n] = type;
    /* Earlier pieces merge first (SentencePiece takes the highest score). */
    v->score[v->n] = type == 1 ? -(float)v->n : 0.0f;
    v->n++;
    return true;
}

static void vocab_free(vocab *v)
{
    for (int32_t i = 0; i < v->n; i++)
        free(v->tok[i]);
    free(v->tok);
    free(v->score);
    free(v->type);
}

/* Pieces are unique: a linear check against the pieces added so far is
 * O(n^2) but only runs over the named pieces (about 200), not the fillers,
 * which are unique by construction and never collide with a named piece
 * (fillers are "▁" + 2 or 3 letters from a range no word uses: see below). */
static kk_code vocab_build(vocab *v, int32_t n_vocab, kk_err *err)
{
    memset(v, 0, sizeof *v);
    v->cap = n_vocab;
    v->tok = calloc((size_t)n_vocab, sizeof *v->tok);
    v->score = calloc((size_t)n_vocab, sizeof *v->score);
    v->type = calloc((size_t)n_vocab, sizeof *v->type);
    if (!v->tok || !v->score || !v->type)
        goto oom;
    /* llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte. */
    if (!vocab_add(v, "<unk>", 2) || !vocab_add(v, "<s>", 3) || !vocab_add(v, "</s>", 3))
        goto oom;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        if (!vocab_add(v, name, 6))
            goto oom;
    }
    const int32_t first_piece = v->n;
    if (!vocab_add(v, SP, 1))
        goto oom;
    /* Every prefix of each word, so merges starting at "▁" reach it. */
    for (size_t w = 0; w < N_WORDS; w++) {
        const size_t len = strlen(WORDS[w]);
        char pre[32];
        for (size_t k = strlen(SP) + 1; k <= len && k < sizeof pre; k++) {
            memcpy(pre, WORDS[w], k);
            pre[k] = '\0';
            if (!vocab_has(v, first_piece, pre) && !vocab_add(v, pre, 1))
                goto oom;
        }
    }
    static const char SINGLES[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'\"";
    for (const char *c = SINGLES; *c; c++) {
        const char s[2] = {*c, '\0'};
        if (!vocab_add(v, s, 1))
            goto oom;
    }
    /* Fillers: "▁" + "q"/"x"/"z"... no: "▁" + two or three letters from
     * "jkqvxz", which none of WORDS contains, so they are new pieces. */
    v->first_filler = v->n;
    static const char RARE[] = "jkqvxz";
    for (int len = 2; v->n < n_vocab && len <= 6; len++) {
        int64_t combos = 1;
        for (int i = 0; i < len; i++)
            combos *= 6;
        for (int64_t c = 0; c < combos && v->n < n_vocab; c++) {
            char s[16] = SP;
            int64_t x = c;
            for (int i = 0; i < len; i++, x /= 6)
                s[strlen(SP) + (size_t)i] = RARE[x % 6];
            if (!vocab_add(v, s, 1))
                goto oom;
        }
    }
    for (int32_t i = 0; v->n < n_vocab; i++) { /* beyond 6^2+...+6^6 pieces */
        char s[24];
        snprintf(s, sizeof s, "<extra_%d>", (int)i);
        if (!vocab_add(v, s, 1))
            goto oom;
    }
    return KK_OK;
oom:
    vocab_free(v);
    return kk_err_set(err, KK_E_NOMEM, "model random: out of memory for the vocabulary");
}

/* ---- tensors ----------------------------------------------------------------- */

typedef struct builder {
    const model_random_cfg *c;
    const uint8_t *out_zero; /* (n_vocab): 1 where output.weight's row is 0 */
    gguf_writer *w;
    uint32_t index;     /* tensor counter: each tensor's own stream */
    kk_err *err;
} builder;

/* A (rows, cols) F32 tensor (ne = {cols, rows}; rows 0: a vector of cols):
 * uniform with the given std, or `fill` when std == 0; the rows r with
 * zero[r] set are 0 (zero NULL: none). */
static kk_code add(builder *b, const char *name, int64_t rows, int64_t cols, float std,
                   float fill, const uint8_t *zero)
{
    const int64_t nr = rows ? rows : 1;
    const size_t n = (size_t)(nr * cols);
    float *data = malloc(n * sizeof(float));
    if (!data)
        return kk_err_set(b->err, KK_E_NOMEM, "model random: out of memory for '%s'", name);
    uint64_t s = b->c->seed ^ (0xa0761d6478bd642fULL * (uint64_t)(++b->index));
    const float a = std * sqrtf(3.0f); /* uniform[-a, a] has std a/sqrt(3) */
    for (size_t i = 0; i < n; i++)
        data[i] = std > 0.0f ? a * unif(&s) : fill;
    for (int64_t r = 0; zero && r < nr; r++)
        if (zero[r])
            memset(data + r * cols, 0, (size_t)cols * sizeof(float));
    const uint64_t ne[2] = {(uint64_t)cols, (uint64_t)nr};
    kk_code rc = gguf_writer_add_tensor(b->w, name, DTYPE_F32, rows ? 2 : 1, ne, data,
                                        n * sizeof(float), b->err);
    free(data);
    return rc;
}

static kk_code add_tensors(builder *b)
{
    const model_random_cfg *c = b->c;
    const int64_t d = c->n_embd, hd = c->head_dim;
    const int64_t q_dim = (int64_t)c->n_heads * hd, kv_dim = (int64_t)c->n_kv_heads * hd;
    const float sd = 1.0f / sqrtf((float)d);
    char name[96];
    /* Output rows of <unk>, <s>, </s>, the 256 byte tokens and the filler
     * pieces are 0 (b->out_zero; with a copied vocabulary, those of every
     * token that is not normal): their logit is 0 while the named pieces'
     * logits spread around 0 with std ~1, so the argmax over ~150 of them
     * is a named piece (readable text, no EOS by chance). */
    /* gemma3 scales embeddings by sqrt(d): rows of std 1/sqrt(d) keep its
     * residual at unit scale, as the real models' embeddings do */
    KK_TRY(add(b, "token_embd.weight", c->n_vocab, d,
               c->arch == MODEL_ARCH_GEMMA3 ? sd : 1.0f, 0.0f, NULL));
    KK_TRY(add(b, "output_norm.weight", 0, d, 0.0f, 1.0f, NULL));
    if (!c->tied)
        KK_TRY(add(b, "output.weight", c->n_vocab, d, 1.0f, 0.0f, b->out_zero));
    for (int32_t il = 0; il < c->n_layers; il++) {
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, (int)il), name)
        KK_TRY(add(b, NAME("attn_norm.weight"), 0, d, 0.0f, 1.0f, NULL));
        KK_TRY(add(b, NAME("attn_q.weight"), q_dim, d, sd, 0.0f, NULL));
        KK_TRY(add(b, NAME("attn_k.weight"), kv_dim, d, sd, 0.0f, NULL));
        KK_TRY(add(b, NAME("attn_v.weight"), kv_dim, d, sd, 0.0f, NULL));
        KK_TRY(add(b, NAME("attn_output.weight"), d, q_dim, 1.0f / sqrtf((float)q_dim),
                   0.0f, NULL));
        if (c->arch != MODEL_ARCH_LLAMA) {
            KK_TRY(add(b, NAME("attn_q_norm.weight"), 0, hd, 0.0f, 1.0f, NULL));
            KK_TRY(add(b, NAME("attn_k_norm.weight"), 0, hd, 0.0f, 1.0f, NULL));
        }
        if (c->arch == MODEL_ARCH_GEMMA3) {
            KK_TRY(add(b, NAME("post_attention_norm.weight"), 0, d, 0.0f, 1.0f, NULL));
            KK_TRY(add(b, NAME("post_ffw_norm.weight"), 0, d, 0.0f, 1.0f, NULL));
        }
        KK_TRY(add(b, NAME("ffn_norm.weight"), 0, d, 0.0f, 1.0f, NULL));
        KK_TRY(add(b, NAME("ffn_gate.weight"), c->n_ff, d, sd, 0.0f, NULL));
        KK_TRY(add(b, NAME("ffn_up.weight"), c->n_ff, d, sd, 0.0f, NULL));
        KK_TRY(add(b, NAME("ffn_down.weight"), d, c->n_ff, 1.0f / sqrtf((float)c->n_ff),
                   0.0f, NULL));
#undef NAME
    }
    return KK_OK;
fail:
    return b->err->code;
}

/* Every "tokenizer.*" key of f, in f's order, values as they are. */
static kk_code copy_vocab(gguf_writer *w, const gguf_file *f)
{
    static const char PREFIX[] = "tokenizer.";
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_str k = f->kv[i].key;
        if (k.len < sizeof PREFIX - 1 || memcmp(k.s, PREFIX, sizeof PREFIX - 1) != 0)
            continue;
        if (memchr(k.s, '\0', (size_t)k.len))
            return KK_E_FORMAT; /* the writer takes C strings */
        char *key = malloc((size_t)k.len + 1);
        if (!key)
            return KK_E_NOMEM;
        memcpy(key, k.s, (size_t)k.len);
        key[k.len] = '\0';
        const kk_code rc = gguf_writer_set_value(w, key, &f->kv[i].value);
        free(key);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}

/* v NULL: the vocabulary is copied from c->vocab_from. */
static kk_code set_metadata(gguf_writer *w, const model_random_cfg *c, const vocab *v)
{
    const char *arch = model_arch_name(c->arch);
    char key[96], name[64];
#define K(s) (snprintf(key, sizeof key, "%s." s, arch), key)
    int rc = KK_OK; /* OR of the codes: any failure is an allocation failure */
    snprintf(name, sizeof name, "kakeya-random-%s-seed%llu", arch, (unsigned long long)c->seed);
    rc |= gguf_writer_set_str(w, "general.architecture", arch);
    rc |= gguf_writer_set_str(w, "general.name", name);
    rc |= gguf_writer_set_u32(w, K("context_length"), (uint32_t)c->n_ctx);
    rc |= gguf_writer_set_u32(w, K("embedding_length"), (uint32_t)c->n_embd);
    rc |= gguf_writer_set_u32(w, K("feed_forward_length"), (uint32_t)c->n_ff);
    rc |= gguf_writer_set_u32(w, K("block_count"), (uint32_t)c->n_layers);
    rc |= gguf_writer_set_u32(w, K("attention.head_count"), (uint32_t)c->n_heads);
    rc |= gguf_writer_set_u32(w, K("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    rc |= gguf_writer_set_u32(w, K("attention.key_length"), (uint32_t)c->head_dim);
    rc |= gguf_writer_set_u32(w, K("attention.value_length"), (uint32_t)c->head_dim);
    rc |= gguf_writer_set_u32(w, K("rope.dimension_count"), (uint32_t)c->head_dim);
    /* The values of the real models of each family (Llama 2, Qwen3, Gemma 3;
     * gemma3's local rope base is left to llama.cpp's default, 10000). */
    const bool q = (c->arch != MODEL_ARCH_LLAMA);
    rc |= gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), q ? 1e-6f : 1e-5f);
    rc |= gguf_writer_set_f32(w, K("rope.freq_base"), q ? 1e6f : 1e4f);
    if (c->arch == MODEL_ARCH_GEMMA3 && c->sliding_window > 0)
        rc |= gguf_writer_set_u32(w, K("attention.sliding_window"), (uint32_t)c->sliding_window);
    if (c->arch == MODEL_ARCH_GEMMA3 && c->swa_pattern > 0)
        rc |= gguf_writer_set_u32(w, K("attention.sliding_window_pattern"),
                                  (uint32_t)c->swa_pattern);
#undef K
    if (!v) {
        if (rc != KK_OK)
            return KK_E_NOMEM;
        return copy_vocab(w, c->vocab_from);
    }
    rc |= gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    rc |= gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tok,
                                  (uint64_t)v->n);
    rc |= gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", v->score, (uint64_t)v->n);
    rc |= gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", v->type, (uint64_t)v->n);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    rc |= gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    return rc == KK_OK ? KK_OK : KK_E_NOMEM;
}

kk_code model_random_build(const model_random_cfg *c, gguf_writer **out, kk_err *err)
{
    kk_err local_err;
    if (!err) {
        kk_err_clear(&local_err);
        err = &local_err;
    }
    *out = NULL;
    kk_code rc = model_random_check(c, err);
    if (rc != KK_OK)
        return rc;
    /* Rows of output.weight left at 0 (see model_random.h). */
    uint8_t *out_zero = calloc((size_t)c->n_vocab, 1);
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    if (!out_zero || !w) {
        free(out_zero);
        gguf_writer_free(w);
        return kk_err_set(err, KK_E_NOMEM, "model random: out of memory");
    }
    if (c->vocab_from) {
        const gguf_value *ty = gguf_get(c->vocab_from, "tokenizer.ggml.token_type");
        if (ty && ty->type == GGUF_TYPE_ARRAY && ty->v.arr.n >= (uint64_t)c->n_vocab)
            for (int32_t r = 0; r < c->n_vocab; r++)
                out_zero[r] = gguf_arr_i32(ty, (uint64_t)r) != 1;
        rc = set_metadata(w, c, NULL);
    } else {
        vocab v;
        rc = vocab_build(&v, c->n_vocab, err);
        if (rc != KK_OK) {
            free(out_zero);
            gguf_writer_free(w);
            return rc;
        }
        /* <unk>, <s>, </s>, the 256 byte tokens, and the fillers */
        for (int32_t r = 0; r < c->n_vocab; r++)
            out_zero[r] = r < 259 || r >= v.first_filler;
        rc = set_metadata(w, c, &v);
        vocab_free(&v);
    }
    if (rc != KK_OK) {
        free(out_zero);
        gguf_writer_free(w);
        return kk_err_set(err, rc, "model random: could not set the metadata");
    }
    builder b = {c, out_zero, w, 0, err};
    rc = add_tensors(&b);
    free(out_zero);
    if (rc != KK_OK) {
        gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return KK_OK;
}

kk_code model_random_to_buffer(const model_random_cfg *c, uint8_t **buf, size_t *len,
                               kk_err *err)
{
    gguf_writer *w = NULL;
    kk_code rc = model_random_build(c, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_to_buffer(w, buf, len, err);
    gguf_writer_free(w);
    return rc;
}

kk_code model_random_write(const model_random_cfg *c, const char *path, kk_err *err)
{
    gguf_writer *w = NULL;
    kk_code rc = model_random_build(c, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}
