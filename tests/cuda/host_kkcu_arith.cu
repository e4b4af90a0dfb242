/*
 * host_kkcu_arith: kkcu_arith.cuh's unit functions, run on the CPU (they
 * are __host__ __device__), against libkk_engine's codec_encode and
 * codec_decode, _ref path and fast path, for every spec and input of
 * kkcu_test_util.cuh: the same bytes, the same floats. The GPU's simple
 * kernels run exactly these functions and the tile and fast kernels their
 * pieces, so this checks the arithmetic order without a GPU (`make
 * test-cuda` runs it wherever nvcc is). Also decodes random bytes (bytes no
 * encoder wrote: garbage scales, ranks past the cube) on both sides.
 *
 * One line per spec; exit 1 on any mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kkcu_arith.cuh"
#include "kkcu_internal.cuh"
#include "kkcu_test_util.cuh"

/* The host mirror of the kernels' unit loop: row codecs a unit at a time,
 * axis=token a channel at a time (k_token_encode's gather). */
static void host_encode(const kkcu_params *p, const float *x, size_t n, uint8_t *out)
{
    static float buf[KKCU_MAX_DIM];
    const size_t units = n / (size_t)p->unit_values;
    for (size_t u = 0; u < units; u++) {
        const float *xu = x + u * (size_t)p->unit_values;
        uint8_t *ou = out + u * (size_t)p->unit_bytes;
        if (p->axis == 1) {
            const int gb = 4 + p->bits * p->group / 8;
            for (int ch = 0; ch < p->channels; ch++)
                kkcu_affine_encode_group(xu + ch, p->channels, p->group, p->bits, ou + ch * gb);
        } else {
            memcpy(buf, xu, (size_t)p->unit_values * sizeof(float));
            kkcu_unit_encode(p, buf, ou);
        }
    }
}

static void host_decode(const kkcu_params *p, const uint8_t *in, size_t n, float *y)
{
    const size_t units = n / (size_t)p->unit_values;
    for (size_t u = 0; u < units; u++) {
        const uint8_t *iu = in + u * (size_t)p->unit_bytes;
        float *yu = y + u * (size_t)p->unit_values;
        if (p->axis == 1) {
            const int gb = 4 + p->bits * p->group / 8;
            for (int ch = 0; ch < p->channels; ch++)
                kkcu_affine_decode_group(iu + ch * gb, p->group, p->bits, yu + ch, p->channels);
        } else {
            kkcu_unit_decode(p, iu, yu);
        }
    }
}

