/* run_codec_gpu: the codec_gpu kind's runner (run_codec_gpu.h). */
#include "run_codec_gpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "kk_stats.h"

/* ---- evidence (every build: tests/harness/test_codec_gpu.c gates it) ------------- */

/* The figures of one repeat, by name; the arm's timings are their medians. */
#define CG_N_FIGS 18
static const char *const FIG_NAMES[CG_N_FIGS] = {
    "copy_s", "copy_gbps",
    "encode_s", "decode_s", "roundtrip_s",
    "encode_gvalues_per_s", "decode_gvalues_per_s", "roundtrip_gvalues_per_s",
    "encode_large_s", "decode_large_s", "roundtrip_large_s",
    "encode_large_gvalues_per_s", "decode_large_gvalues_per_s", "roundtrip_large_gvalues_per_s",
    "encode_large_gbps", "decode_large_gbps", "encode_large_pct_copy", "decode_large_pct_copy",
};

static void figures(const run_cg_result *r, const run_cg_repeat *q, double *f)
{
    const double copy_bytes = 2.0 * (double)r->copy_bytes;
    const double ns = (double)r->n_small, nl = (double)r->n_large, eb = (double)r->elem_bytes;
    f[0] = q->copy_s;
    f[1] = copy_bytes / q->copy_s * 1e-9;
    f[2] = q->enc_s;
    f[3] = q->dec_s;
    f[4] = q->rt_s;
    f[5] = ns / q->enc_s * 1e-9;
    f[6] = ns / q->dec_s * 1e-9;
    f[7] = ns / q->rt_s * 1e-9;
    f[8] = q->enc_l_s;
    f[9] = q->dec_l_s;
    f[10] = q->rt_l_s;
    f[11] = nl / q->enc_l_s * 1e-9;
    f[12] = nl / q->dec_l_s * 1e-9;
    f[13] = nl / q->rt_l_s * 1e-9;
    /* bytes read plus bytes written, as the copy counts them */
    f[14] = (nl * eb + (double)r->codes_large) / q->enc_l_s * 1e-9;
    f[15] = ((double)r->codes_large + nl * eb) / q->dec_l_s * 1e-9;
    f[16] = 100.0 * f[14] / f[1];
    f[17] = 100.0 * f[15] / f[1];
}

