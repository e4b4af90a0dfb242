/*
 * kakeya logits -m FILE --tokens IDS [--threads T] [--act f32|ggml]
 *   [--kv-cache f32|f16 | --kv-codec SPEC [--kv-codec-v SPEC]]
 * Prints {"n_vocab": V, "logits": [[V floats], ...]}: one row per input
 * position, in order, each float with %.9g (9 significant digits read back
 * to the same float: IEEE 754 binary32, FLT_DECIMAL_DIG).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cli_bounds.h"
#include "kk_args.h"
#include "session.h"

static void help(FILE *out)
{
    char th[128];
    fprintf(out,
            "usage: kakeya logits -m FILE --tokens IDS [--threads T] [--act f32|ggml]\n"
            "       [--kv-cache f32|f16 | --kv-codec SPEC [--kv-codec-v SPEC]]\n"
            "  -m, --model FILE   GGUF model (llama, qwen3 or gemma3)\n"
            "  --tokens IDS       comma-separated token ids, used verbatim (no BOS added)\n"
            "  --threads T        %s; default: the cores available\n"
            "  --act f32|ggml     activations of Q8_0/F16 products: ggml rounds them as\n"
            "                     llama.cpp does (default), f32 keeps them exact\n"
            "prints {\"n_vocab\": V, \"logits\": [[V floats], ...]}, one row per position.\n"
            "exit codes: 0 ok, 2 bad input (file, ids), 3 usage\n",
            cli_bound_help("--threads", th, sizeof th));
}

int cmd_logits(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *path = NULL, *ids_arg = NULL, *threads_arg = NULL, *act_arg = NULL;
    const char *kv_arg = NULL, *codec_arg = NULL, *codec_v_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(path = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--tokens")) {
            if (!(ids_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--threads")) {
            if (!(threads_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--act")) {
            if (!(act_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--kv-cache")) {
            if (!(kv_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--kv-codec")) {
            if (!(codec_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else if (!strcmp(a, "--kv-codec-v")) {
            if (!(codec_v_arg = kk_arg_value(argc, argv, &i, &err)))
                return cmd_fail("logits", &err);
        } else {
            fprintf(stderr, "kakeya logits: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
    }
    if (!path || !ids_arg) {
        fprintf(stderr, "kakeya logits: %s is required\n", !path ? "-m FILE" : "--tokens IDS");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    int threads;
    ops_act act;
    session cache; /* the cache flags, copied into the session once open */
    memset(&cache, 0, sizeof cache);
    if (session_parse_threads(threads_arg, &threads, &err) != KK_OK ||
        session_parse_act(act_arg, &act, &err) != KK_OK)
        return cmd_fail("logits", &err);
    if (session_parse_cache(&cache, kv_arg, codec_arg, codec_v_arg, &err) != KK_OK) {
        if (err.code == KK_E_USAGE) {
            fprintf(stderr, "kakeya logits: %s\n", err.msg);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        return cmd_fail("logits", &err);
    }

    session s;
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    size_t n = 0;
    int rc = KK_EXIT_OK;
    if (session_open(&s, path, false, &err) != KK_OK)
        return cmd_fail("logits", &err);
    model_set_act(s.m, act);
    s.kv_f16 = cache.kv_f16;
    s.has_codec = cache.has_codec;
    s.kc = cache.kc;
    s.vc = cache.vc;
    const int64_t V = s.m->hp.n_vocab;
    if (kk_arg_ids("--tokens", ids_arg, V - 1, "token id", &ids, &n, &err) != KK_OK ||
        session_cache_init(&s, (int64_t)n, &kv, &st, &err) != KK_OK) {
        rc = cmd_fail("logits", &err);
        goto done;
    }
    logits = malloc(n * (size_t)V * sizeof(float));
    if (!logits) {
        kk_err_set(&err, KK_E_NOMEM, "out of memory for %zu x %lld logits", n, (long long)V);
        rc = cmd_fail("logits", &err);
        goto done;
    }
    if (fwd_run(st, kv, ids, NULL, (int64_t)n, FWD_LOGITS_ALL, logits, NULL, &err) != KK_OK) {
        kk_err_file(&err, path);
        rc = cmd_fail("logits", &err);
        goto done;
    }
    printf("{\"n_vocab\": %lld, \"logits\": [", (long long)V);
    for (size_t t = 0; t < n; t++) {
        fputs(t ? ",\n[" : "\n[", stdout);
        for (int64_t j = 0; j < V; j++)
            printf(j ? ", %.9g" : "%.9g", (double)logits[t * (size_t)V + (size_t)j]);
        putchar(']');
    }
    printf("]}\n");
    if (fflush(stdout) != 0) {
        kk_err_set(&err, KK_E_IO, "writing to stdout failed");
        rc = cmd_fail("logits", &err);
    }
done:
    free(logits);
    free(ids);
    fwd_free(st);
    kv_free(kv);
    session_close(&s);
    return rc;
}
