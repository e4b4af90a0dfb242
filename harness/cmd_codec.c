/*
 * kakeya codec eval --codec SPEC --data gaussian|kv:MODEL|k:MODEL|v:MODEL
 *                   [--n N] [--seed S] [--ref] [--json] [--threads T]
 *                   [--device cpu|cuda]
 * kakeya codec attn ... (cmd_codec_gpu.c: attention over a packed cache)
 *
 * Encodes N values with the codec, decodes them, and reports the measured
 * rate (bits/value from the bytes written), the distortion
 * rel_mse = sum (x - x^)^2 / sum x^2, SNR = -10 log10(rel_mse), on Gaussian
 * data the gap to the rate-distortion bound D(R) = 2^(-2R)
 * (gap_db = 10 log10(rel_mse / 2^(-2R)), >= 0), and encode and decode
 * throughput in values/s on one core.
 *
 * Data: `gaussian` is N i.i.d. N(0,1) float32 values from the seed;
 * `kv:`/`k:`/`v:` run MODEL on random token ids from the seed and take the
 * cache rows each layer appends (K after RoPE, V), as the KV cache would
 * store them: K and V together, or one of them. The codec's unit must
 * divide the row; a rotation's dim defaults to head_dim there.
 *
 * --json prints the object of docs/codecs.md {"codec", "data", "n_values",
 * "bits_per_value", "rel_mse", "snr_db", "gap_db" (Gaussian only),
 * "encode_values_per_s", "decode_values_per_s"}.
 *
 * --device cuda (a `make cuda` build; others exit 2 saying so): the same
 * data encoded and decoded on the GPU (engine/cuda/kkcu.h), the figures
 * from the GPU's codes and floats, the times the GPU's (F32 in and out,
 * calls in batches between synchronizations), and in the JSON "device"
 * (the GPU's name), "bytes_equal_cpu" and "floats_equal_cpu" (the GPU's
 * codes against codec_encode's, its decode of the CPU's codes against
 * codec_decode's: docs/gpu.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cuda.h"
#include "cmd.h"
#include "cmd_codec_gpu.h"
#include "codec.h"
#include "kk_args.h"
#include "cli_bounds.h"
#include "kk_rand.h"
#include "kk_stats.h"
#include "session.h"

static void help(FILE *out)
{
    char th[128];
    fprintf(out,
            "usage: kakeya codec eval --codec SPEC --data gaussian|kv:MODEL|k:MODEL|v:MODEL\n"
            "       [--n N] [--seed S] [--ref] [--json] [--threads T] [--device cpu|cuda]\n"
            "       kakeya codec attn --help   (attention over a packed cache on the GPU)\n"
            "  --codec SPEC   e.g. affine:bits=4,group=64  q4_0  e8:bits=4,rotate=hadamard\n"
            "                 (identity, f16, bf16, q8_0, q4_0, affine, d4, e8, lloyd,\n"
            "                 turbo, kl_d4, kl_e8, e8ans; docs/codecs.md)\n"
            "  --data D       gaussian: i.i.d. N(0,1); kv:/k:/v:MODEL.gguf: the K and/or V\n"
            "                 rows MODEL appends to its cache on random tokens\n"
            "  --n N          values (default 1048576; rounded down to the codec's unit)\n"
            "  --seed S       data seed (default 1)\n"
            "  --ref          time the plain scalar paths instead of the fast ones\n"
            "  --json         one JSON object (docs/codecs.md lists its fields)\n"
            "  --threads T    %s; default: the cores available\n"
            "  --device D     cpu (default) or cuda: encode and decode on the GPU and compare\n"
            "                 with the CPU codec (%s)\n"
            "exit codes: 0 ok, 2 bad input (spec, model, sizes; --device cuda without CUDA),\n"
            "3 usage\n",
            cli_bound_help("--threads", th, sizeof th),
            cli_cuda_built() ? "this build has CUDA" : "this build has none: `make cuda`");
}

/* K/V rows of a model on random tokens: *x (malloc'ed) holds n values,
 * *row the row length, *head_dim the head dimension. which: 'b' both, 'k', 'v'. */
