/*
 * synth: constructed retrieval models (docs/synthetic-models.md), written as
 * ordinary llama-architecture GGUF files that llama.cpp loads unchanged.
 *
 * Two layers; only head 0 of each is used (other heads have zero weights),
 * MLP weights zero (SwiGLU output exactly 0) unless ballast_scale > 0, full
 * rotary:
 *   layer 0  previous-token head: a constant q/k on the fast RoPE pairs
 *            (theta >= pos_min_theta) peaks at the previous position
 *            (pos_logit); v = the current token's key identity -> PREV.
 *   layer 1  retrieval head: q = beta * C[key(current)], k = C[PREV] on the
 *            slowest key_dim dims (match_logit at beta 1); v = the current
 *            token's value identity -> OUT; the output matrix reads OUT
 *            (value_logit) and a constant fallback_logit on token 0.
 * Token layout (docs/synthetic-models.md): 0 BOS, 1 QUERY, 2..127 filler, 128..191
 * keys, 192..255 values. In copy mode every token is a key and a value
 * (an induction model: each token predicts what followed its last
 * occurrence).
 *
 * Ballast (ballast_scale > 0): random dense FFN weights of width n_ff in
 * both layers, so a copy model can be as large (and as memory-bound at
 * decode) as a real one. gate and up read the whole residual; down writes
 * only the residual dims past the layout (CONST + 1 .. n_embd - 1), which
 * no attention or output weight reads (only the FFNs, whose output lands
 * there again). Its only effect is through RMSNorm: the residual's
 * norm grows, so layer 1's q, k, v and the logits shrink by a factor
 * (synth_ballast_report; a ballast estimated to lose more than half of
 * the match score or of the answer's margin over the fallback is refused,
 * naming ballast_scale). Every other tensor keeps its bytes.
 *
 * Knobs (synth_cfg, all recorded under `kakeya.synth.*` in the file):
 * see docs/synthetic-models.md for each one's default and what it does to
 * the margins. Same configuration, same bytes: every random draw comes from
 * a splitmix64 stream derived from the seed and a fixed purpose tag.
 *
 * Ownership: synth_build returns a writer the caller frees
 * (gguf_writer_free); synth_to_buffer a buffer the caller frees (free);
 * nothing is kept between calls.
 */
#ifndef KK_SYNTH_H
#define KK_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "gguf.h"
#include "model.h"

/* The fixed token layout of every synthetic model. */
#define SYNTH_N_VOCAB 256
#define SYNTH_TOK_BOS 0
#define SYNTH_TOK_QUERY 1
#define SYNTH_TOK_FILLER_FIRST 2
#define SYNTH_N_FILLER 126
#define SYNTH_TOK_KEY_FIRST 128
#define SYNTH_N_KEYS 64
#define SYNTH_TOK_VALUE_FIRST 192
#define SYNTH_N_VALUES 64
/* The answer when nothing is retrieved (its logit is fallback_logit). */
#define SYNTH_TOK_FALLBACK SYNTH_TOK_BOS
#define SYNTH_N_LAYERS 2

typedef enum synth_mode {
    SYNTH_MODE_NIAH = 0,   /* KEY VALUE ... QUERY KEY -> VALUE */
    SYNTH_MODE_COPY = 1,   /* every token a key and a value: induction */
} synth_mode;

typedef enum synth_code_kind {
    SYNTH_CODE_RANDOM = 0, /* random unit vectors of dimension key_dim */
    SYNTH_CODE_ONEHOT = 1, /* e_j: needs key_dim >= number of keys */
} synth_code_kind;

typedef enum synth_role {
    SYNTH_ROLE_VERIFIER = 0,
    SYNTH_ROLE_PROPOSER = 1, /* a drafter: its own dims, codes and key noise */
} synth_role;

/* Basis changes that keep the function exact (bit flags). */
enum {
    SYNTH_ROT_RESIDUAL = 1, /* random orthogonal residual basis (norm weights stay 1) */
    SYNTH_ROT_PAIRS = 2,    /* a random 2x2 rotation per RoPE pair of q and k */
    SYNTH_ROT_VALUES = 4,   /* random orthogonal value dims, folded into W_o */
    SYNTH_ROT_ALL = 7,
};