kk_code run_codec_gpu_arm_json(const run_cg_result *r, ev_build *b, cJSON *a, kk_err *err)
{
    cJSON *m = ev_put_obj(b, a, "metrics");
    ev_put_num(b, m, "bits_per_value", r->bits_per_value);
    ev_put_num(b, m, "rel_mse_gaussian", r->rel_mse_gaussian);
    ev_put_bool(b, m, "bytes_equal_cpu", r->bytes_differing == 0);
    ev_put_bool(b, m, "floats_equal_cpu", r->floats_differing == 0);
    ev_put_u64(b, m, "codes_differing_cpu", r->bytes_differing);
    ev_put_u64(b, m, "floats_differing_cpu", r->floats_differing);
    ev_put_u64(b, m, "codes_checked", r->bytes_checked);
    ev_put_u64(b, m, "values_checked", r->values_checked);

    cJSON *t = ev_put_obj(b, a, "timings");
    ev_put_str(b, t, "scope", "kernel");
    ev_put_str(b, t, "scope_note", "host clock around batches of calls on the default stream "
               "between two synchronizations, divided by the batch; input and output of the "
               "timing calls in the preset's `input` type; GB/s count bytes read plus written");
    ev_put_u64(b, t, "values_small", r->n_small);
    ev_put_u64(b, t, "values_large", r->n_large);
    ev_put_u64(b, t, "codes_bytes_large", r->codes_large);
    double *col = calloc((size_t)(r->n_rep > 0 ? r->n_rep : 1), sizeof *col);
    double (*fig)[CG_N_FIGS] = calloc((size_t)(r->n_rep > 0 ? r->n_rep : 1), sizeof *fig);
    if (!col || !fig) {
        free(col);
        free(fig);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    for (int k = 0; k < r->n_rep; k++)
        figures(r, &r->rep[k], fig[k]);
    for (int f = 0; f < CG_N_FIGS; f++) {
        for (int k = 0; k < r->n_rep; k++)
            col[k] = fig[k][f];
        ev_put_num(b, t, FIG_NAMES[f], kk_median(col, (size_t)r->n_rep));
    }
    cJSON *reps = ev_put_arr(b, t, "repeats");
    for (int k = 0; k < r->n_rep && b->code == KK_OK; k++) {
        cJSON *o = ev_put_obj(b, reps, "repeats[]");
        for (int f = 0; f < CG_N_FIGS; f++)
            ev_put_num(b, o, FIG_NAMES[f], fig[k][f]);
    }
    free(col);
    free(fig);

    cJSON *sg = ev_put_obj(b, a, "signals");
    cJSON *cn = ev_put_obj(b, sg, "counters");
    ev_put_u64(b, cn, "values_encoded", r->values_encoded);
    ev_put_u64(b, cn, "values_decoded", r->values_decoded);
    ev_put_arr(b, sg, "fallbacks_taken");
    ev_put_obj(b, sg, "memory");
    ev_put_arr(b, a, "samples");
    return b->code;
}

int run_codec_gpu_check_codec(const char *val, char *why, size_t cap)
{
    codec_spec s;
    kk_err e;
    kk_err_clear(&e);
    if (codec_spec_parse(val, &s, &e) == KK_OK)
        return 0;
    snprintf(why, cap, "found \"%s\": %s; allowed: a codec spec with a GPU path (q8_0, q4_0, "
             "affine, d4, e8, kl_d4, kl_e8; docs/gpu.md)", val, e.msg);
    return 1;
}

#ifdef KK_CUDA

#include "cli_cuda.h"
#include "cuda/kkcu.h"
#include "cuda/kkcu_mem.h"
#include "dtype.h"
#include "evidence.h"
#include "sha256.h"


typedef struct cg_state {
    size_t n_gauss, n_check;   /* N(0,1) values; with the adversarial ones */
    size_t n_small, n_large;
    kkcu_dtype xt;             /* timing input and output type */
    size_t xt_bytes;
    float *check;              /* host: n_check values */
    float *small_f32;          /* host: the small input as F32 (BF16 widened) */
    void *d_small, *d_large, *d_copy, *d_out;
} cg_state;

/* ---- data -------------------------------------------------------------------------- */

/* The adversarial block: eight runs of RUN_CG_ADVERSARIAL / 8 values, each
 * a whole number of every codec's unit (<= 16384 values: affine
 * axis=token 128 x 128). */
static void fill_adversarial(float *x, uint64_t seed)
{
    const size_t seg = RUN_CG_ADVERSARIAL / 8;
    codec_fill_gaussian(x, RUN_CG_ADVERSARIAL, seed);
    for (size_t i = 0; i < seg; i++) {
        x[i] = 0.0f;                                            /* zeros */
        x[seg + i] *= 1000.0f;                                  /* large */
        if (i % 61 == 0)
            x[2 * seg + i] *= 200.0f;                           /* outliers */
        static const float lim[8] = {65504.0f, -65504.0f, 6.1035156e-5f, 5.9604645e-8f,
                                     65520.0f, -1.0e5f, 1.0e6f, 0.0f};
        x[3 * seg + i] = lim[i % 8] * (i % 16 < 8 ? 1.0f : -1.0f); /* F16's limits, past them */
        x[4 * seg + i] *= (i % 2) ? 1e-6f : 1e-36f;             /* tiny, F32 subnormal-near */
        x[5 * seg + i] = 3.0f;                                  /* constant */
        x[6 * seg + i] = (float)((int)(i % 255) - 127) + ((i / 255) % 2 ? 0.5f : 0.0f); /* ties */
        x[7 * seg + i] *= 1e4f;
    }
}

/* ---- prepare ---------------------------------------------------------------------- */

static void state_free(cg_state *s)
{
    if (!s)
        return;
    free(s->check);
    free(s->small_f32);
    kkcu_mem_free(s->d_small);
    kkcu_mem_free(s->d_large);
    kkcu_mem_free(s->d_copy);
    kkcu_mem_free(s->d_out);
    free(s);
}

/* n values of type xt from N(0,1) (seed) into device memory at d, through
 * a host buffer of chunk values; the F32 values (BF16 widened) into f32
 * when not NULL. */
static kk_code upload_gaussian(void *d, size_t n, kkcu_dtype xt, uint64_t seed, float *f32,
                               kk_err *err)
{
    const size_t chunk = (size_t)1 << 22, eb = xt == KKCU_BF16 ? 2 : 4;
    float *x = malloc(chunk * sizeof(float));
    uint16_t *h = malloc(chunk * sizeof(uint16_t));
    kk_code code = KK_OK;
    if (!x || !h)
        code = kk_err_set(err, KK_E_NOMEM, "out of memory for the timing inputs");
    for (size_t o = 0; code == KK_OK && o < n; o += chunk) {
        const size_t m = n - o < chunk ? n - o : chunk;
        codec_fill_gaussian(x, m, seed + o / chunk);
        if (xt == KKCU_BF16)
            for (size_t i = 0; i < m; i++) {
                h[i] = dtype_f32_to_bf16(x[i]);
                x[i] = dtype_bf16_to_f32(h[i]);
            }
        if (f32)
            memcpy(f32 + o, x, m * sizeof(float));
        code = kkcu_mem_upload((char *)d + o * eb, xt == KKCU_BF16 ? (void *)h : (void *)x,
                               m * eb, err);
    }
    free(x);
    free(h);
    return code;
}

static kk_code cg_prepare(run_ctx *rc, kk_err *err)
{
    const preset *p = rc->p;
    /* Timed GPU work one arm at a time, whatever --jobs says. */
    rc->o.jobs = 1;
    KK_TRY(cli_cuda_gpu(&rc->gpu, err));
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        const preset_field *f = preset_arm_field(p, &p->arms[a], "codec");
        codec_spec spec;
        kkcu_codec *g = NULL;
        if (codec_spec_parse(f->s, &spec, err) != KK_OK || kkcu_codec_init(&g, &spec, err) != KK_OK) {
            char w[300];
            snprintf(w, sizeof w, "arms[%zu].codec", a);
            kk_err_where(err, w);
            kk_err_linecol(err, p->arms[a].line, p->arms[a].col);
            return kk_err_file(err, p->file);
        }
        kkcu_codec_free(g);
    }
    cg_state *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    rc->kstate = s;
    const uint64_t seed = rc->seed;
    s->n_gauss = (size_t)preset_get_int(p, "n_check");
    s->n_check = s->n_gauss + RUN_CG_ADVERSARIAL;
    s->n_small = (size_t)preset_get_int(p, "n_small");
    s->n_large = (size_t)preset_get_int(p, "n_large");
    s->xt = !strcmp(preset_get_str(p, "input"), "f32") ? KKCU_F32 : KKCU_BF16;
    s->xt_bytes = s->xt == KKCU_BF16 ? 2 : 4;
    s->check = malloc(s->n_check * sizeof(float));
    s->small_f32 = malloc(s->n_small * sizeof(float));
    KK_CHECK(s->check && s->small_f32, err, KK_E_NOMEM, "out of memory for the check data");
    codec_fill_gaussian(s->check, s->n_gauss, seed);
    fill_adversarial(s->check + s->n_gauss, seed + 1);
    KK_TRY(kkcu_mem_alloc(&s->d_small, s->n_small * s->xt_bytes, err));
    KK_TRY(upload_gaussian(s->d_small, s->n_small, s->xt, seed + 2, s->small_f32, err));
    KK_TRY(kkcu_mem_alloc(&s->d_large, s->n_large * s->xt_bytes, err));
    KK_TRY(upload_gaussian(s->d_large, s->n_large, s->xt, seed + 3, NULL, err));
    KK_TRY(kkcu_mem_alloc(&s->d_copy, s->n_large * s->xt_bytes, err));
    /* the timing decodes' output, either shape */
    KK_TRY(kkcu_mem_alloc(&s->d_out,
                          (s->n_large > s->n_small ? s->n_large : s->n_small) * s->xt_bytes, err));

    /* models[]: the check data, named by its seed and its bytes' sha256 */
    char sha[65], src[96];
    sha256_hex(s->check, s->n_check * sizeof(float), sha);
    snprintf(src, sizeof src, "gaussian:seed=%llu+adversarial", (unsigned long long)seed);
    ev_build b;
    ev_build_init(&b, err);
    rc->models = cJSON_CreateArray();
    if (!rc->models)
        ev_put(&b, NULL, "models", NULL);
    cJSON *mo = ev_put_obj(&b, rc->models, "models[]");
    ev_put_str(&b, mo, "role", "data");
    ev_put_str(&b, mo, "source", src);
    ev_put_str(&b, mo, "sha256", sha);
    ev_put_str(&b, mo, "architecture", "none");
    ev_put_bool(&b, mo, "trained", 0);
    KK_TRY(ev_build_end(&b, &rc->models));

    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        const run_task t = {a, 0, seed};
        KK_TRY(run_add_task(rc, &t, NULL, err));
    }
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}

