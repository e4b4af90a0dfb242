/*
 * kakeya model synth -o FILE [options]
 * Writes a constructed retrieval model (engine/synth.h,
 * docs/synthetic-models.md). With no options: the configuration checked in
 * llama.cpp. The defaults print in --help from the struct the parser fills.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "kk_args.h"
#include "synth.h"

static void help(FILE *out)
{
    synth_cfg d;
    synth_defaults(&d, SYNTH_ROLE_VERIFIER);
    fprintf(out,
            "usage: kakeya model synth -o FILE [options]\n"
            "writes a synthetic retrieval model (llama architecture, F32, 2 layers)\n"
            "  -o, --output FILE     where to write (temp file + rename)\n"
            "  --mode niah|copy      needle retrieval, or induction copy (default %s)\n"
            "  --role verifier|proposer  a proposer has its own dims, codes, key noise\n"
            "                        (applied first; other flags override it)\n"
            "  --hard                the documented hard setting: --key-dim 16\n"
            "                        --shared-k 32 --distractors 3\n"
            "  --seed S              codes and rotations (default %llu)\n"
            "  --d-model N           residual width (default %d)\n"
            "  --heads N             heads, only head 0 used (default %d)\n"
            "  --head-dim N          head dim = rope dims, multiple of 32 (default %d)\n"
            "  --ffn N               MLP width; weights zero without ballast (default %d)\n"
            "  --ctx N               context_length written (default %d)\n"
            "  --key-dim N           key code dimension, on the slowest dims (default %d)\n"
            "  --codes random|onehot key codes (default %s; onehot needs key-dim >= 64)\n"
            "  --beta X              scales the match score (default %g)\n"
            "  --match-logit X       layer-1 match score at beta 1 (default %g)\n"
            "  --pos-logit X         layer-0 peak score (default %g)\n"
            "  --pos-min-theta X     layer-0 kernel on pairs turning >= X (default %g)\n"
            "  --value-logit X       logit of the retrieved value (default %g)\n"
            "  --fallback-logit X    constant logit of token 0 (default %g)\n"
            "  --rope-base X         RoPE base (default %g)\n"
            "  --rotate R            none | all | residual,pairs,values (default none)\n"
            "  --outliers N          K pairs scaled up per layer (default %d)\n"
            "  --outlier-scale X     their scale (default %g)\n"
            "  --shared-k X          shared K component, x the code RMS (default %g)\n"
            "  --key-noise X         per-token layer-1 K noise (default %g; proposer %g)\n"
            "  --window N            sliding window in tokens (default none)\n"
            "  --sliding L[,L]       layers that slide (e.g. 0; needs --window)\n"
            "  --distractors N       distractor pairs a NIAH run uses by default (%d)\n"
            "  --ballast-scale X     random FFN weights of width --ffn in both layers; their\n"
            "                        output (norm ~X) lands on dims no attention reads: the\n"
            "                        answers stay, the file weighs (default %g: none);\n"
            "                        the margins' estimate prints on stderr\n"
            "exit codes: 0 ok, 2 bad value or write error, 3 usage\n",
            synth_mode_name(d.mode), (unsigned long long)d.seed, (int)d.n_embd,
            (int)d.n_heads, (int)d.head_dim, (int)d.n_ff, (int)d.n_ctx, (int)d.key_dim,
            synth_code_kind_name(d.code_kind), (double)d.beta, (double)d.match_logit,
            (double)d.pos_logit, (double)d.pos_min_theta, (double)d.value_logit,
            (double)d.fallback_logit, (double)d.rope_base, (int)d.n_outliers,
            (double)d.outlier_scale, (double)d.shared_k, (double)d.key_noise, 0.05,
            (int)d.niah_distractors, (double)d.ballast_scale);
}

/* synth_check names synth_cfg fields; the user gave flags. */
static const struct {
    const char *field, *flag;
} FIELD_FLAGS[] = {
    {"n_embd", "--d-model"}, {"n_heads", "--heads"}, {"head_dim", "--head-dim"},
    {"n_ff", "--ffn"}, {"n_ctx", "--ctx"}, {"key_dim", "--key-dim"},
    {"rope_base", "--rope-base"}, {"pos_min_theta", "--pos-min-theta"}, {"beta", "--beta"},
    {"match_logit", "--match-logit"}, {"pos_logit", "--pos-logit"},
    {"value_logit", "--value-logit"}, {"fallback_logit", "--fallback-logit"},
    {"rotate", "--rotate"}, {"n_outliers", "--outliers"}, {"outlier_scale", "--outlier-scale"},
    {"shared_k", "--shared-k"}, {"key_noise", "--key-noise"}, {"sliding_window", "--window"},
    {"sliding_layers", "--sliding"}, {"niah_distractors", "--distractors"},
    {"ballast_scale", "--ballast-scale"},
};

typedef struct int_flag {
    const char *name;
    int32_t *dst;
} int_flag;

typedef struct float_flag {
    const char *name;
    float *dst;
} float_flag;

static kk_code parse_layers(const char *v, uint32_t *mask, kk_err *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    kk_code rc = kk_arg_ids("--sliding", v, SYNTH_N_LAYERS - 1, "layer", &ids, &n, err);
    if (rc != KK_OK)
        return rc;
    *mask = 0;
    for (size_t i = 0; i < n; i++)
        *mask |= 1u << ids[i];
    free(ids);
    return KK_OK;
}