typedef struct synth_cfg {
    synth_mode mode;
    synth_role role;
    uint64_t seed;
    int32_t n_embd;          /* d_model (>= the residual layout) */
    int32_t n_heads;         /* only head 0 is used */
    int32_t head_dim;        /* key/value head dim = rope dimension count */
    int32_t n_ff;            /* FFN width (weights zero unless ballast_scale > 0) */
    int32_t n_ctx;           /* context_length written */
    int32_t key_dim;         /* dimension of the key codes (slowest dims) */
    synth_code_kind code_kind;
    float beta;              /* scales the match score (q side) */
    float match_logit;       /* layer-1 match score at beta 1 */
    float pos_logit;         /* layer-0 peak score */
    float pos_min_theta;     /* layer-0 kernel on pairs with theta >= this */
    float value_logit;       /* logit of the retrieved value */
    float fallback_logit;    /* constant logit of SYNTH_TOK_FALLBACK */
    float rope_base;
    uint32_t rotate;         /* SYNTH_ROT_* flags */
    int32_t n_outliers;      /* K pairs scaled up (q scaled down), per layer */
    float outlier_scale;
    float shared_k;          /* shared K component, x the code's RMS per dim */
    float key_noise;         /* layer-1 K noise per token, x the code norm */
    int32_t sliding_window;  /* tokens; 0: none */
    uint32_t sliding_layers; /* bit l: layer l uses the window */
    int32_t niah_distractors;/* distractor pairs a NIAH run uses by default */
    float ballast_scale;     /* 0: zero FFN; > 0: random FFN weights whose output
                              * on the unread dims has expected norm this (one
                              * residual entry is 1); written only when > 0 */
} synth_cfg;

/* The defaults of a role: verifier = the configuration checked in
 * llama.cpp (d 512, 4 heads of 128, key_dim 32 random codes on dims
 * 96..127, base 1e6, beta 1, 600/60/100/50 logits); proposer = d 448,
 * 2 heads of 128, seed 2, key_noise 0.05. */
void synth_defaults(synth_cfg *c, synth_role role);
/* The documented `hard` setting on top of c: key_dim 16, shared_k 32,
 * 3 distractors (2-bit K/V noise loses recall, 3 bits and more keep it). */
void synth_apply_hard(synth_cfg *c);

/* Check every knob; errors name the synth_cfg field (`key_dim`, ...) at the
 * start of the message and in err->where, never a program's flag: callers
 * map fields to their flags or keys (harness/cmd_synth.c, run_niah.c). */
kk_code synth_check(const synth_cfg *c, kk_err *err);

/* What the ballast does to the margins, computed by the construction on
 * 256 nominal inputs (token t after token t - 1, retrieving the value of
 * token t + 1; docs/synthetic-models.md#ballast) and written as
 * `kakeya.synth.stats.ballast_*`. Layer 0's attention is untouched (the
 * ballast enters after it). Without ballast: factors 1, norm 0. */
typedef struct synth_ballast_report {
    double norm_max;     /* largest norm of the two FFN outputs' sum */
    double attn_scale;   /* smallest factor on layer 1's normed q, k and v */
    double logit_scale;  /* smallest factor on the logits (all alike at one
                          * position: the argmax cannot change) */
    double match_logit;  /* worst match score: beta * match_logit * attn^2 */
    double margin_free;  /* value_logit - fallback_logit: a clean answer's
                          * margin over the fallback without ballast */
    double margin;       /* worst: logit_scale * (value * attn - fallback) */
} synth_ballast_report;

/* A ballast is refused when its estimate keeps less than this share of
 * the match score, of the logits' scale, or of a positive margin_free:
 * the ballast is there to weigh, not to change the model. */
#define SYNTH_BALLAST_KEEP 0.5

/* Build the file. Beyond synth_check: KK_E_RANGE naming ballast_scale
 * when the ballast's estimate fails SYNTH_BALLAST_KEEP; KK_E_NOMEM. rep
 * (may be NULL) receives the report. */
kk_code synth_build(const synth_cfg *c, gguf_writer **out, kk_err *err);
kk_code synth_build_report(const synth_cfg *c, gguf_writer **out, synth_ballast_report *rep,
                           kk_err *err);
kk_code synth_to_buffer(const synth_cfg *c, uint8_t **buf, size_t *len, kk_err *err);
kk_code synth_write(const synth_cfg *c, const char *path, kk_err *err);

/* What a reader of a synthetic file needs back from its metadata. */
typedef struct synth_info {
    synth_mode mode;
    synth_role role;
    uint64_t seed;
    int32_t niah_distractors;
    int32_t sliding_window;
    uint32_t sliding_layers;
} synth_info;

/* Read the `kakeya.synth.*` keys. KK_E_MISSING when the file is not a
 * synthetic model (no kakeya.synth.mode); errors name the key. */
kk_code synth_read_info(const gguf_file *f, synth_info *out, kk_err *err);
/* Set each layer's sliding_window from the info (llama.cpp ignores these
 * windows for llama files; our forward pass honours them). */
void synth_apply_windows(model *m, const synth_info *info);

/* Names used in metadata and on the command line. */
const char *synth_mode_name(synth_mode m);
const char *synth_role_name(synth_role r);
const char *synth_code_kind_name(synth_code_kind k);
/* "none", "all" or a comma list of residual,pairs,values into buf. */
const char *synth_rotate_str(uint32_t rotate, char *buf, size_t cap);
/* Parse the same forms; KK_E_RANGE naming `name` (the caller's flag or
 * key for the setting) otherwise. */
kk_code synth_parse_rotate(const char *name, const char *s, uint32_t *out, kk_err *err);

#endif /* KK_SYNTH_H */
