/* model: see model.h. GGUF's ne[] is innermost first: a matrix tensor with
 * ne = {cols, rows} is (rows, cols) row-major here. This file converts once;
 * everything after it speaks outermost first. */
#include "model.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Caps on file-declared sizes: far above any model this engine targets
 * (Llama-3 70B: d 8192, FFN 28672, 80 layers, vocab 128256), low enough
 * that every product below fits in int64 and in a size_t allocation. */
#define MODEL_MAX_DIM (1 << 20)
#define MODEL_MAX_LAYERS 4096
#define MODEL_MAX_HEADS 4096

const char *model_arch_name(model_arch a)
{
    switch (a) {
    case MODEL_ARCH_LLAMA: return "llama";
    case MODEL_ARCH_QWEN3: return "qwen3";
    case MODEL_ARCH_GEMMA3: return "gemma3";
    }
    return "?";
}

/* ---- metadata ---------------------------------------------------------- */

static kk_code locate(kk_err *err, const gguf_file *f, const char *where)
{
    kk_err_file(err, f->path);
    return kk_err_where(err, where);
}

/* A u32 hyperparameter `{arch}.suffix` in [lo, hi]; def < 0: required.
 * A default is range-checked too (d/heads is 0 when d < heads). */
static kk_code hp_u32(const model *m, const char *suffix, int64_t def, int64_t lo,
                      int64_t hi, int32_t *out, kk_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    int64_t v = def;
    const bool present = gguf_find_key(m->file, key) >= 0;
    if (!present && def < 0) {
        kk_err_set(err, KK_E_MISSING, "required key '%s' is missing", key);
        return locate(err, m->file, key);
    }
    if (present) {
        uint32_t u;
        if (gguf_get_u32(m->file, key, &u, err) != KK_OK)
            return locate(err, m->file, key);
        v = u;
    }
    if (v < lo || v > hi) {
        kk_err_set(err, KK_E_RANGE, "key '%s' = %lld%s is out of range (allowed: %lld..%lld)",
                   key, (long long)v, present ? "" : " (its default)", (long long)lo,
                   (long long)hi);
        return locate(err, m->file, key);
    }
    *out = (int32_t)v;
    return KK_OK;
}

static kk_code hp_f32(const model *m, const char *suffix, bool required, float def,
                      float lo, float hi, float *out, kk_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    if (gguf_find_key(m->file, key) < 0) {
        if (required) {
            kk_err_set(err, KK_E_MISSING, "required key '%s' is missing", key);
            return locate(err, m->file, key);
        }
        *out = def;
        return KK_OK;
    }
    float v;
    if (gguf_get_f32(m->file, key, &v, err) != KK_OK)
        return locate(err, m->file, key);
    if (!(v >= lo && v <= hi)) {
        kk_err_set(err, KK_E_RANGE, "key '%s' = %.15g is out of range (allowed: %.15g..%.15g)",
                   key, (double)v, (double)lo, (double)hi);
        return locate(err, m->file, key);
    }
    *out = v;
    return KK_OK;
}

/* gemma3, as llama.cpp's loader reads it (src/models/gemma3.cpp,
 * llama-hparams.cpp; docs/models.md lists each item and its source):
 * embeddings x sqrt(n_embd); a query scale of 1/sqrt(head_dim_k), or
 * 1/sqrt(n_embd / n_head) for the 62-layer (27B) model; with
 * attention.sliding_window > 0 the sliding layers come from
 * attention.sliding_window_pattern (a u32 period P, default 6: layer il
 * slides when il % P < P - 1; or an array, one flag per layer) and use
 * rope.freq_base_swa (default 10000); final_logit_softcapping
 * (default 0: none). The window flags are kept in m->swa_ until the layers
 * exist. */
