/*
 * kakeya restore fit -m VERIFIER --proposer FILE [--rank R] [--lambda L]
 *   [--calib N] [--heldout N] [--seq-len T] [--seed S] [--distractors D]
 *   [--threads T] -o FTHETA.gguf [--json]
 * Fits the restoration maps f_theta (K and V) from the proposer's pre-RoPE
 * K/V of every layer to the verifier's, in closed form (engine/ftheta.h,
 * engine/ftheta_calib.h), and writes them as one GGUF file with rank,
 * lambda, the calibration seed, the sha256 of both models and the training
 * and held-out errors (engine/ftheta_gguf.h). Prints one line (or with
 * --json one object: docs/restoration.md) on stdout; progress to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "ftheta_calib.h"
#include "ftheta_gguf.h"
#include "json.h"
#include "kk_args.h"
#include "kk_stats.h"
#include "session.h"
#include "sha256.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kakeya restore fit -m VERIFIER --proposer FILE -o FTHETA.gguf [options]\n"
            "fit the restoration maps f_theta (proposer pre-RoPE K/V of every layer ->\n"
            "the verifier's) in closed form: reduced-rank ridge regression\n"
            "  -m, --model FILE     the verifier GGUF\n"
            "  --proposer FILE      the proposer GGUF (the same vocabulary)\n"
            "  -o FILE              the f_theta GGUF to write\n"
            "  --rank R             rank of the shared code (default 64; at most the\n"
            "                       smaller of the two widths)\n"
            "  --lambda L           ridge, relative to the mean eigenvalue of the\n"
            "                       inputs' Gram (default 1e-6; >= 0)\n"
            "  --calib N            calibration sequences (default 16)\n"
            "  --heldout N          held-out sequences for the held-out error (default 2)\n"
            "  --seq-len T          tokens per sequence (default 1024)\n"
            "  --seed S             calibration seed (default 1)\n"
            "  --distractors D      key-value pairs besides the needle per sequence\n"
            "                       (default 32: a map is exact only on the span its\n"
            "                       calibration covers, so show it every value token)\n"
            "  --threads T          compute threads (default: the cores available)\n"
            "  --json               one JSON object on stdout\n"
            "exit: 0 written, 2 bad input or a singular fit (raise --lambda), 3 usage\n");
}

static void print_json(FILE *out, const char *path, const ftheta *k, const ftheta *v,
                       const ftheta_meta *m, double wall)
{
    fprintf(out, "{\"file\": ");
    json_write_string(out, path, strlen(path));
    fprintf(out, ", \"rank\": %d, \"lambda\": ", (int)k->rank);
    json_write_double(out, k->lambda);
    fprintf(out, ", \"calib\": {\"seed\": %llu, \"positions\": %lld}, "
                 "\"k\": {\"din\": %lld, \"dout\": %lld}, \"v\": {\"din\": %lld, \"dout\": %lld}",
            (unsigned long long)m->calib_seed, (long long)m->calib_positions, (long long)k->din,
            (long long)k->dout, (long long)v->din, (long long)v->dout);
    fprintf(out, ", \"verifier_sha256\": \"%s\", \"proposer_sha256\": \"%s\"",
            m->verifier_sha256, m->proposer_sha256);
    const double figs[] = {m->rel_mse_train_k, m->rel_mse_train_v, m->rel_mse_heldout_k,
                           m->rel_mse_heldout_v, m->fit_s, wall};
    const char *names[] = {"rel_mse_restored_train_k", "rel_mse_restored_train_v",
                           "rel_mse_restored_heldout_k", "rel_mse_restored_heldout_v", "fit_s",
                           "wall_s"};
    for (int i = 0; i < 6; i++) {
        fprintf(out, ", \"%s\": ", names[i]);
        json_write_double(out, figs[i]);
    }
    fprintf(out, "}\n");
}

int cmd_restore_fit(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    const char *vpath = NULL, *ppath = NULL, *out = NULL, *rank_a = NULL, *lambda_a = NULL,
               *calib_a = NULL, *held_a = NULL, *len_a = NULL, *seed_a = NULL,
               *distr_a = NULL, *threads_a = NULL;
    bool json = false;
    struct { const char *flag; const char **dst; } vals[] = {
        {"-m", &vpath}, {"--model", &vpath}, {"--proposer", &ppath}, {"-o", &out},
        {"--rank", &rank_a}, {"--lambda", &lambda_a}, {"--calib", &calib_a},
        {"--heldout", &held_a}, {"--seq-len", &len_a}, {"--seed", &seed_a},
        {"--distractors", &distr_a}, {"--threads", &threads_a},
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
            fprintf(stderr, "kakeya restore fit: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        if (!(*vals[k].dst = kk_arg_value(argc, argv, &i, &err)))
            return cmd_fail("restore fit", &err);
    }
    if (!vpath || !ppath || !out) {
        fprintf(stderr, "kakeya restore fit: %s is required\n",
                !vpath ? "-m VERIFIER" : !ppath ? "--proposer FILE" : "-o FILE");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    ftheta_calib_opts o = {.n_seq = 16, .seq_len = 1024, .heldout_seq = 2, .seed = 1,
                           .rank = 64, .lambda = 1e-6, .distractors = 32};
    int64_t x = 0;
    double lambda = o.lambda;
    int threads = 0;
    if ((rank_a && kk_arg_i64("--rank", rank_a, 1, FTHETA_MAX_DIM, &x, &err)) ||
        (rank_a && ((o.rank = (int32_t)x), 0)) ||
        (lambda_a && kk_arg_f64("--lambda", lambda_a, 0.0, 1e6, &lambda, &err)) ||
        (calib_a && kk_arg_i64("--calib", calib_a, 1, 100000, &o.n_seq, &err)) ||
        (held_a && kk_arg_i64("--heldout", held_a, 1, 100000, &o.heldout_seq, &err)) ||
        (len_a && kk_arg_i64("--seq-len", len_a, 16, 65536, &o.seq_len, &err)) ||
        (seed_a && kk_arg_i64("--seed", seed_a, 0, INT64_MAX, &x, &err)) ||
        (seed_a && ((o.seed = (uint64_t)x), 0)) ||
        (distr_a && kk_arg_i64("--distractors", distr_a, 0, 63, &x, &err)) ||
        (distr_a && ((o.distractors = (int32_t)x), 0)) ||
        session_parse_threads(threads_a, &threads, &err) != KK_OK)
        return cmd_fail("restore fit", &err);
    o.lambda = lambda;
    if (!*out) {
        kk_err_set(&err, KK_E_RANGE, "-o is empty (allowed: a file path)");
        return cmd_fail("restore fit", &err);
    }
    session sv, sp;
    memset(&sv, 0, sizeof sv);
    memset(&sp, 0, sizeof sp);
    ftheta *fk = NULL, *fv = NULL;
    ftheta_meta meta;
    memset(&meta, 0, sizeof meta);
    const double t0 = kk_now_s();
    kk_code rc = session_open(&sv, vpath, false, &err);
    if (rc == KK_OK)
        rc = session_open(&sp, ppath, false, &err);
    char sv_sha[65] = "", sp_sha[65] = "";
    if (rc == KK_OK)
        rc = sha256_file_hex(vpath, sv_sha, &err);
    if (rc == KK_OK)
        rc = sha256_file_hex(ppath, sp_sha, &err);
    if (rc == KK_OK) {
        fprintf(stderr, "kakeya restore fit: %lld + %lld sequences of %lld tokens, rank %d\n",
                (long long)o.n_seq, (long long)o.heldout_seq, (long long)o.seq_len,
                (int)o.rank);
        rc = ftheta_calibrate(sv.m, sp.m, &o, &fk, &fv, &meta, &err);
        if (rc == KK_E_RANGE && strstr(err.msg, "rank"))
            kk_err_where(&err, "--rank");
    }
    if (rc == KK_OK) { /* the calibration filled the rest of meta */
        memcpy(meta.verifier_sha256, sv_sha, sizeof sv_sha);
        memcpy(meta.proposer_sha256, sp_sha, sizeof sp_sha);
        rc = ftheta_pair_write(fk, fv, &meta, out, &err);
    }
    const double wall = kk_now_s() - t0;
    if (rc == KK_OK) {
        if (json)
            print_json(stdout, out, fk, fv, &meta, wall);
        else
            printf("%s: rank %d, %lld positions, K %lld -> %lld, V %lld -> %lld; rel_mse "
                   "train K %.3g V %.3g, held out K %.3g V %.3g; fit %.2f s, %.2f s in all\n",
                   out, (int)fk->rank, (long long)meta.calib_positions, (long long)fk->din,
                   (long long)fk->dout, (long long)fv->din, (long long)fv->dout,
                   meta.rel_mse_train_k, meta.rel_mse_train_v, meta.rel_mse_heldout_k,
                   meta.rel_mse_heldout_v, meta.fit_s, wall);
    }
    ftheta_free(fk);
    ftheta_free(fv);
    session_close(&sv);
    session_close(&sp);
    return rc == KK_OK ? KK_EXIT_OK : cmd_fail("restore fit", &err);
}
