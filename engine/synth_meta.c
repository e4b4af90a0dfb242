/* synth: names, the vocabulary, the `kakeya.synth.*` metadata, writing the
 * tensors, and reading the metadata back. See synth.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

/* ---- names ------------------------------------------------------------------ */

const char *synth_mode_name(synth_mode m) { return m == SYNTH_MODE_COPY ? "copy" : "niah"; }

const char *synth_role_name(synth_role r)
{
    return r == SYNTH_ROLE_PROPOSER ? "proposer" : "verifier";
}

const char *synth_code_kind_name(synth_code_kind k)
{
    return k == SYNTH_CODE_ONEHOT ? "onehot" : "random";
}

static const char *const ROT_NAMES[] = {"residual", "pairs", "values"};

const char *synth_rotate_str(uint32_t rotate, char *buf, size_t cap)
{
    if (rotate == 0) {
        snprintf(buf, cap, "none");
        return buf;
    }
    if (rotate == SYNTH_ROT_ALL) {
        snprintf(buf, cap, "all");
        return buf;
    }
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < 3; i++)
        if (rotate & (1u << i)) {
            int n = snprintf(buf + k, cap - k, "%s%s", k ? "," : "", ROT_NAMES[i]);
            if (n < 0 || (size_t)n >= cap - k)
                break;
            k += (size_t)n;
        }
    return buf;
}

kk_code synth_parse_rotate(const char *name, const char *s, uint32_t *out, kk_err *err)
{
    if (!strcmp(s, "none")) {
        *out = 0;
        return KK_OK;
    }
    if (!strcmp(s, "all")) {
        *out = SYNTH_ROT_ALL;
        return KK_OK;
    }
    uint32_t r = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        const size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (strlen(ROT_NAMES[i]) == n && !strncmp(p, ROT_NAMES[i], n))
                found = i;
        if (found < 0)
            goto bad;
        r |= 1u << found;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p)
                goto bad;
        }
    }
    if (r == 0)
        goto bad;
    *out = r;
    return KK_OK;
bad:
    kk_err_set(err, KK_E_RANGE,
               "%s: '%s' is not allowed (allowed: none, all, or a comma list of "
               "residual, pairs, values)",
               name, s);
    return kk_err_where(err, name);
}

/* ---- vocabulary ---------------------------------------------------------------- */

/* One piece per id, unique: <s>, <query>, <f002>..<f127>, <k00>..<k63>,
 * <v00>..<v63>. Engines that tokenize text find no byte pieces; tests and
 * the NIAH evaluation feed ids directly. */
static void piece(int32_t t, char *buf, size_t cap)
{
    if (t == SYNTH_TOK_BOS)
        snprintf(buf, cap, "<s>");
    else if (t == SYNTH_TOK_QUERY)
        snprintf(buf, cap, "<query>");
    else if (t < SYNTH_TOK_KEY_FIRST)
        snprintf(buf, cap, "<f%03d>", (int)t);
    else if (t < SYNTH_TOK_VALUE_FIRST)
        snprintf(buf, cap, "<k%02d>", (int)(t - SYNTH_TOK_KEY_FIRST));
    else
        snprintf(buf, cap, "<v%02d>", (int)(t - SYNTH_TOK_VALUE_FIRST));
}

/* ---- metadata --------------------------------------------------------------------- */