static kk_code gemma3_hparams(model *m, kk_err *err)
{
    model_hparams *hp = &m->hp;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    if (hp->n_layers == 62)
        hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_heads));
    KK_TRY(hp_u32(m, "attention.sliding_window", 0, 0, INT32_MAX, &hp->n_swa, err));
    KK_TRY(hp_f32(m, "final_logit_softcapping", false, 0.0f, 0.0f, 1e6f, &hp->logit_softcap,
                  err));
    if (hp->n_swa == 0)
        return KK_OK;
    KK_TRY(hp_f32(m, "rope.freq_base_swa", false, 10000.0f, 1e-3f, 1e12f, &hp->rope_base_swa,
                  err));
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", m->arch_name);
    m->swa_ = calloc((size_t)hp->n_layers, 1);
    if (!m->swa_)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    const gguf_value *v = gguf_get(m->file, key);
    if (v && v->type == GGUF_TYPE_ARRAY) {
        if (v->v.arr.n != (uint64_t)hp->n_layers ||
            (v->v.arr.elem_type != GGUF_TYPE_BOOL && v->v.arr.elem_type != GGUF_TYPE_UINT8 &&
             v->v.arr.elem_type != GGUF_TYPE_INT8)) {
            kk_err_set(err, KK_E_FORMAT, "key '%s' is an array of %llu %s (allowed: one bool "
                       "per layer, %d)", key, (unsigned long long)v->v.arr.n,
                       gguf_type_name(v->v.arr.elem_type), (int)hp->n_layers);
            return locate(err, m->file, key);
        }
        const uint8_t *b = v->v.arr.raw;
        for (int32_t il = 0; il < hp->n_layers; il++)
            m->swa_[il] = b[il] != 0;
        return KK_OK;
    }
    int32_t period = 6;
    KK_TRY(hp_u32(m, "attention.sliding_window_pattern", 6, 0, MODEL_MAX_LAYERS, &period, err));
    for (int32_t il = 0; il < hp->n_layers; il++)
        m->swa_[il] = period == 0 || il % period < period - 1;
    return KK_OK;
fail:
    return err->code;
}

static kk_code load_hparams(model *m, kk_err *err)
{
    const gguf_file *f = m->file;
    model_hparams *hp = &m->hp;
    gguf_str arch;
    if (gguf_get_str(f, "general.architecture", &arch, err) != KK_OK)
        return locate(err, f, "general.architecture");
    char name[64];
    gguf_str_copy(arch, name, sizeof name);
    if (arch.len == 5 && !memcmp(arch.s, "llama", 5)) {
        hp->arch = MODEL_ARCH_LLAMA;
    } else if (arch.len == 5 && !memcmp(arch.s, "qwen3", 5)) {
        hp->arch = MODEL_ARCH_QWEN3;
    } else if (arch.len == 6 && !memcmp(arch.s, "gemma3", 6)) {
        hp->arch = MODEL_ARCH_GEMMA3;
    } else {
        kk_err_set(err, KK_E_UNSUPPORTED,
                   "architecture '%s' is not supported (allowed: llama, qwen3, gemma3)", name);
        return locate(err, f, "general.architecture");
    }
    snprintf(m->arch_name, sizeof m->arch_name, "%s", model_arch_name(hp->arch));
    hp->rope_neox = hp->qk_norm = (hp->arch != MODEL_ARCH_LLAMA);
    hp->gemma = hp->arch == MODEL_ARCH_GEMMA3;

    KK_TRY(hp_u32(m, "block_count", -1, 1, MODEL_MAX_LAYERS, &hp->n_layers, err));
    KK_TRY(hp_u32(m, "embedding_length", -1, 1, MODEL_MAX_DIM, &hp->n_embd, err));
    KK_TRY(hp_u32(m, "attention.head_count", -1, 1, MODEL_MAX_HEADS, &hp->n_heads, err));
    KK_TRY(hp_u32(m, "attention.head_count_kv", hp->n_heads, 1, hp->n_heads,
                  &hp->n_kv_heads, err));
    KK_TRY(hp_u32(m, "feed_forward_length", -1, 1, MODEL_MAX_DIM, &hp->n_ff, err));
    KK_TRY(hp_u32(m, "context_length", -1, 1, INT32_MAX, &hp->n_ctx_train, err));
    if (hp->n_heads % hp->n_kv_heads != 0) {
        kk_err_set(err, KK_E_RANGE, "%d heads are not a multiple of %d KV heads",
                   (int)hp->n_heads, (int)hp->n_kv_heads);
        return locate(err, f, "attention.head_count_kv");
    }
    /* llama.cpp: n_embd_head_k = key_length, default n_embd / n_head. */
    const int64_t def_hd = hp->n_embd / hp->n_heads;
    KK_TRY(hp_u32(m, "attention.key_length", def_hd, 1, MODEL_MAX_DIM / hp->n_heads,
                  &hp->head_dim_k, err));
    KK_TRY(hp_u32(m, "attention.value_length", def_hd, 1, MODEL_MAX_DIM / hp->n_heads,
                  &hp->head_dim_v, err));
    KK_TRY(hp_u32(m, "rope.dimension_count", hp->head_dim_k, 0, hp->head_dim_k,
                  &hp->n_rot, err));
    if (hp->n_rot % 2 != 0) {
        kk_err_set(err, KK_E_RANGE, "rope.dimension_count %d is odd", (int)hp->n_rot);
        return locate(err, f, "rope.dimension_count");
    }
    KK_TRY(hp_f32(m, "attention.layer_norm_rms_epsilon", true, 0.0f, 0.0f, 1.0f,
                  &hp->rms_eps, err));
    KK_TRY(hp_f32(m, "rope.freq_base", false, 10000.0f, 1e-3f, 1e12f, &hp->rope_base, err));
    hp->embd_scale = 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->rope_base_swa = hp->rope_base;
    hp->logit_softcap = 0.0f;
    hp->n_swa = 0;
    if (hp->gemma)
        KK_TRY(gemma3_hparams(m, err));
    return KK_OK;
fail:
    return err->code;
}

