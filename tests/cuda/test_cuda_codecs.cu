/*
 * test_cuda_codecs: the GPU codecs (kkcu.h) against the CPU's, on the
 * device. For every spec of kkcu_test_util.cuh, every input (Gaussian and
 * the adversarial ones), F32 and BF16 input, and every kernel family
 * (fast, tile, simple):
 *   - kkcu_encode's bytes equal codec_encode's (_ref path: the verdict;
 *     the CPU fast path: reported, and where the CPU's own two paths
 *     differ that is printed as a CPU matter);
 *   - kkcu_decode of the CPU's bytes equals codec_decode's floats bit for
 *     bit (two NaNs count equal: x86 and the GPU write different NaN bits),
 *     as F32 and as BF16 (the CPU's floats rounded by dtype_f32_to_bf16);
 *   - the same for random bytes (no encoder wrote them);
 *   - outputs are poisoned before every run, so an unwritten byte or value
 *     shows as a mismatch;
 *   - the device counters count every value (kkcu_get_stats).
 * A control proves the comparison bites: a flipped byte of a GPU result
 * must be caught. BF16 input's reference is codec_encode of the BF16 values
 * widened to F32.
 *
 * One line per spec and kernel family; exit 1 on any mismatch or error,
 * 2 when no CUDA device is found. Environment: KKCU_TEST_ONLY=TEXT runs
 * the specs containing TEXT; KKCU_TEST_QUICK=1 runs 4 Ki values a call
 * (the CPU emulator's run, `make test-cuda-emu`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "kkcu.h"
#include "kkcu_test_util.cuh"

#define CK(call)                                                                        \
    do {                                                                                \
        const cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,               \
                    cudaGetErrorString(e_));                                            \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

/* A kkcu call that must succeed; `call` passes &kerr, declared here. */
#define KK(call)                                                                        \
    do {                                                                                \
        kk_err kerr;                                                                    \
        kk_err_clear(&kerr);                                                            \
        if ((call) != KK_OK) {                                                          \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #call);                  \
            kk_err_print(stderr, NULL, &kerr);                                          \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static const char *const IMPLS[] = {"fast", "tile", "simple"};
static const uint8_t POISON[] = {0xa5, 0x5a, 0xff};

/* What one (spec, input, dtype) gives on the CPU. */
typedef struct cpu_case {
    uint8_t *b_ref, *b_fast; /* encoded bytes, _ref and fast path */
    float *y_ref, *y_fast;   /* codec_decode of b_ref */
    uint16_t *x_bf16;        /* the BF16 input (bf16 cases) */
    float *x;                /* the F32 input (or the widened BF16) */
} cpu_case;

typedef struct tally {
    size_t enc_ref, enc_fast, dec_ref, dec_fast, dec_bf16, nan_pairs, cpu_diff, runs;
    char first[256];
} tally;

static void note_first(tally *t, const char *fmt, const char *a, const char *b, size_t i)
{
    if (!t->first[0])
        snprintf(t->first, sizeof t->first, fmt, a, b, i);
}

int main(void)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        fprintf(stderr, "test_cuda_codecs: no CUDA device found\n");
        return 2;
    }
    char dev[512];
    KK(kkcu_device_name(dev, sizeof dev, &kerr));
    printf("test_cuda_codecs: device %s\n", dev);
    int failed = 0;
    size_t total_runs = 0;

    /* errors: a bad n and a kind without a GPU path, located */
    {
        codec_spec sp;
        kk_err e;
        kkcu_codec *c = NULL;
        codec_spec_parse("lloyd:bits=2", &sp, &e);
        const kk_code rc = kkcu_codec_init(&c, &sp, &e);
        const bool ok1 = rc == KK_E_UNSUPPORTED && !strcmp(e.where, "codec") && !c;
        codec_spec_parse("q8_0", &sp, &e);
        KK(kkcu_codec_init(&c, &sp, &kerr));
        const kk_code rc2 = kkcu_encode(c, NULL, KKCU_F32, 33, NULL, NULL, &e);
        const bool ok2 = rc2 == KK_E_RANGE && !strcmp(e.where, "n");
        kkcu_codec_free(c);
        kkcu_codec_free(NULL);
        printf("%s errors: lloyd refused (%s), n=33 refused for q8_0 (%s)\n",
               ok1 && ok2 ? "ok  " : "FAIL", ok1 ? "unsupported, at codec" : "wrong",
               ok2 ? "range, at n" : "wrong");
        failed |= !(ok1 && ok2);
    }

    const char *only = getenv("KKCU_TEST_ONLY");
    for (size_t si = 0; si < KKCU_N_TEST_SPECS; si++) {
        const char *spec = KKCU_TEST_SPECS[si];
        if (only && *only && !strstr(spec, only))
            continue;
        codec_spec sp;
        kk_err e;
        if (codec_spec_parse(spec, &sp, &e) != KK_OK) {
            printf("FAIL %s: %s\n", spec, e.msg);
            failed = 1;
            continue;
        }
        kkcu_codec *g = NULL;
        KK(kkcu_codec_init(&g, &sp, &kerr));
        codec *c = kkcu_codec_cpu(g);
        const size_t n = kkcu_test_n(kkcu_block_values(g)), nb = kkcu_encoded_bytes(g, n);
        /* the CPU side of every (input, dtype), and random bytes last */
        const size_t n_cases = 2 * KKCU_N_TEST_INPUTS + 1;
        cpu_case *cases = (cpu_case *)calloc(n_cases, sizeof *cases);
        float *x0 = (float *)malloc(n * sizeof(float));
        for (size_t k = 0; k < n_cases; k++) {
            cpu_case *cc = &cases[k];
            cc->b_ref = (uint8_t *)malloc(nb);
            cc->b_fast = (uint8_t *)malloc(nb);
            cc->y_ref = (float *)malloc(n * sizeof(float));
            cc->y_fast = (float *)malloc(n * sizeof(float));
            cc->x = (float *)malloc(n * sizeof(float));
            cc->x_bf16 = (uint16_t *)malloc(n * sizeof(uint16_t));
            if (k < n_cases - 1) {
                KKCU_TEST_INPUTS[k / 2].fill(x0, n, 1000 + si);
                if (k % 2)
                    kkcu_to_bf16(x0, n, cc->x_bf16, cc->x);
                else
                    memcpy(cc->x, x0, n * sizeof(float));
                codec_set_ref(c, true);
                codec_encode(c, cc->x, n, cc->b_ref);
                codec_set_ref(c, false);
                codec_encode(c, cc->x, n, cc->b_fast);
            } else {
                uint64_t s = 77 + si;
                for (size_t i = 0; i < nb; i++)
                    cc->b_ref[i] = (uint8_t)kk_splitmix64(&s);
                memcpy(cc->b_fast, cc->b_ref, nb);
            }
            codec_set_ref(c, true);
            codec_decode(c, cc->b_ref, n, cc->y_ref);
            codec_set_ref(c, false);
            codec_decode(c, cc->b_ref, n, cc->y_fast);
        }
        const char *cpu_fast_name = codec_impl_name(c);
        codec_set_ref(c, false);

        void *d_x;
        uint8_t *d_b;
        float *d_y;
        uint16_t *d_yh;
        CK(cudaMalloc(&d_x, n * sizeof(float)));
        CK(cudaMalloc((void **)&d_b, nb));
        CK(cudaMalloc((void **)&d_y, n * sizeof(float)));
        CK(cudaMalloc((void **)&d_yh, n * sizeof(uint16_t)));
        uint8_t *hb = (uint8_t *)malloc(nb);
        float *hy = (float *)malloc(n * sizeof(float));
        uint16_t *hyh = (uint16_t *)malloc(n * sizeof(uint16_t));
        const int n_impl = sp.axis == CODEC_AXIS_TOKEN ? 1 : 3; /* token: one kernel */
        for (int im = 0; im < n_impl; im++) {
            kkcu_set_impl(g, IMPLS[im]);
            KK(kkcu_reset_stats(g, &kerr));
            tally t;
            memset(&t, 0, sizeof t);
            size_t want_enc = 0, want_dec = 0;
            for (size_t k = 0; k < n_cases; k++) {
                const cpu_case *cc = &cases[k];
                const bool rnd = k == n_cases - 1, bf = !rnd && k % 2;
                const char *iname = rnd ? "random_bytes" : KKCU_TEST_INPUTS[k / 2].name;
                const char *tname = rnd ? "bytes" : bf ? "bf16" : "f32";
                if (!rnd) {
                    if (bf)
                        CK(cudaMemcpy(d_x, cc->x_bf16, n * 2, cudaMemcpyHostToDevice));
                    else
                        CK(cudaMemcpy(d_x, cc->x, n * 4, cudaMemcpyHostToDevice));
                    CK(cudaMemset(d_b, POISON[im], nb));
                    KK(kkcu_encode(g, d_x, bf ? KKCU_BF16 : KKCU_F32, n, d_b, NULL, &kerr));
                    KK(kkcu_sync(&kerr));
                    want_enc += n;
                    CK(cudaMemcpy(hb, d_b, nb, cudaMemcpyDeviceToHost));
                    const kkcu_diff dr = kkcu_cmp_bytes(hb, cc->b_ref, nb);
                    const kkcu_diff df = kkcu_cmp_bytes(hb, cc->b_fast, nb);
                    const kkcu_diff rf = kkcu_cmp_bytes(cc->b_ref, cc->b_fast, nb);
                    t.enc_ref += dr.mismatches;
                    t.enc_fast += df.mismatches;
                    t.cpu_diff += rf.mismatches;
                    if (dr.mismatches)
                        note_first(&t, "encode %s %s: byte %zu", iname, tname, dr.first);
                    t.runs++;
                }
                /* decode the CPU's bytes */
                CK(cudaMemcpy(d_b, cc->b_ref, nb, cudaMemcpyHostToDevice));
                CK(cudaMemset(d_y, POISON[im], n * sizeof(float)));
                CK(cudaMemset(d_yh, POISON[im], n * sizeof(uint16_t)));
                KK(kkcu_decode(g, d_b, n, d_y, KKCU_F32, NULL, &kerr));
                KK(kkcu_decode(g, d_b, n, d_yh, KKCU_BF16, NULL, &kerr));
                KK(kkcu_sync(&kerr));
                want_dec += 2 * n;
                CK(cudaMemcpy(hy, d_y, n * sizeof(float), cudaMemcpyDeviceToHost));
                CK(cudaMemcpy(hyh, d_yh, n * sizeof(uint16_t), cudaMemcpyDeviceToHost));
                const kkcu_diff dr = kkcu_cmp_f32(hy, cc->y_ref, n);
                const kkcu_diff df = kkcu_cmp_f32(hy, cc->y_fast, n);
                const kkcu_diff dh = kkcu_cmp_bf16(hyh, cc->y_ref, n);
                t.dec_ref += dr.mismatches;
                t.dec_fast += df.mismatches;
                t.dec_bf16 += dh.mismatches;
                t.nan_pairs += dr.nan_pairs;
                if (dr.mismatches)
                    note_first(&t, "decode %s %s: value %zu", iname, tname, dr.first);
                if (dh.mismatches)
                    note_first(&t, "decode to bf16 %s %s: value %zu", iname, tname, dh.first);
                t.runs += 2;
                /* the control, once: a flipped byte must be caught */
                if (si == 0 && im == 0 && k == 0) {
                    hb[nb / 2] ^= 0x10;
                    const bool bites = kkcu_cmp_bytes(hb, cc->b_ref, nb).mismatches == 1;
                    uint32_t u;
                    memcpy(&u, &hy[n / 3], 4);
                    u ^= 1u;
                    memcpy(&hy[n / 3], &u, 4);
                    const bool bites2 = kkcu_cmp_f32(hy, cc->y_ref, n).mismatches == 1;
                    printf("%s control: a flipped byte and a changed value are caught\n",
                           bites && bites2 ? "ok  " : "FAIL");
                    failed |= !(bites && bites2);
                }
            }
            kkcu_stats st;
            KK(kkcu_get_stats(g, &st, &kerr));
            const bool counts_ok = st.values_encoded == want_enc && st.values_decoded == want_dec;
            const bool ok = !t.enc_ref && !t.dec_ref && !t.dec_bf16 && counts_ok;
            printf("%s %-44s %-6s %3zu runs of %zu values: vs CPU ref: encode %zu, decode %zu, "
                   "bf16 decode %zu mismatches; vs CPU %s: %zu, %zu; NaN pairs %zu; device "
                   "counts %s%s%s\n",
                   ok ? "ok  " : "FAIL", spec, IMPLS[im], t.runs, n, t.enc_ref, t.dec_ref,
                   t.dec_bf16, cpu_fast_name, t.enc_fast, t.dec_fast, t.nan_pairs,
                   counts_ok ? "right" : "WRONG", t.first[0] ? "; first: " : "", t.first);
            if (im == 0 && t.cpu_diff)
                printf("     note: %s: the CPU's %s path writes other bytes than its _ref path "
                       "(%zu bytes over the inputs): a CPU matter, _ref is the reference\n",
                       spec, cpu_fast_name, t.cpu_diff);
            failed |= !ok;
            total_runs += t.runs;
        }
        cudaFree(d_x), cudaFree(d_b), cudaFree(d_y), cudaFree(d_yh);
        free(hb), free(hy), free(hyh), free(x0);
        for (size_t k = 0; k < n_cases; k++) {
            free(cases[k].b_ref), free(cases[k].b_fast), free(cases[k].y_ref);
            free(cases[k].y_fast), free(cases[k].x), free(cases[k].x_bf16);
        }
        free(cases);
        kkcu_codec_free(g);
    }
    printf("test_cuda_codecs: %zu GPU runs, %s\n", total_runs,
           failed ? "FAILED" : "every byte and value equal to the CPU's _ref path");
    return failed ? 1 : 0;
}