int cmd_model_synth(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    synth_cfg c;
    /* --role first: it sets the defaults the other flags then override. */
    synth_role role = SYNTH_ROLE_VERIFIER;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--role")) {
            if (!strcmp(argv[i + 1], "proposer")) {
                role = SYNTH_ROLE_PROPOSER;
            } else if (strcmp(argv[i + 1], "verifier") != 0) {
                kk_err_set(&err, KK_E_RANGE,
                           "--role: '%s' is not allowed (allowed: verifier, proposer)",
                           argv[i + 1]);
                kk_err_where(&err, "--role");
                return cmd_fail("model synth", &err);
            }
        }
    synth_defaults(&c, role);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--hard"))
            synth_apply_hard(&c);
    const char *path = NULL;
    const int_flag ints[] = {
        {"--d-model", &c.n_embd},   {"--heads", &c.n_heads},       {"--head-dim", &c.head_dim},
        {"--ffn", &c.n_ff},         {"--ctx", &c.n_ctx},           {"--key-dim", &c.key_dim},
        {"--outliers", &c.n_outliers}, {"--window", &c.sliding_window},
        {"--distractors", &c.niah_distractors},
    };
    const float_flag floats[] = {
        {"--beta", &c.beta},           {"--match-logit", &c.match_logit},
        {"--pos-logit", &c.pos_logit}, {"--pos-min-theta", &c.pos_min_theta},
        {"--value-logit", &c.value_logit}, {"--fallback-logit", &c.fallback_logit},
        {"--rope-base", &c.rope_base}, {"--outlier-scale", &c.outlier_scale},
        {"--shared-k", &c.shared_k},   {"--key-noise", &c.key_noise},
        {"--ballast-scale", &c.ballast_scale},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--hard"))
            continue;
        const int_flag *fi = NULL;
        const float_flag *ff = NULL;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
            if (!strcmp(a, ints[k].name))
                fi = &ints[k];
        for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++)
            if (!strcmp(a, floats[k].name))
                ff = &floats[k];
        static const char *const others[] = {"-o", "--output", "--seed", "--mode", "--role",
                                             "--codes", "--rotate", "--sliding"};
        bool known = fi || ff;
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++)
            known = known || !strcmp(a, others[k]);
        if (!known) {
            fprintf(stderr, "kakeya model synth: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        const char *v = kk_arg_value(argc, argv, &i, &err);
        if (!v)
            return cmd_fail("model synth", &err);
        int64_t x;
        double f;
        kk_code rc = KK_OK;
        if (fi) {
            /* synth_check gives the precise range; this keeps int32. */
            rc = kk_arg_i64(fi->name, v, 0, INT32_MAX, &x, &err);
            *fi->dst = (int32_t)x;
        } else if (ff) {
            rc = kk_arg_f64(ff->name, v, -1e12, 1e12, &f, &err);
            *ff->dst = (float)f;
        } else if (!strcmp(a, "--seed")) {
            rc = kk_arg_i64("--seed", v, 0, INT64_MAX, &x, &err);
            c.seed = (uint64_t)x;
        } else if (!strcmp(a, "--mode")) {
            if (!strcmp(v, "niah") || !strcmp(v, "copy"))
                c.mode = !strcmp(v, "copy") ? SYNTH_MODE_COPY : SYNTH_MODE_NIAH;
            else
                rc = kk_err_set(&err, KK_E_RANGE,
                                "--mode: '%s' is not allowed (allowed: niah, copy)", v);
        } else if (!strcmp(a, "--codes")) {
            if (!strcmp(v, "random") || !strcmp(v, "onehot"))
                c.code_kind = !strcmp(v, "onehot") ? SYNTH_CODE_ONEHOT : SYNTH_CODE_RANDOM;
            else
                rc = kk_err_set(&err, KK_E_RANGE,
                                "--codes: '%s' is not allowed (allowed: random, onehot)", v);
        } else if (!strcmp(a, "--rotate")) {
            rc = synth_parse_rotate("--rotate", v, &c.rotate, &err);
        } else if (!strcmp(a, "--sliding")) {
            rc = parse_layers(v, &c.sliding_layers, &err);
        } else if (!strcmp(a, "--role")) {
            /* handled above */
        } else {
            path = v;
        }
        if (rc != KK_OK) {
            if (!err.where[0])
                kk_err_where(&err, a);
            return cmd_fail("model synth", &err);
        }
    }
    if (!path) {
        fprintf(stderr, "kakeya model synth: -o FILE is required\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    gguf_writer *w = NULL;
    synth_ballast_report rep;
    kk_code rc = synth_build_report(&c, &w, &rep, &err);
    if (rc == KK_OK)
        rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    if (rc != KK_OK) {
        if (!err.file[0] && err.code == KK_E_IO)
            kk_err_file(&err, path);
        for (size_t k = 0; k < sizeof FIELD_FLAGS / sizeof FIELD_FLAGS[0]; k++)
            kk_err_rename(&err, FIELD_FLAGS[k].field, FIELD_FLAGS[k].flag);
        return cmd_fail("model synth", &err);
    }
    fprintf(stderr, "kakeya model synth: wrote %s (%s %s, d %d, key dim %d, seed %llu)\n",
            path, synth_mode_name(c.mode), synth_role_name(c.role), (int)c.n_embd,
            (int)c.key_dim, (unsigned long long)c.seed);
    if (c.ballast_scale > 0.0f)
        fprintf(stderr,
                "kakeya model synth: ballast %g, FFN %d x 2 layers: output norm up to %.3g; "
                "estimated worst case: layer-1 q/k/v x %.4f (match score %.2f of %.2f), "
                "logits x %.4f, answer margin over the fallback %.2f of %.2f\n",
                (double)c.ballast_scale, (int)c.n_ff, rep.norm_max, rep.attn_scale,
                rep.match_logit, (double)c.beta * c.match_logit, rep.logit_scale, rep.margin,
                rep.margin_free);
    return KK_EXIT_OK;
}