static kk_code set_metadata(gguf_writer *w, const synth_cfg *c, const synth_stats *st)
{
    char name[96], rot[48];
    int rc = KK_OK; /* OR of the codes: any failure is an allocation failure */
    snprintf(name, sizeof name, "kakeya-synth-%s-%s-seed%llu", synth_mode_name(c->mode),
             synth_role_name(c->role), (unsigned long long)c->seed);
    rc |= gguf_writer_set_str(w, "general.architecture", "llama");
    rc |= gguf_writer_set_str(w, "general.name", name);
    rc |= gguf_writer_set_u32(w, "llama.context_length", (uint32_t)c->n_ctx);
    rc |= gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)c->n_embd);
    rc |= gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)c->n_ff);
    rc |= gguf_writer_set_u32(w, "llama.block_count", SYNTH_N_LAYERS);
    rc |= gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    rc |= gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_heads);
    rc |= gguf_writer_set_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
    rc |= gguf_writer_set_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    /* Full rotary: llama.cpp refuses n_rot != head dim for llama. */
    rc |= gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    rc |= gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon",
                              (float)SYNTH_RMS_EPS);
    rc |= gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_base);
    rc |= gguf_writer_set_u32(w, "llama.vocab_size", SYNTH_N_VOCAB);

    /* The construction, so every result traces back to the model. */
    rc |= gguf_writer_set_u32(w, "kakeya.synth.version", 1);
    rc |= gguf_writer_set_str(w, "kakeya.synth.mode", synth_mode_name(c->mode));
    rc |= gguf_writer_set_str(w, "kakeya.synth.role", synth_role_name(c->role));
    rc |= gguf_writer_set_u64(w, "kakeya.synth.seed", c->seed);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.key_dim", (uint32_t)c->key_dim);
    rc |= gguf_writer_set_str(w, "kakeya.synth.code_kind", synth_code_kind_name(c->code_kind));
    rc |= gguf_writer_set_f32(w, "kakeya.synth.beta", c->beta);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.match_logit", c->match_logit);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.pos_logit", c->pos_logit);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.pos_min_theta", c->pos_min_theta);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.value_logit", c->value_logit);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.fallback_logit", c->fallback_logit);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.fallback_token", SYNTH_TOK_FALLBACK);
    rc |= gguf_writer_set_str(w, "kakeya.synth.rotate", synth_rotate_str(c->rotate, rot, sizeof rot));
    rc |= gguf_writer_set_u32(w, "kakeya.synth.outliers", (uint32_t)c->n_outliers);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.outlier_scale", c->outlier_scale);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.shared_k", c->shared_k);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.key_noise", c->key_noise);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.sliding_window", (uint32_t)c->sliding_window);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.sliding_layers", c->sliding_layers);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.niah.distractors", (uint32_t)c->niah_distractors);
    /* Only with a ballast: a file without one keeps its bytes (absent = 0). */
    if (c->ballast_scale > 0.0f)
        rc |= gguf_writer_set_f32(w, "kakeya.synth.ballast_scale", c->ballast_scale);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.token.query", SYNTH_TOK_QUERY);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.token.filler_first", SYNTH_TOK_FILLER_FIRST);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.token.key_first", SYNTH_TOK_KEY_FIRST);
    rc |= gguf_writer_set_u32(w, "kakeya.synth.token.value_first", SYNTH_TOK_VALUE_FIRST);
    /* What the construction measured about itself. */
    rc |= gguf_writer_set_u32(w, "kakeya.synth.stats.pos_pairs", (uint32_t)st->pos_pairs);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.pos_competitor", (float)st->pos_competitor);
    rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.code_max_cos", (float)st->code_max_cos);
    if (c->ballast_scale > 0.0f) { /* synth_ballast_report, estimated on nominal inputs */
        const synth_ballast_report *b = &st->ballast;
        rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.ballast_norm_max", (float)b->norm_max);
        rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.ballast_attn_scale", (float)b->attn_scale);
        rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.ballast_logit_scale",
                                  (float)b->logit_scale);
        rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.ballast_match_logit",
                                  (float)b->match_logit);
        rc |= gguf_writer_set_f32(w, "kakeya.synth.stats.ballast_margin", (float)b->margin);
    }

    /* A 256-entry llama (SentencePiece) tokenizer block so other engines
     * load the file: BOS (also EOS and UNK) = 0. */
    char *tok[SYNTH_N_VOCAB];
    char store[SYNTH_N_VOCAB][16]; /* "<f%03d>" of any int fits */
    float score[SYNTH_N_VOCAB];
    int32_t type[SYNTH_N_VOCAB];
    for (int32_t t = 0; t < SYNTH_N_VOCAB; t++) {
        piece(t, store[t], sizeof store[t]);
        tok[t] = store[t];
        score[t] = 0.0f;
        type[t] = (t == SYNTH_TOK_BOS || t == SYNTH_TOK_QUERY) ? 3 : 1; /* control : normal */
    }
    rc |= gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    rc |= gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                  SYNTH_N_VOCAB);
    rc |= gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", score, SYNTH_N_VOCAB);
    rc |= gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", type, SYNTH_N_VOCAB);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", SYNTH_TOK_BOS);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", SYNTH_TOK_BOS);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", SYNTH_TOK_BOS);
    rc |= gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    rc |= gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    return rc == KK_OK ? KK_OK : KK_E_NOMEM;
}