/* ---- tensors ----------------------------------------------------------- */

static kk_code own(model *m, void *p, kk_err *err)
{
    void **grown = realloc(m->owned_, (m->n_owned_ + 1) * sizeof *grown);
    if (!grown) {
        free(p);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    m->owned_ = grown;
    m->owned_[m->n_owned_++] = p;
    return KK_OK;
}

/* The tensor `name` as F32 with shape (rows, cols) (rows 0: a vector):
 * the map itself for aligned F32 data, NULL for F16/Q8_0 when keep_raw
 * (matrices: the kernels read them as stored), else a dequantized copy. */
static kk_code tensor_f32(model *m, const char *name, int64_t rows, int64_t cols,
                          bool keep_raw, const gguf_tensor **t_out, const float **out,
                          kk_err *err)
{
    const gguf_tensor *t = gguf_get_tensor(m->file, name);
    if (!t) {
        kk_err_set(err, KK_E_MISSING, "tensor '%s' is missing", name);
        return locate(err, m->file, name);
    }
    /* Compare all four ne (unused ones are 1): ggml writes n_dims without
     * trailing 1s, so a (1, cols) matrix may come as 1-D. */
    const bool vec = (rows == 0);
    const uint64_t want[GGUF_MAX_DIMS] = {(uint64_t)cols, vec ? 1 : (uint64_t)rows, 1, 1};
    bool shape_ok = true;
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        shape_ok = shape_ok && t->ne[d] == want[d];
    if (vec)
        rows = 1;
    if (!shape_ok) {
        char got[96];
        int k = snprintf(got, sizeof got, "[");
        for (uint32_t d = 0; d < t->n_dims && d < GGUF_MAX_DIMS; d++)
            k += snprintf(got + k, sizeof got - (size_t)k, "%s%llu", d ? ", " : "",
                          (unsigned long long)t->ne[d]);
        snprintf(got + k, sizeof got - (size_t)k, "]");
        if (vec)
            kk_err_set(err, KK_E_FORMAT, "tensor '%s' has ne %s, expected [%lld]", name,
                       got, (long long)cols);
        else
            kk_err_set(err, KK_E_FORMAT, "tensor '%s' has ne %s, expected [%lld, %lld]",
                       name, got, (long long)cols, (long long)rows);
        return locate(err, m->file, name);
    }
    if (t_out)
        *t_out = t;
    if (keep_raw && (t->type == DTYPE_F16 || t->type == DTYPE_Q8_0)) {
        /* Read in place by the matmul kernels: only check the size. */
        const size_t rb = dtype_row_size(t->type, (uint64_t)cols);
        if (rb == 0 || (uint64_t)rb * (uint64_t)rows > t->n_bytes) {
            kk_err_set(err, KK_E_FORMAT,
                       "tensor '%s': rows of %lld %s values do not fit its %llu bytes", name,
                       (long long)cols, dtype_name(t->type), (unsigned long long)t->n_bytes);
            return locate(err, m->file, name);
        }
        *out = NULL;
        return KK_OK;
    }
    if (t->type == DTYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = (const float *)t->data;
        return KK_OK;
    }
    if (t->type != DTYPE_F32 && t->type != DTYPE_F16 && t->type != DTYPE_BF16 &&
        t->type != DTYPE_Q8_0) {
        kk_err_set(err, KK_E_UNSUPPORTED,
                   "tensor '%s' has type %s (allowed: f32, f16, bf16, q8_0)", name,
                   dtype_name(t->type));
        return locate(err, m->file, name);
    }
    const size_t row_bytes = dtype_row_size(t->type, (uint64_t)cols);
    if (row_bytes == 0 || (uint64_t)row_bytes * (uint64_t)rows > t->n_bytes) {
        kk_err_set(err, KK_E_FORMAT,
                   "tensor '%s': rows of %lld %s values do not fit its %llu bytes", name,
                   (long long)cols, dtype_name(t->type), (unsigned long long)t->n_bytes);
        return locate(err, m->file, name);
    }
    float *dst = malloc((size_t)(rows * cols) * sizeof(float));
    if (!dst)
        return kk_err_set(err, KK_E_NOMEM, "out of memory dequantizing '%s'", name);
    for (int64_t r = 0; r < rows; r++) {
        if (t->type == DTYPE_F32)
            memcpy(dst + r * cols, t->data + (size_t)r * row_bytes, row_bytes);
        else
            dtype_to_f32_row(t->type, t->data + (size_t)r * row_bytes, dst + r * cols,
                             (size_t)cols);
    }
    m->bytes_dequantized += (size_t)(rows * cols) * sizeof(float);
    if (own(m, dst, err) != KK_OK)
        return err->code;
    *out = dst;
    return KK_OK;
}

static kk_code load_matrix(model *m, const char *name, int64_t rows, int64_t cols,
                           ops_weight *w, kk_err *err)
{
    const gguf_tensor *t = NULL;
    const float *f32 = NULL;
    kk_code rc = tensor_f32(m, name, rows, cols, true, &t, &f32, err);
    if (rc != KK_OK)
        return rc;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->raw = t->data;
    w->f32 = f32;
    return KK_OK;
}

static kk_code load_vector(model *m, const char *name, int64_t n, const float **out,
                           kk_err *err)
{
    return tensor_f32(m, name, 0, n, false, NULL, out, err);
}

static kk_code load_layer(model *m, int32_t il, kk_err *err)
{
    const model_hparams *hp = &m->hp;
    model_layer *L = &m->layers[il];
    const int64_t d = hp->n_embd;
    const int64_t q_dim = (int64_t)hp->n_heads * hp->head_dim_k;
    const int64_t k_dim = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t v_dim = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const int64_t o_dim = (int64_t)hp->n_heads * hp->head_dim_v;
    char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, (int)il), name)
    KK_TRY(load_vector(m, NAME("attn_norm.weight"), d, &L->attn_norm, err));
    KK_TRY(load_matrix(m, NAME("attn_q.weight"), q_dim, d, &L->wq, err));
    KK_TRY(load_matrix(m, NAME("attn_k.weight"), k_dim, d, &L->wk, err));
    KK_TRY(load_matrix(m, NAME("attn_v.weight"), v_dim, d, &L->wv, err));
    KK_TRY(load_matrix(m, NAME("attn_output.weight"), d, o_dim, &L->wo, err));
    if (hp->qk_norm) {
        KK_TRY(load_vector(m, NAME("attn_q_norm.weight"), hp->head_dim_k, &L->q_norm, err));
        KK_TRY(load_vector(m, NAME("attn_k_norm.weight"), hp->head_dim_k, &L->k_norm, err));
    }
    KK_TRY(load_vector(m, NAME("ffn_norm.weight"), d, &L->ffn_norm, err));
    if (hp->gemma) {
        KK_TRY(load_vector(m, NAME("post_attention_norm.weight"), d, &L->attn_post_norm, err));
        KK_TRY(load_vector(m, NAME("post_ffw_norm.weight"), d, &L->ffn_post_norm, err));
    }
    KK_TRY(load_matrix(m, NAME("ffn_gate.weight"), hp->n_ff, d, &L->ffn_gate, err));
    KK_TRY(load_matrix(m, NAME("ffn_up.weight"), hp->n_ff, d, &L->ffn_up, err));
    KK_TRY(load_matrix(m, NAME("ffn_down.weight"), d, hp->n_ff, &L->ffn_down, err));