static void cg_finish(run_ctx *rc)
{
    state_free(rc->kstate);
    rc->kstate = NULL;
}

/* ---- a task: one arm ----------------------------------------------------------------- */

typedef enum cg_op { CG_COPY, CG_ENC, CG_DEC, CG_RT } cg_op;

typedef struct cg_calls {
    kkcu_codec *g;
    const cg_state *s;
    void *d_codes;
} cg_calls;

/* Seconds per call of op over batch calls between two synchronizations. */
static kk_code timed(cg_calls *c, cg_op op, int large, int batch, double *sec, kk_err *err)
{
    const cg_state *s = c->s;
    const size_t n = large ? s->n_large : s->n_small;
    const void *in = large ? s->d_large : s->d_small;
    KK_TRY(kkcu_sync(err));
    const double t0 = kk_now_s();
    for (int i = 0; i < batch; i++) {
        if (op == CG_COPY)
            KK_TRY(kkcu_mem_copy(s->d_copy, s->d_large, s->n_large * s->xt_bytes, err));
        if (op == CG_ENC || op == CG_RT)
            KK_TRY(kkcu_encode(c->g, in, s->xt, n, c->d_codes, NULL, err));
        if (op == CG_DEC || op == CG_RT)
            KK_TRY(kkcu_decode(c->g, c->d_codes, n, s->d_out, s->xt, NULL, err));
    }
    KK_TRY(kkcu_sync(err));
    *sec = (kk_now_s() - t0) / batch;
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_IO;
}