/* ---- tensors ------------------------------------------------------------------------ */

/* A (rows, cols) F32 tensor (rows 0: a vector of cols); data NULL: every
 * value `fill`. */
static kk_code add(gguf_writer *w, const char *name, int64_t rows, int64_t cols,
                   const float *data, float fill, kk_err *err)
{
    const int64_t nr = rows ? rows : 1;
    const size_t n = (size_t)(nr * cols);
    float *tmp = NULL;
    if (!data) {
        tmp = malloc(n * sizeof(float));
        if (!tmp)
            return kk_err_set(err, KK_E_NOMEM, "synth: out of memory for '%s'", name);
        for (size_t i = 0; i < n; i++)
            tmp[i] = fill;
        data = tmp;
    }
    const uint64_t ne[2] = {(uint64_t)cols, (uint64_t)nr};
    kk_code rc = gguf_writer_add_tensor(w, name, DTYPE_F32, rows ? 2 : 1, ne, data,
                                        n * sizeof(float), err);
    free(tmp);
    return rc;
}

static kk_code add_tensors(gguf_writer *w, const synth_cfg *c, const synth_weights *sw,
                           kk_err *err)
{
    const int64_t d = c->n_embd, ho = (int64_t)c->n_heads * c->head_dim;
    char name[64];
    KK_TRY(add(w, "token_embd.weight", SYNTH_N_VOCAB, d, sw->emb, 0.0f, err));
    /* Every norm weight 1: RMSNorm then commutes with the residual rotation. */
    KK_TRY(add(w, "output_norm.weight", 0, d, NULL, 1.0f, err));
    KK_TRY(add(w, "output.weight", SYNTH_N_VOCAB, d, sw->out, 0.0f, err));
    for (int il = 0; il < SYNTH_N_LAYERS; il++) {
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, il), name)
        KK_TRY(add(w, NAME("attn_norm.weight"), 0, d, NULL, 1.0f, err));
        KK_TRY(add(w, NAME("attn_q.weight"), ho, d, sw->wq[il], 0.0f, err));
        KK_TRY(add(w, NAME("attn_k.weight"), ho, d, sw->wk[il], 0.0f, err));
        KK_TRY(add(w, NAME("attn_v.weight"), ho, d, sw->wv[il], 0.0f, err));
        KK_TRY(add(w, NAME("attn_output.weight"), d, ho, sw->wo[il], 0.0f, err));
        KK_TRY(add(w, NAME("ffn_norm.weight"), 0, d, NULL, 1.0f, err));
        /* Zero MLP: SwiGLU(0) = 0, so the block adds exactly nothing; or
         * the ballast (synth_ballast.c), which adds only to unread dims. */
        KK_TRY(add(w, NAME("ffn_gate.weight"), c->n_ff, d, sw->wg[il], 0.0f, err));
        KK_TRY(add(w, NAME("ffn_up.weight"), c->n_ff, d, sw->wu[il], 0.0f, err));
        KK_TRY(add(w, NAME("ffn_down.weight"), d, c->n_ff, sw->wd[il], 0.0f, err));
#undef NAME
    }
    return KK_OK;
fail:
    return err->code;
}

kk_code synth_build(const synth_cfg *c, gguf_writer **out, kk_err *err)
{
    return synth_build_report(c, out, NULL, err);
}

