/* synth_internal: what synth.c (weights) and synth_meta.c (metadata,
 * tensors, names) share. Not for other modules. */
#ifndef KK_SYNTH_INTERNAL_H
#define KK_SYNTH_INTERNAL_H

#include "synth.h"

/* Residual magnitudes: embedding row a*e_TOK + b*e_CONST, PREV written with
 * magnitude p (docs/synthetic-models.md: a = b = 1 works). */
#define SYNTH_A 1.0
#define SYNTH_B 1.0
#define SYNTH_P 1.0
#define SYNTH_RMS_EPS 1e-5
/* The quantization group the shared K component shares with the codes
 * (min-max affine codecs group 32 values along head_dim). */
#define SYNTH_QGROUP 32

/* Residual and head-dim layout before any basis change. */
typedef struct synth_layout_t {
    int32_t tok;      /* TOK: one-hot of the current token (256) */
    int32_t prev;     /* PREV: previous key (one-hot, or its code in copy mode) */
    int32_t n_prev;
    int32_t out;      /* OUT: the retrieved value */
    int32_t n_out;
    int32_t cnst;     /* CONST: one dim */
    int32_t code0;    /* head dims [code0, head_dim): the key codes */
    int32_t shared0;  /* head dims [shared0, code0): the shared K component */
} synth_layout_t;

/* Dense F32 weights, row-major (rows, cols) = (out features, in features). */
typedef struct synth_weights {
    float *emb;                       /* (256, d) */
    float *out;                       /* (256, d) */
    float *wq[SYNTH_N_LAYERS];        /* (H*hd, d) */
    float *wk[SYNTH_N_LAYERS];        /* (H*hd, d) */
    float *wv[SYNTH_N_LAYERS];        /* (H*hd, d) */
    float *wo[SYNTH_N_LAYERS];        /* (d, H*hd) */
    /* the ballast (NULL without: the file gets zero FFN tensors) */
    float *wg[SYNTH_N_LAYERS];        /* (n_ff, d) */
    float *wu[SYNTH_N_LAYERS];        /* (n_ff, d) */
    float *wd[SYNTH_N_LAYERS];        /* (d, n_ff): rows past CONST only */
} synth_weights;

/* Numbers the construction measures about itself (written as metadata). */
typedef struct synth_stats {
    int32_t pos_pairs;       /* RoPE pairs of the layer-0 kernel */
    double pos_competitor;   /* worst layer-0 score off the peak / peak */
    double code_max_cos;     /* largest <C_i, C_j>, i != j */
    synth_ballast_report ballast;
} synth_stats;

void synth_layout(const synth_cfg *c, synth_layout_t *l);
int32_t synth_kernel_pairs(const synth_cfg *c);
kk_code synth_weights_make(const synth_cfg *c, synth_weights *w, synth_stats *st,
                           kk_err *err);
void synth_weights_free(synth_weights *w);

/* One splitmix64 stream per purpose (tags 1..8), so adding a knob never
 * shifts another's draws. */
uint64_t synth_stream(uint64_t seed, uint64_t tag);
#define SYNTH_TAG_BALLAST 8

/* synth_ballast.c: draw the FFN weights of both layers from the ballast's
 * stream (before any basis change) and fill st->ballast from the 256
 * nominal inputs; KK_E_RANGE naming ballast_scale when the report fails
 * SYNTH_BALLAST_KEEP. codes (n_keys, key_dim) and vcodes (256, head_dim;
 * copy mode) are the ones layer0/layer1 used. */
kk_code synth_ballast_make(const synth_cfg *c, const synth_layout_t *l, const double *codes,
                           const double *vcodes, synth_weights *w, synth_stats *st,
                           kk_err *err);
/* The factors of no ballast: 1, norm 0, margins as built. */
void synth_ballast_none(const synth_cfg *c, synth_ballast_report *r);

#endif /* KK_SYNTH_INTERNAL_H */