static uint64_t count_differing_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

static kk_code cg_task(run_ctx *rc, void *w, size_t i, kk_err *err)
{
    (void)w;
    const preset *p = rc->p;
    const cg_state *s = rc->kstate;
    const size_t arm = rc->tasks[i].arm;
    run_cg_result *r = run_result_at(rc, i);
    const preset_field *fc = preset_arm_field(p, &p->arms[arm], "codec");
    const preset_field *fk = preset_arm_field(p, &p->arms[arm], "corrupt");
    const int corrupt = fk && fk->i;
    cg_calls c = {NULL, s, NULL};
    uint8_t *gpu_codes = NULL, *cpu_codes = NULL;
    float *gpu_y = NULL, *cpu_y = NULL, *x_chk = NULL;
    void *d_x = NULL, *d_y = NULL; /* the check data and its decode, F32 */
    kk_code out = KK_OK;
    codec_spec spec;
    KK_TRY(codec_spec_parse(fc->s, &spec, err));
    KK_TRY(kkcu_codec_init(&c.g, &spec, err));
    codec *cpu = kkcu_codec_cpu(c.g);
    const size_t unit = kkcu_block_values(c.g);
    KK_TRY(kkcu_reset_stats(c.g, err));

    /* the check data: the N(0,1) part and the adversarial block, each cut
     * to whole units (a power-of-two unit divides both) */
    const size_t n_gauss = s->n_gauss / unit * unit;
    const size_t n_adv = RUN_CG_ADVERSARIAL / unit * unit;
    const size_t n_chk = n_gauss + n_adv;
    r->n_small = s->n_small / unit * unit;
    r->n_large = s->n_large / unit * unit;
    KK_CHECK(n_gauss > 0 && r->n_small > 0 && r->n_large > 0, err, KK_E_RANGE,
             "arm %s: n_check, n_small and n_large must each hold one unit of %zu values",
             p->arms[arm].name, unit);
    r->codes_small = kkcu_encoded_bytes(c.g, r->n_small);
    r->codes_large = kkcu_encoded_bytes(c.g, r->n_large);
    const size_t bytes_chk = kkcu_encoded_bytes(c.g, n_chk);
    const size_t bytes_gauss = kkcu_encoded_bytes(c.g, n_gauss);
    size_t most = bytes_chk > r->codes_large ? bytes_chk : r->codes_large;
    most = most > r->codes_small ? most : r->codes_small;
    KK_TRY(kkcu_mem_alloc(&c.d_codes, most, err));
    gpu_codes = malloc(most);
    cpu_codes = malloc(most);
    gpu_y = malloc(n_chk * sizeof(float));
    cpu_y = malloc(n_chk * sizeof(float));
    KK_CHECK(gpu_codes && cpu_codes && gpu_y && cpu_y, err, KK_E_NOMEM,
             "out of memory for arm %s", p->arms[arm].name);

    /* 1. the GPU's codes of the check data (F32) against the CPU's */
    x_chk = malloc(n_chk * sizeof(float));
    KK_CHECK(x_chk, err, KK_E_NOMEM, "out of memory");
    memcpy(x_chk, s->check, n_gauss * sizeof(float));
    memcpy(x_chk + n_gauss, s->check + s->n_gauss, n_adv * sizeof(float));
    KK_TRY(kkcu_mem_alloc(&d_x, n_chk * sizeof(float), err));
    KK_TRY(kkcu_mem_alloc(&d_y, n_chk * sizeof(float), err));
    KK_TRY(kkcu_mem_upload(d_x, x_chk, n_chk * sizeof(float), err));
    KK_TRY(kkcu_encode(c.g, d_x, KKCU_F32, n_chk, c.d_codes, NULL, err));
    KK_TRY(kkcu_sync(err));
    if (corrupt) { /* the declared negative control: one byte flipped on the device */
        uint8_t byte;
        KK_TRY(kkcu_mem_download(&byte, (uint8_t *)c.d_codes + bytes_chk / 2, 1, err));
        byte ^= 0x01;
        KK_TRY(kkcu_mem_upload((uint8_t *)c.d_codes + bytes_chk / 2, &byte, 1, err));
    }
    KK_TRY(kkcu_mem_download(gpu_codes, c.d_codes, bytes_chk, err));
    codec_encode(cpu, x_chk, n_chk, cpu_codes);
    r->bytes_differing = count_differing_bytes(gpu_codes, cpu_codes, bytes_chk);
    r->bytes_checked = bytes_chk;
    r->bits_per_value = 8.0 * (double)bytes_gauss / (double)n_gauss;

    /* 2. the GPU's decode of its own codes: rel_mse on the N(0,1) part */
    KK_TRY(kkcu_decode(c.g, c.d_codes, n_chk, d_y, KKCU_F32, NULL, err));
    KK_TRY(kkcu_mem_download(gpu_y, d_y, n_chk * sizeof(float), err));
    double num = 0.0, den = 0.0;
    for (size_t k = 0; k < n_gauss; k++) {
        const double d = (double)x_chk[k] - (double)gpu_y[k];
        num += d * d;
        den += (double)x_chk[k] * (double)x_chk[k];
    }
    r->rel_mse_gaussian = den > 0.0 ? num / den : 0.0;

    /* 3. the GPU's decode of the CPU's codes against codec_decode */
    KK_TRY(kkcu_mem_upload(c.d_codes, cpu_codes, bytes_chk, err));
    KK_TRY(kkcu_decode(c.g, c.d_codes, n_chk, d_y, KKCU_F32, NULL, err));
    KK_TRY(kkcu_mem_download(gpu_y, d_y, n_chk * sizeof(float), err));
    codec_decode(cpu, cpu_codes, n_chk, cpu_y);
    uint64_t fd = 0;
    for (size_t k = 0; k < n_chk; k++)
        fd += memcmp(&gpu_y[k], &cpu_y[k], sizeof(float)) != 0;
    r->floats_differing = fd;
    r->values_checked = n_chk;

    /* 4. the small shape from the timing input type (BF16: the CPU encodes
     * the same values widened, which is exact) */
    KK_TRY(kkcu_encode(c.g, s->d_small, s->xt, r->n_small, c.d_codes, NULL, err));
    KK_TRY(kkcu_mem_download(gpu_codes, c.d_codes, r->codes_small, err));
    codec_encode(cpu, s->small_f32, r->n_small, cpu_codes);
    r->bytes_differing += count_differing_bytes(gpu_codes, cpu_codes, r->codes_small);
    r->bytes_checked += r->codes_small;
    r->values_checked += r->n_small;

    /* 5. timings: one round unrecorded (warm-up), then the repeats */
    const int reps = (int)preset_get_int(p, "repeats");
    r->n_rep = reps;
    r->copy_bytes = s->n_large * s->xt_bytes;
    r->elem_bytes = s->xt_bytes;
    for (int k = -1; k < reps; k++) {
        run_cg_repeat q;
        KK_TRY(timed(&c, CG_COPY, 1, RUN_CG_BATCH_LARGE, &q.copy_s, err));
        KK_TRY(timed(&c, CG_ENC, 0, RUN_CG_BATCH_SMALL, &q.enc_s, err));
        KK_TRY(timed(&c, CG_DEC, 0, RUN_CG_BATCH_SMALL, &q.dec_s, err));
        KK_TRY(timed(&c, CG_RT, 0, RUN_CG_BATCH_SMALL, &q.rt_s, err));
        KK_TRY(timed(&c, CG_ENC, 1, RUN_CG_BATCH_LARGE, &q.enc_l_s, err));
        KK_TRY(timed(&c, CG_DEC, 1, RUN_CG_BATCH_LARGE, &q.dec_l_s, err));
        KK_TRY(timed(&c, CG_RT, 1, RUN_CG_BATCH_LARGE, &q.rt_l_s, err));
            if (k >= 0)
            r->rep[k] = q;
    }
    kkcu_stats st;
    KK_TRY(kkcu_get_stats(c.g, &st, err));
    r->values_encoded = st.values_encoded;
    r->values_decoded = st.values_decoded;
    goto done;
fail:
    out = err && err->code != KK_OK ? err->code : KK_E_IO;
    if (err && !err->where[0])
        kk_err_where(err, p->arms[arm].name);
done:
    free(x_chk);
    kkcu_mem_free(d_x);
    kkcu_mem_free(d_y);
    kkcu_mem_free(c.d_codes);
    kkcu_codec_free(c.g);
    free(gpu_codes);
    free(cpu_codes);
    free(gpu_y);
    free(cpu_y);
    return out;
}

/* ---- evidence ---------------------------------------------------------------------- */



static kk_code cg_arm_evidence(run_ctx *rc, size_t arm, ev_build *b, cJSON *a, kk_err *err)
{
    for (size_t i = 0; i < rc->n_tasks; i++)
        if (rc->tasks[i].arm == arm)
            return run_codec_gpu_arm_json(run_result_at(rc, i), b, a, err);
    return kk_err_set(err, KK_E_INTERNAL, "codec_gpu: arm %zu has no task", arm);
}

const run_ops run_codec_gpu_ops = {
    .prepare = cg_prepare,
    .plan_size = 0,
    .result_size = sizeof(run_cg_result),
    .worker_init = NULL,
    .worker_free = NULL,
    .task = cg_task,
    .arm_evidence = cg_arm_evidence,
    .finish = cg_finish,
};

#endif /* KK_CUDA */