kk_code synth_build_report(const synth_cfg *c, gguf_writer **out, synth_ballast_report *rep,
                           kk_err *err)
{
    kk_err local_err;
    if (!err) {
        kk_err_clear(&local_err);
        err = &local_err;
    }
    *out = NULL;
    kk_code rc = synth_check(c, err);
    if (rc != KK_OK)
        return rc;
    synth_weights sw;
    synth_stats st;
    rc = synth_weights_make(c, &sw, &st, err);
    if (rc != KK_OK)
        return rc;
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    if (!w) {
        synth_weights_free(&sw);
        return kk_err_set(err, KK_E_NOMEM, "synth: out of memory");
    }
    if (rep)
        *rep = st.ballast;
    rc = set_metadata(w, c, &st);
    if (rc != KK_OK)
        kk_err_set(err, rc, "synth: could not set the metadata");
    else
        rc = add_tensors(w, c, &sw, err);
    synth_weights_free(&sw);
    if (rc != KK_OK) {
        gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return KK_OK;
}

kk_code synth_to_buffer(const synth_cfg *c, uint8_t **buf, size_t *len, kk_err *err)
{
    gguf_writer *w = NULL;
    kk_code rc = synth_build(c, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_to_buffer(w, buf, len, err);
    gguf_writer_free(w);
    return rc;
}

kk_code synth_write(const synth_cfg *c, const char *path, kk_err *err)
{
    gguf_writer *w = NULL;
    kk_code rc = synth_build(c, &w, err);
    if (rc != KK_OK)
        return rc;
    rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}

/* ---- reading back ----------------------------------------------------------------- */

static kk_code located(const gguf_file *f, const char *key, kk_err *err)
{
    kk_err_file(err, f->path);
    return kk_err_where(err, key);
}

kk_code synth_read_info(const gguf_file *f, synth_info *out, kk_err *err)
{
    memset(out, 0, sizeof *out);
    gguf_str s;
    char buf[32];
    if (gguf_find_key(f, "kakeya.synth.mode") < 0) {
        kk_err_set(err, KK_E_MISSING,
                   "not a synthetic model: key 'kakeya.synth.mode' is missing (write one "
                   "with `kakeya model synth`)");
        return located(f, "kakeya.synth.mode", err);
    }
    if (gguf_get_str(f, "kakeya.synth.mode", &s, err) != KK_OK)
        return located(f, "kakeya.synth.mode", err);
    gguf_str_copy(s, buf, sizeof buf);
    if (!strcmp(buf, "niah"))
        out->mode = SYNTH_MODE_NIAH;
    else if (!strcmp(buf, "copy"))
        out->mode = SYNTH_MODE_COPY;
    else {
        kk_err_set(err, KK_E_RANGE, "kakeya.synth.mode '%s' is not allowed (allowed: niah, copy)",
                   buf);
        return located(f, "kakeya.synth.mode", err);
    }
    if (gguf_find_key(f, "kakeya.synth.role") >= 0) {
        if (gguf_get_str(f, "kakeya.synth.role", &s, err) != KK_OK)
            return located(f, "kakeya.synth.role", err);
        gguf_str_copy(s, buf, sizeof buf);
        out->role = !strcmp(buf, "proposer") ? SYNTH_ROLE_PROPOSER : SYNTH_ROLE_VERIFIER;
    }
    if (gguf_find_key(f, "kakeya.synth.seed") >= 0 &&
        gguf_get_u64(f, "kakeya.synth.seed", &out->seed, err) != KK_OK)
        return located(f, "kakeya.synth.seed", err);
    const struct { const char *key; uint32_t max; uint32_t *dst; } u32s[] = {
        {"kakeya.synth.niah.distractors", SYNTH_N_KEYS - 1, (uint32_t *)&out->niah_distractors},
        {"kakeya.synth.sliding_window", (uint32_t)INT32_MAX, (uint32_t *)&out->sliding_window},
        {"kakeya.synth.sliding_layers", (1u << SYNTH_N_LAYERS) - 1, &out->sliding_layers},
    };
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        if (gguf_find_key(f, u32s[i].key) < 0)
            continue;
        uint32_t v;
        if (gguf_get_u32(f, u32s[i].key, &v, err) != KK_OK)
            return located(f, u32s[i].key, err);
        if (v > u32s[i].max) {
            kk_err_set(err, KK_E_RANGE, "key '%s' = %u is out of range (allowed: 0..%u)",
                       u32s[i].key, (unsigned)v, (unsigned)u32s[i].max);
            return located(f, u32s[i].key, err);
        }
        *u32s[i].dst = v;
    }
    return KK_OK;
}

void synth_apply_windows(model *m, const synth_info *info)
{
    for (int32_t il = 0; il < m->hp.n_layers && il < 32; il++)
        m->layers[il].sliding_window =
            (info->sliding_layers >> il) & 1u ? info->sliding_window : 0;
}