static kk_code kv_fill(const char *path, char which, size_t want, int64_t tok_mult,
                       uint64_t seed, float **x, size_t *n, int64_t *row, int32_t *head_dim,
                       kk_err *err)
{
    session s;
    fwd_state *st = NULL;
    kv_cache *kv = NULL;
    int32_t *ids = NULL;
    fwd_capture cap = {0};
    *x = NULL;
    kk_code rc = session_open(&s, path, false, err);
    if (rc != KK_OK)
        return rc;
    const model_hparams *hp = &s.m->hp;
    const int64_t rk = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t rv = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    if (which == 'b' && rk != rv) {
        rc = kk_err_set(err, KK_E_UNSUPPORTED,
                        "%s: K rows (%lld) and V rows (%lld) differ: use k: or v:", path,
                        (long long)rk, (long long)rv);
        goto done;
    }
    *row = which == 'v' ? rv : rk;
    *head_dim = which == 'v' ? hp->head_dim_v : hp->head_dim_k;
    const int64_t per_tok = hp->n_layers * (which == 'b' ? rk + rv : *row);
    int64_t n_tok = ((int64_t)want + per_tok - 1) / per_tok;
    /* A whole number of tok_mult-token blocks per layer, so a codec unit
     * spanning tokens (affine axis=token) never straddles two layers. */
    n_tok = (n_tok + tok_mult - 1) / tok_mult * tok_mult;
    if (n_tok > hp->n_ctx_train)
        n_tok = hp->n_ctx_train / tok_mult * tok_mult;
    if (n_tok < 1) {
        rc = kk_err_set(err, KK_E_RANGE, "%s: a context of %lld tokens holds no block of %lld",
                        path, (long long)hp->n_ctx_train, (long long)tok_mult);
        goto done;
    }
    ids = malloc((size_t)n_tok * sizeof *ids);
    cap.k_post = malloc((size_t)(hp->n_layers * n_tok * rk) * sizeof(float));
    cap.v = malloc((size_t)(hp->n_layers * n_tok * rv) * sizeof(float));
    *n = (size_t)(n_tok * per_tok);
    *x = malloc(*n * sizeof(float));
    if (!ids || !cap.k_post || !cap.v || !*x) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory for %lld tokens", (long long)n_tok);
        goto done;
    }
    uint64_t sd = seed;
    for (int64_t i = 0; i < n_tok; i++)
        ids[i] = (int32_t)(kk_splitmix64(&sd) % (uint64_t)hp->n_vocab);
    rc = session_cache_init(&s, n_tok, &kv, &st, err);
    if (rc == KK_OK)
        rc = fwd_run(st, kv, ids, NULL, n_tok, FWD_LOGITS_NONE, NULL, &cap, err);
    if (rc != KK_OK)
        goto done;
    size_t o = 0;
    if (which != 'v') {
        memcpy(*x, cap.k_post, (size_t)(hp->n_layers * n_tok * rk) * sizeof(float));
        o = (size_t)(hp->n_layers * n_tok * rk);
    }
    if (which != 'k')
        memcpy(*x + o, cap.v, (size_t)(hp->n_layers * n_tok * rv) * sizeof(float));
done:
    if (rc != KK_OK) {
        if (err && !err->file[0])
            kk_err_file(err, path);
        free(*x);
        *x = NULL;
    }
    free(cap.k_post);
    free(cap.v);
    free(ids);
    fwd_free(st);
    kv_free(kv);
    session_close(&s);
    return rc;
}

/* Seconds per pass of fn, repeated until at least 0.25 s have passed. */
#define EVAL_MIN_TIME_S 0.25