int main(void)
{
    int failed = 0;
    size_t n_checks = 0, cpu_notes = 0;
    printf("host_kkcu_arith: kkcu_arith.cuh on the CPU against codec_encode/codec_decode "
           "(_ref and fast paths), %zu specs x %zu inputs\n",
           (size_t)KKCU_N_TEST_SPECS, (size_t)KKCU_N_TEST_INPUTS);
    for (size_t si = 0; si < KKCU_N_TEST_SPECS; si++) {
        const char *spec = KKCU_TEST_SPECS[si];
        codec_spec sp;
        kk_err e;
        codec *c;
        if (codec_spec_parse(spec, &sp, &e) != KK_OK || codec_init(&c, &sp, &e) != KK_OK) {
            printf("FAIL %-44s init: %s\n", spec, e.msg);
            failed = 1;
            continue;
        }
        kkcu_params p;
        kkcu_params_fill(c, &p);
        float signs[KKCU_MAX_DIM];
        if (p.dim) {
            codec_hadamard_signs(codec_get_spec(c)->seed, p.dim, signs);
            p.signs = signs;
        }
        const size_t n = kkcu_test_n(codec_block_values(c)), nb = codec_encoded_bytes(c, n);
        float *x = (float *)malloc(n * sizeof(float)), *yr = (float *)malloc(n * sizeof(float));
        float *yf = (float *)malloc(n * sizeof(float)), *yh = (float *)malloc(n * sizeof(float));
        uint8_t *br = (uint8_t *)malloc(nb), *bf = (uint8_t *)malloc(nb), *bh = (uint8_t *)malloc(nb);
        /* host against ref decides; host against fast is reported, and
         * where the CPU's own paths differ that is said apart */
        size_t enc_ref = 0, enc_fast = 0, dec_ref = 0, dec_fast = 0, cpu_enc = 0, cpu_dec = 0;
        size_t nan_pairs = 0;
        char first[256] = "", cpu_first[160] = "";
        for (size_t ii = 0; ii <= KKCU_N_TEST_INPUTS; ii++) {
            const bool random_bytes = ii == KKCU_N_TEST_INPUTS;
            const char *iname = random_bytes ? "random_bytes" : KKCU_TEST_INPUTS[ii].name;
            if (!random_bytes) {
                KKCU_TEST_INPUTS[ii].fill(x, n, 1000 + si);
                codec_set_ref(c, true);
                codec_encode(c, x, n, br);
                codec_set_ref(c, false);
                codec_encode(c, x, n, bf);
                host_encode(&p, x, n, bh);
                const kkcu_diff dr = kkcu_cmp_bytes(bh, br, nb), df = kkcu_cmp_bytes(bh, bf, nb);
                const kkcu_diff rf = kkcu_cmp_bytes(br, bf, nb);
                enc_ref += dr.mismatches;
                enc_fast += df.mismatches;
                cpu_enc += rf.mismatches;
                if (dr.mismatches && !first[0])
                    snprintf(first, sizeof first,
                             "encode %s: byte %zu (unit %zu) host %02x ref %02x", iname, dr.first,
                             dr.first / codec_block_bytes(c), bh[dr.first], br[dr.first]);
                if (rf.mismatches && !cpu_first[0])
                    snprintf(cpu_first, sizeof cpu_first, "encode %s: byte %zu ref %02x fast %02x",
                             iname, rf.first, br[rf.first], bf[rf.first]);
                n_checks += 2;
            } else {
                uint64_t s = 77 + si;
                for (size_t i = 0; i < nb; i++)
                    br[i] = (uint8_t)kk_splitmix64(&s);
            }
            codec_set_ref(c, true);
            codec_decode(c, br, n, yr);
            codec_set_ref(c, false);
            codec_decode(c, br, n, yf);
            host_decode(&p, br, n, yh);
            const kkcu_diff dr = kkcu_cmp_f32(yh, yr, n), df = kkcu_cmp_f32(yh, yf, n);
            const kkcu_diff rf = kkcu_cmp_f32(yr, yf, n);
            dec_ref += dr.mismatches;
            dec_fast += df.mismatches;
            cpu_dec += rf.mismatches;
            nan_pairs += dr.nan_pairs;
            if (dr.mismatches && !first[0])
                snprintf(first, sizeof first, "decode %s: value %zu host %a ref %a", iname,
                         dr.first, (double)yh[dr.first], (double)yr[dr.first]);
            if (rf.mismatches && !cpu_first[0])
                snprintf(cpu_first, sizeof cpu_first, "decode %s: value %zu ref %a fast %a",
                         iname, rf.first, (double)yr[rf.first], (double)yf[rf.first]);
            n_checks += 2;
        }
        const bool ok = enc_ref == 0 && dec_ref == 0;
        printf("%s %-44s %6zu values x %zu inputs: vs ref: encode %zu, decode %zu mismatches; "
               "vs fast (%s): %zu, %zu; NaN pairs %zu%s%s\n",
               ok ? "ok  " : "FAIL", spec, n, (size_t)KKCU_N_TEST_INPUTS + 1, enc_ref, dec_ref,
               codec_impl_name(c), enc_fast, dec_fast, nan_pairs, first[0] ? "; first: " : "",
               first);
        if (cpu_enc || cpu_dec) {
            printf("     note: the CPU's fast path differs from its _ref path here (%zu bytes, "
                   "%zu values; first: %s): a CPU matter, the reference is _ref\n",
                   cpu_enc, cpu_dec, cpu_first);
            cpu_notes++;
        }
        failed |= !ok;
        free(x), free(yr), free(yf), free(yh), free(br), free(bf), free(bh);
        codec_free(c);
    }
    printf("host_kkcu_arith: %zu comparisons against the _ref path: %s; %zu specs where the "
           "CPU's fast path differs from _ref\n",
           n_checks, failed ? "FAILED" : "all equal", cpu_notes);
    return failed;
}