#undef NAME
    /* llama.cpp defines no sliding window for llama or qwen3 (it ignores an
     * `attention.sliding_window` key for them); gemma3's sliding layers
     * (gemma3_hparams) mask keys n_swa or more positions back, as
     * llama.cpp's LLAMA_SWA_TYPE_STANDARD, and rotate with their own base. */
    const bool swa = m->swa_ && m->swa_[il];
    L->sliding_window = swa ? hp->n_swa : 0;
    L->rope_swa = swa;
    return KK_OK;
fail:
    return err->code;
}

kk_code model_load(model **out, const gguf_file *f, kk_err *err)
{
    kk_err local_err;
    if (!err) { /* the helpers read err->code after a failure */
        kk_err_clear(&local_err);
        err = &local_err;
    }
    *out = NULL;
    model *m = calloc(1, sizeof *m);
    if (!m)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    m->file = f;
    model_hparams *hp = &m->hp;
    KK_TRY(load_hparams(m, err));

    /* n_vocab from the embedding's shape (ne = {n_embd, n_vocab}). */
    const gguf_tensor *te = gguf_get_tensor(f, "token_embd.weight");
    KK_CHECK(te, err, KK_E_MISSING, "tensor 'token_embd.weight' is missing");
    KK_CHECK(te->n_dims == 2 && te->ne[1] >= 1 && te->ne[1] <= (uint64_t)INT32_MAX, err,
             KK_E_FORMAT, "tensor 'token_embd.weight' must be 2-D [n_embd, n_vocab]");
    hp->n_vocab = (int32_t)te->ne[1];
    KK_TRY(load_matrix(m, "token_embd.weight", hp->n_vocab, hp->n_embd, &m->tok_embd, err));
    KK_TRY(load_vector(m, "output_norm.weight", hp->n_embd, &m->output_norm, err));
    hp->tied_embeddings = gguf_find_tensor(f, "output.weight") < 0;
    if (hp->tied_embeddings)
        m->output = m->tok_embd;
    else
        KK_TRY(load_matrix(m, "output.weight", hp->n_vocab, hp->n_embd, &m->output, err));

    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    KK_CHECK(m->layers, err, KK_E_NOMEM, "out of memory");
    for (int32_t il = 0; il < hp->n_layers; il++)
        KK_TRY(load_layer(m, il, err));
    /* F32, F16 and Q8_0 weights are read in place from the map: fault it
     * in as part of the load (it is all read by the first pass anyway). */
    kk_map_prefault(&f->map);
    free(m->swa_);
    m->swa_ = NULL;
    *out = m;
    return KK_OK;
fail:
    if (!err->file[0]) /* the KK_CHECKs above: about the embedding */
        locate(err, f, "token_embd.weight");
    model_free(m);
    return err->code;
}

void model_free(model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned_; i++)
        free(m->owned_[i]);
    free(m->owned_);
    free(m->layers);
    free(m->swa_);
    free(m);
}

uint64_t model_n_params(const model *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->file->n_tensors; i++)
        n += m->file->tensors[i].n_elements;
    return n;
}

void model_set_act(model *m, ops_act act)
{
    m->act = act;
    m->tok_embd.act = act; /* unused by matmul unless tied: harmless */
    m->output.act = act;
    for (int32_t il = 0; il < m->hp.n_layers; il++) {
        model_layer *L = &m->layers[il];
        ops_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up,
                            &L->ffn_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            ws[i]->act = act;
    }
}

void model_embed(const model *m, int32_t id, float *out)
{
    const ops_weight *e = &m->tok_embd;
    const int64_t d = e->cols;
    if (e->f32) {
        memcpy(out, e->f32 + (int64_t)id * d, (size_t)d * sizeof(float));
        return;
    }
    const size_t row_bytes = dtype_row_size(e->type, (uint64_t)d);
    dtype_to_f32_row(e->type, (const uint8_t *)e->raw + (size_t)id * row_bytes, out, (size_t)d);
}
