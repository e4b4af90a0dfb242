/*
 * kakeya codec kld -m MODEL --kv-codec SPEC [--kv-codec-v SPEC]
 *   (-p TEXT | --tokens IDS) [--threads T] [--act f32|ggml] [--json]
 * The damage a K/V codec does to the model's output: teacher-forced over
 * the text (the ids given, or the prompt tokenized with BOS as the model
 * asks), every position's next-token distribution with the codec in the
 * KV cache against the exact F32 cache's, as KL(p_exact || p_codec)
 * (engine/kld.h): mean, 99th percentile, max and top-1 agreement. Prints a
 * summary, or with --json one object:
 *   {"model", "sha256", "codec", "codec_v", "bits_per_value", "n_positions",
 *    "kld_mean", "kld_p99", "kld_max", "top1_agree"}
 * Both caches hold exactly the text's tokens; the same forward pass runs
 * both, so the difference is the codec's alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cli_bounds.h"
#include "codec.h"
#include "json.h"
#include "kk_args.h"
#include "kld_codec.h"
#include "kv_codec.h"
#include "session.h"
#include "sha256.h"
#include "tokenizer.h"

static void help(FILE *out)
{
    char th[128];
    fprintf(out,
            "usage: kakeya codec kld -m MODEL --kv-codec SPEC [--kv-codec-v SPEC]\n"
            "       (-p TEXT | --tokens IDS) [--threads T] [--act f32|ggml]\n"
            "       [--q-round exact|f16|q8_0] [--json]\n"
            "KL divergence of the next-token distributions with the codec in the KV\n"
            "cache against the exact F32 cache, teacher-forced over the text\n"
            "  -m, --model FILE     GGUF model (llama, qwen3 or gemma3)\n"
            "  --kv-codec SPEC      K's (and V's) codec (docs/codecs.md)\n"
            "  --kv-codec-v SPEC    V's own codec\n"
            "  -p TEXT              the text, tokenized (BOS as the model asks)\n"
            "  --tokens IDS         comma-separated token ids, used verbatim\n"
            "  --threads T          %s; default: the cores available\n"
            "  --act f32|ggml       activations of Q8_0/F16 products (default ggml)\n"
            "  --q-round exact|f16|q8_0  round the coded pass's queries as llama.cpp's\n"
            "                       flash attention does against that K type (default\n"
            "                       exact: the cache's damage alone)\n"
            "  --json               one JSON object on stdout\n"
            "exit codes: 0 ok, 2 bad input (file, spec, ids), 3 usage\n",
            cli_bound_help("--threads", th, sizeof th));
}

int cmd_codec_kld(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *path = NULL, *codec_arg = NULL, *codec_v_arg = NULL, *prompt = NULL,
               *ids_arg = NULL, *threads_arg = NULL, *act_arg = NULL, *qr_arg = NULL;
    bool json = false;
    struct { const char *flag; const char **dst; } vals[] = {
        {"-m", &path}, {"--model", &path}, {"--kv-codec", &codec_arg},
        {"--kv-codec-v", &codec_v_arg}, {"-p", &prompt}, {"--tokens", &ids_arg},
        {"--threads", &threads_arg}, {"--act", &act_arg}, {"--q-round", &qr_arg},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof vals / sizeof vals[0] && strcmp(a, vals[k].flag) != 0)
            k++;
        if (k == sizeof vals / sizeof vals[0]) {
            fprintf(stderr, "kakeya codec kld: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*vals[k].dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("codec kld", &err);
    }
    if (!path || !codec_arg || (!prompt == !ids_arg)) {
        fprintf(stderr, "kakeya codec kld: %s\n",
                !path ? "-m MODEL is required"
                : !codec_arg ? "--kv-codec SPEC is required"
                             : "give the text as one of -p TEXT or --tokens IDS");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    codec_spec ks, vs;
    int threads;
    ops_act act;
    if (codec_spec_parse(codec_arg, &ks, &err) != KK_OK) {
        kk_err_where(&err, "--kv-codec");
        return cmd_fail("codec kld", &err);
    }
    vs = ks;
    if (codec_v_arg && codec_spec_parse(codec_v_arg, &vs, &err) != KK_OK) {
        kk_err_where(&err, "--kv-codec-v");
        return cmd_fail("codec kld", &err);
    }
    fwd_q_round q_round = FWD_Q_EXACT;
    if (qr_arg) {
        if (!strcmp(qr_arg, "f16")) {
            q_round = FWD_Q_F16;
        } else if (!strcmp(qr_arg, "q8_0")) {
            q_round = FWD_Q_Q8_0;
        } else if (strcmp(qr_arg, "exact") != 0) {
            kk_err_set(&err, KK_E_RANGE, "--q-round '%s' is not allowed (allowed: exact, f16, "
                       "q8_0)", qr_arg);
            kk_err_where(&err, "--q-round");
            return cmd_fail("codec kld", &err);
        }
    }
    if (session_parse_threads(threads_arg, &threads, &err) != KK_OK ||
        session_parse_act(act_arg, &act, &err) != KK_OK)
        return cmd_fail("codec kld", &err);

    session s;
    if (session_open(&s, path, prompt != NULL, &err) != KK_OK)
        return cmd_fail("codec kld", &err);
    model_set_act(s.m, act);
    int rc = KK_EXIT_OK;
    int32_t *ids = NULL;
    size_t n = 0;
    const int64_t V = s.m->hp.n_vocab;
    char sha[65];
    if (prompt) {
        if (tok_encode(s.t, prompt, strlen(prompt), tok_add_bos(s.t), &ids, &n, &err) != KK_OK)
            goto fail;
    } else if (kk_arg_ids("--tokens", ids_arg, V - 1, "token id", &ids, &n, &err) != KK_OK) {
        goto fail;
    }
    if (n < 2) {
        kk_err_set(&err, KK_E_RANGE, "the text gives %zu token%s (allowed: at least 2, so that "
                   "a position has a next token)", n, n == 1 ? "" : "s");
        kk_err_where(&err, prompt ? "-p" : "--tokens");
        goto fail;
    }
    if (q_round == FWD_Q_Q8_0 && s.m->hp.head_dim_k % 32 != 0) {
        kk_err_set(&err, KK_E_RANGE, "--q-round q8_0 rounds each head's query in blocks of 32; "
                   "%s has heads of %d values (allowed: a multiple of 32; use exact or f16)",
                   path, (int)s.m->hp.head_dim_k);
        kk_err_where(&err, "--q-round");
        goto fail;
    }
    const kv_codec_opts ko = {0};
    kld_codec_result res;
    if (sha256_file_hex(path, sha, &err) != KK_OK)
        goto fail;
    if (kld_codec_run(s.m, ids, n, &ks, &vs, &ko, q_round, &res, &err) != KK_OK) {
        /* the cache names its fields; the user gave flags */
        kk_err_rename(&err, "k_codec", "--kv-codec");
        kk_err_rename(&err, "v_codec", codec_v_arg ? "--kv-codec-v" : "--kv-codec");
        goto fail;
    }
    const kld_summary sum = res.sum;
    /* what the cache's rows cost (K and V, every byte the codecs wrote) */
    const double bits = res.bits_per_value;
    char kn[160], vn[160];
    codec_spec_format(&ks, kn, sizeof kn);
    codec_spec_format(&vs, vn, sizeof vn);
    if (json) {
        printf("{\"model\": ");
        json_write_string(stdout, path, strlen(path));
        printf(", \"sha256\": \"%s\", \"codec\": ", sha);
        json_write_string(stdout, kn, strlen(kn));
        printf(", \"codec_v\": ");
        json_write_string(stdout, vn, strlen(vn));
        printf(", \"bits_per_value\": ");
        json_write_double(stdout, bits);
        printf(", \"n_positions\": %lld, \"kld_mean\": ", (long long)sum.n);
        json_write_double(stdout, sum.mean);
        printf(", \"kld_p99\": ");
        json_write_double(stdout, sum.p99);
        printf(", \"kld_max\": ");
        json_write_double(stdout, sum.max);
        printf(", \"top1_agree\": ");
        json_write_double(stdout, sum.top1_agree);
        printf("}\n");
    } else {
        printf("%s: K %s, V %s (%.4g bits/value), %lld positions: KLD mean %.6g, p99 %.6g, "
               "max %.6g nats; top-1 agreement %.4f\n", path, kn, vn, bits, (long long)sum.n,
               sum.mean, sum.p99, sum.max, sum.top1_agree);
    }
    if (fflush(stdout) != 0) {
        kk_err_set(&err, KK_E_IO, "writing to stdout failed");
        goto fail;
    }
    goto done;
fail:
    rc = cmd_fail("codec kld", &err);
done:
    free(ids);
    session_close(&s);
    return rc;
}
