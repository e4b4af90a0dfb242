/*
 * model: hyperparameters and weights of a llama, qwen3 or gemma3 GGUF model.
 *
 * Every hyperparameter comes from the GGUF metadata under llama.cpp's key
 * names, `{arch}.` + (docs/models.md lists them with their defaults):
 *   block_count, embedding_length, attention.head_count, context_length,
 *   feed_forward_length, attention.layer_norm_rms_epsilon   required
 *   attention.head_count_kv            default head_count
 *   attention.key_length/value_length  default embedding_length / head_count
 *   rope.freq_base                     default 10000
 *   rope.dimension_count               default the key head dim
 * n_vocab is token_embd's row count; no `output.weight` means tied
 * embeddings (the output matrix is token_embd).
 *
 * Weights: F32 tensors are views into the file map; F16 and Q8_0 matrices
 * are read in place too (ops_weight.raw, no copy: the matmul kernels widen
 * them in registers; docs/performance.md), BF16 ones and non-F32 vectors
 * are widened to F32 once, at load. model_set_act(OPS_ACT_GGML) makes
 * Q8_0/F16 products round activations as llama.cpp does.
 *
 * Ownership: model_load borrows the gguf_file, which must outlive the
 * model (weights are views into its map); model_free (accepts NULL) frees
 * only the model's own copies.
 */
#ifndef KK_MODEL_H
#define KK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "gguf.h"
#include "ops.h"

typedef enum model_arch {
    MODEL_ARCH_LLAMA = 0,
    MODEL_ARCH_QWEN3 = 1,
    MODEL_ARCH_GEMMA3 = 2,
} model_arch;

typedef struct model_hparams {
    model_arch arch;
    int32_t n_layers;
    int32_t n_embd;        /* d_model */
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim_k;    /* attention.key_length */
    int32_t head_dim_v;    /* attention.value_length */
    int32_t n_ff;
    int32_t n_vocab;
    int32_t n_rot;         /* rope.dimension_count (<= head_dim_k, even) */
    int32_t n_ctx_train;   /* context_length */
    float rms_eps;
    float rope_base;
    bool rope_neox;        /* qwen3: halves; llama: adjacent pairs */
    bool qk_norm;          /* qwen3: per-head RMSNorm on q and k before RoPE */
    bool tied_embeddings;  /* no output.weight */
    /* gemma3 (docs/models.md says where each comes from); llama and qwen3
     * keep the neutral values */
    bool gemma;            /* post-attention and post-FFN norms, GELU-tanh gated FFN */
    float embd_scale;      /* embeddings x this (gemma3: sqrt(n_embd)); 1 otherwise */
    float attn_scale;      /* q.k scale (1 / sqrt(head_dim_k) unless gemma3 27B) */
    float rope_base_swa;   /* rope base of the sliding layers (gemma3: 10000 default) */
    float logit_softcap;   /* final logits: c tanh(l / c); 0: none */
    int32_t n_swa;         /* sliding window of the sliding layers; 0: none */
} model_hparams;

typedef struct model_layer {
    const float *attn_norm;   /* (n_embd) */
    ops_weight wq;            /* (n_heads*head_dim_k, n_embd) */
    ops_weight wk;            /* (n_kv_heads*head_dim_k, n_embd) */
    ops_weight wv;            /* (n_kv_heads*head_dim_v, n_embd) */
    ops_weight wo;            /* (n_embd, n_heads*head_dim_v) */
    const float *q_norm;      /* (head_dim_k), qwen3 only, else NULL */
    const float *k_norm;      /* (head_dim_k), qwen3 only, else NULL */
    const float *ffn_norm;    /* (n_embd) */
    ops_weight ffn_gate;      /* (n_ff, n_embd) */
    ops_weight ffn_up;        /* (n_ff, n_embd) */
    ops_weight ffn_down;      /* (n_embd, n_ff) */
    int32_t sliding_window;   /* 0: full attention (llama, qwen3 define none) */
    bool rope_swa;            /* RoPE with rope_base_swa (gemma3's sliding layers) */
    const float *attn_post_norm; /* (n_embd), gemma3 only, else NULL */
    const float *ffn_post_norm;  /* (n_embd), gemma3 only, else NULL */
} model_layer;

typedef struct model {
    model_hparams hp;
    ops_weight tok_embd;      /* (n_vocab, n_embd) */
    const float *output_norm; /* (n_embd) */
    ops_weight output;        /* (n_vocab, n_embd); == tok_embd when tied */
    model_layer *layers;      /* (n_layers) */
    const gguf_file *file;    /* borrowed */
    char arch_name[16];
    void **owned_;            /* private: dequantized copies */
    uint8_t *swa_;            /* private: gemma3's sliding layers while loading */
    ops_act act;              /* model_set_act's; OPS_ACT_GGML also rounds GELU as ggml */
    size_t n_owned_;
    size_t bytes_dequantized; /* sum of the copies */
} model;

/* Load hyperparameters and weights. Errors name the file and the key or
 * tensor: KK_E_UNSUPPORTED for an unknown architecture or tensor type,
 * KK_E_MISSING for a missing required key or tensor, KK_E_RANGE / KK_E_FORMAT
 * for values or shapes that do not fit. */
kk_code model_load(model **out, const gguf_file *f, kk_err *err);
void model_free(model *m);

/* Set how every matrix product treats activations (ops_act; the default
 * after model_load is OPS_ACT_F32). OPS_ACT_GGML only changes Q8_0 and
 * F16 weights. */
void model_set_act(model *m, ops_act act);

/* Row `id` (0 <= id < n_vocab) of the token embedding, widened to F32:
 * out has n_embd floats. */
void model_embed(const model *m, int32_t id, float *out);

const char *model_arch_name(model_arch a);
/* Parameters (elements of every weight tensor in the file). */
uint64_t model_n_params(const model *m);

#endif /* KK_MODEL_H */