static int eval(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *spec_arg = NULL, *data_arg = NULL, *n_arg = NULL, *seed_arg = NULL,
               *threads_arg = NULL, *device_arg = NULL;
    bool json = false, use_ref = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        } else if (!strcmp(a, "--codec")) {
            dst = &spec_arg;
        } else if (!strcmp(a, "--data")) {
            dst = &data_arg;
        } else if (!strcmp(a, "--n")) {
            dst = &n_arg;
        } else if (!strcmp(a, "--seed")) {
            dst = &seed_arg;
        } else if (!strcmp(a, "--threads")) {
            dst = &threads_arg;
        } else if (!strcmp(a, "--device")) {
            dst = &device_arg;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--ref")) {
            use_ref = true;
        } else {
            fprintf(stderr, "kakeya codec eval: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (dst && !(*dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("codec eval", &err);
    }
    if (!spec_arg || !data_arg) {
        fprintf(stderr, "kakeya codec eval: %s is required\n",
                !spec_arg ? "--codec SPEC" : "--data D");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    int64_t n_req = 1 << 20, seed = 1;
    int threads;
    codec_spec spec;
    if ((n_arg && kk_arg_i64("--n", n_arg, 1, (int64_t)1 << 32, &n_req, &err) != KK_OK) ||
        (seed_arg && kk_arg_i64("--seed", seed_arg, 0, INT64_MAX, &seed, &err) != KK_OK) ||
        session_parse_threads(threads_arg, &threads, &err) != KK_OK)
        return cmd_fail("codec eval", &err);
    if (codec_spec_parse(spec_arg, &spec, &err) != KK_OK) {
        kk_err_where(&err, "--codec");
        return cmd_fail("codec eval", &err);
    }
    const bool on_gpu = device_arg && !strcmp(device_arg, "cuda");
    if (device_arg && !on_gpu && strcmp(device_arg, "cpu") != 0) {
        kk_err_set(&err, KK_E_RANGE, "--device: '%s' is not allowed (allowed: cpu, cuda)",
                   device_arg);
        kk_err_where(&err, "--device");
        return cmd_fail("codec eval", &err);
    }
    if (on_gpu && !cli_cuda_built()) { /* before any data is made */
        cli_cuda_refuse(&err, "--device cuda");
        return cmd_fail("codec eval", &err);
    }

    float *x = NULL, *y = NULL;
    uint8_t *buf = NULL;
    codec *c = NULL;
    int rc = KK_EXIT_OK;
    size_t n = (size_t)n_req;
    const bool gauss = !strcmp(data_arg, "gaussian");
    int64_t row = 0;
    if (gauss) {
        x = malloc(n * sizeof(float));
        if (!x) {
            kk_err_set(&err, KK_E_NOMEM, "out of memory for %zu values", n);
            goto fail;
        }
        codec_fill_gaussian(x, n, (uint64_t)seed);
    } else {
        const char which = !strncmp(data_arg, "kv:", 3) ? 'b'
                           : !strncmp(data_arg, "k:", 2) ? 'k'
                           : !strncmp(data_arg, "v:", 2) ? 'v'
                                                         : 0;
        if (!which) {
            kk_err_set(&err, KK_E_RANGE,
                       "--data: '%s' is not allowed (allowed: gaussian, kv:MODEL, k:MODEL, "
                       "v:MODEL)",
                       data_arg);
            kk_err_where(&err, "--data");
            goto fail;
        }
        if (!data_arg[which == 'b' ? 3 : 2]) {
            kk_err_set(&err, KK_E_RANGE, "--data: '%s' names no model (allowed: kv:MODEL, "
                       "k:MODEL, v:MODEL with a GGUF path)", data_arg);
            kk_err_where(&err, "--data");
            goto fail;
        }
        int32_t head_dim = 0;
        const bool tok = spec.axis == CODEC_AXIS_TOKEN;
        if (kv_fill(strchr(data_arg, ':') + 1, which, n, tok ? spec.group : 1, (uint64_t)seed,
                    &x, &n, &row, &head_dim, &err) != KK_OK)
            goto fail;
        if (spec.rotate == CODEC_ROTATE_HADAMARD && spec.dim == 0)
            spec.dim = head_dim;
        if (tok && spec.channels == 0)
            spec.channels = (int32_t)row; /* KIVI: every channel of the cache row */
        if (tok && spec.channels != row) {
            kk_err_set(&err, KK_E_RANGE,
                       "--codec: channels=%d is not the model's cache row of %lld values",
                       (int)spec.channels, (long long)row);
            kk_err_where(&err, "--codec");
            goto fail;
        }
    }
    if (codec_init(&c, &spec, &err) != KK_OK) {
        kk_err_where(&err, "--codec");
        goto fail;
    }
    codec_set_ref(c, use_ref);
    const size_t unit = codec_block_values(c);
    if (row && row % (int64_t)unit != 0 && spec.axis != CODEC_AXIS_TOKEN) {
        kk_err_set(&err, KK_E_RANGE,
                   "--codec: the codec's unit of %zu values does not divide the model's "
                   "cache row of %lld values",
                   unit, (long long)row);
        kk_err_where(&err, "--codec");
        goto fail;
    }
    n -= n % unit;
    if (n == 0) {
        kk_err_set(&err, KK_E_RANGE, "--n: fewer values than the codec's unit of %zu", unit);
        kk_err_where(&err, "--n");
        goto fail;
    }
    const size_t bytes = codec_encoded_bytes(c, n);
    buf = malloc(bytes);
    y = malloc(n * sizeof(float));
    if (!buf || !y) {
        kk_err_set(&err, KK_E_NOMEM, "out of memory for %zu values", n);
        goto fail;
    }
    int reps = 0;
    double t0 = kk_now_s(), t_enc, t_dec;
    size_t written = 0; /* bytes a call wrote: `bytes` except for e8ans (variable) */
    codec_gpu_result gpu;
    memset(&gpu, 0, sizeof gpu);
    codec_stats enc_stats;
    if (on_gpu) {
        if (codec_eval_gpu(codec_get_spec(c), c, x, n, EVAL_MIN_TIME_S, buf, y, &gpu, &err) !=
            KK_OK) {
            kk_err_where(&err, "--device cuda");
            goto fail;
        }
        written = gpu.written;
        t_enc = gpu.t_enc;
        t_dec = gpu.t_dec;
        enc_stats = *codec_get_stats(c); /* the CPU codec's, of the comparison */
    } else {
        do {
            written = codec_encode(c, x, n, buf);
            reps++;
        } while ((t_enc = kk_now_s() - t0) < EVAL_MIN_TIME_S);
        t_enc /= reps;
        enc_stats = *codec_get_stats(c);
        reps = 0;
        t0 = kk_now_s();
        do {
            codec_decode(c, buf, n, y);
            reps++;
        } while ((t_dec = kk_now_s() - t0) < EVAL_MIN_TIME_S);
        t_dec /= reps;
    }

    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)x[i] - (double)y[i];
        num += d * d;
        den += (double)x[i] * (double)x[i];
    }
    const double bpv = 8.0 * (double)written / (double)n;
    const double rel = den > 0.0 ? num / den : 0.0;
    /* A lossless codec has no finite SNR and JSON has no Infinity: SNR and
     * gap use rel_mse clamped at 2^-48 (144.5 dB, the error of rounding to
     * float32 is 2^-48 of the power); rel_mse itself is printed as 0. */
    const double rel_c = rel > 0x1p-48 ? rel : 0x1p-48;
    const double snr = -10.0 * log10(rel_c);
    const double gap = 10.0 * log10(rel_c / pow(2.0, -2.0 * bpv));
    char canon[256];
    codec_spec_format(codec_get_spec(c), canon, sizeof canon);
    if (json) {
        printf("{\"codec\": \"%s\", \"data\": \"%s\", \"n_values\": %zu, "
               "\"bits_per_value\": %.17g, \"rel_mse\": %.17g, \"snr_db\": %.17g, ",
               spec_arg, gauss ? "gaussian" : data_arg, n, bpv, rel, snr);
        if (gauss)
            printf("\"gap_db\": %.17g, ", gap);
        printf("\"encode_values_per_s\": %.6g, \"decode_values_per_s\": %.6g",
               (double)n / t_enc, (double)n / t_dec);
        if (on_gpu)
            printf(", \"device\": \"%s\", \"bytes_equal_cpu\": %s, \"floats_equal_cpu\": %s",
                   gpu.device, gpu.bytes_equal_cpu ? "true" : "false",
                   gpu.floats_equal_cpu ? "true" : "false");
        printf("}\n");
    } else {
        printf("codec       %s\n", canon);
        printf("data        %s (seed %lld)\n", gauss ? "gaussian N(0,1)" : data_arg,
               (long long)seed);
        printf("n_values    %zu\n", n);
        printf("bits/value  %.6g (%zu bytes%s; stream header %zu bytes, not counted)\n", bpv,
               written, codec_is_variable(c) ? " written, variable rate" : "",
               codec_header_bytes(c));
        printf("rel_mse     %.6g\n", rel);
        printf("snr_db      %.4f\n", snr);
        if (gauss)
            printf("gap_db      %.4f (to D(R) = 2^(-2R) at R = %.4g)\n", gap, bpv);
        printf("encode      %.2f Mvalues/s (%s)\n", (double)n / t_enc * 1e-6,
               on_gpu ? gpu.device : codec_impl_name(c));
        printf("decode      %.2f Mvalues/s\n", (double)n / t_dec * 1e-6);
        if (on_gpu)
            printf("vs the CPU  codes %s, decoded floats %s\n",
                   gpu.bytes_equal_cpu ? "equal byte for byte" : "DIFFER",
                   gpu.floats_equal_cpu ? "equal bit for bit" : "DIFFER");
        if (spec.kind == CODEC_KIND_D4 || spec.kind == CODEC_KIND_E8) {
            uint64_t blocks = 0;
            for (int s = 0; s < spec.scales; s++)
                blocks += enc_stats.blocks_by_scale[s];
            printf("scales      ");
            for (int s = 0; s < spec.scales; s++)
                printf("%s%.4f", s ? " " : "", (double)enc_stats.blocks_by_scale[s] / (double)blocks);
            printf("  (share of 8-value blocks per scale index; the last is the escape)\n");
            printf("overload    %.4g of blocks chose a larger scale because a smaller one "
                   "overloaded\n",
                   (double)enc_stats.blocks_overloaded / (double)blocks);
        }
        if (spec.kind == CODEC_KIND_LLOYD || spec.kind == CODEC_KIND_TURBO)
            printf("escapes     %llu vectors whose scale left F16's normal range (BF16 escape)\n",
                   (unsigned long long)enc_stats.norm_escapes);
    }
    if (fflush(stdout) != 0) {
        kk_err_set(&err, KK_E_IO, "writing to stdout failed");
        goto fail;
    }
    goto done;
fail:
    rc = cmd_fail("codec eval", &err);
done:
    codec_free(c);
    free(buf);
    free(x);
    free(y);
    return rc;
}

int cmd_codec(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "eval"))
        return eval(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "kld"))
        return cmd_codec_kld(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "attn"))
        return cmd_codec_attn(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        help(stdout);
        return KK_EXIT_OK;
    }
    fprintf(stderr, "kakeya codec: unknown or missing subcommand (allowed: eval, kld, attn)\n");
    help(stderr);
    return KK_EXIT_USAGE;
}
