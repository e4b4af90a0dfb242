/*
 * bin/kakeya: dispatches to the subcommands in cmd.h.
 * Exit codes (one table for every program, docs/cli.md): 0 ok, 1 the checked
 * or measured thing failed, 2 bad input, 3 usage.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli_env.h"
#include "cli_kernels.h"
#include "cmd.h"
#include "kk_err.h"

typedef struct subcmd {
    const char *name;
    const char *sub;  /* second word ("model info"), or NULL */
    int (*fn)(int argc, char **argv);
    const char *help;
} subcmd;

static const subcmd SUBCMDS[] = {
    {"list", NULL, cmd_list, "the presets kakeya run accepts"},
    {"show", NULL, cmd_show, "a preset's resolved parameters, models, arms and gate"},
    {"run", NULL, cmd_run, "run a preset and write its evidence (the main command)"},
    {"validate-presets", NULL, cmd_validate_presets, "check every preset file"},
    {"merge", NULL, cmd_merge, "join the evidence of --shard I/N runs"},
    {"model", "info", cmd_model_info, "architecture, shapes, tensor types, parameters, sha256 of a GGUF"},
    {"model", "random", cmd_model_random, "write a random-weight llama/qwen3 GGUF from a seed"},
    {"model", "synth", cmd_model_synth, "write a synthetic retrieval model (NIAH, copy)"},
    {"model", "convert", cmd_model_convert, "a GGUF's F32 matrices as F16 or Q8_0 (ggml's bytes)"},
    {"generate", NULL, cmd_generate, "greedy generation from text (-p) or token ids (--tokens)"},
    {"tokenize", NULL, cmd_tokenize, "a GGUF's tokenizer on a text: ids, pieces, timing"},
    {"spec", NULL, cmd_spec, "speculative greedy decoding: exactly generate's output, fewer calls"},
    {"logits", NULL, cmd_logits, "the logits of every position as JSON"},
    {"niah", NULL, cmd_niah, "needle-in-a-haystack recall of a synthetic model"},
    {"restore", "fit", cmd_restore_fit, "fit the K/V restoration maps f_theta (proposer -> verifier)"},
    {"restore", "eval", cmd_restore_eval, "NIAH through a bounded cache with restoration, per-layer figures"},
    {"codec", NULL, cmd_codec, "codec eval: rate, distortion and speed of a K/V codec"},
    {"compare", NULL, cmd_compare, "rate-distortion tables, verdicts, SVG; --before/--after regressions"},
    {"tune", NULL, cmd_tune, "measure this host's matmul kernel variants and cache the fastest"},
};
#define N_SUBCMDS (sizeof SUBCMDS / sizeof SUBCMDS[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: kakeya COMMAND [options]   (kakeya COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < N_SUBCMDS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", SUBCMDS[i].name,
                 SUBCMDS[i].sub ? " " : "", SUBCMDS[i].sub ? SUBCMDS[i].sub : "");
        fprintf(out, "  %-16s %s\n", name, SUBCMDS[i].help);
    }
    fprintf(out, "\nexit codes: 0 ok, 1 check failed, 2 bad input, 3 usage\n");
}

int cmd_fail(const char *subcmd, const kk_err *err)
{
    char prog[96];
    snprintf(prog, sizeof prog, "kakeya %s", subcmd);
    kk_err_print(stderr, prog, err);
    return (int)kk_exit_code(err->code);
}

int main(int argc, char **argv)
{
    /* Numbers print and parse with '.', whatever the user's locale. */
    setlocale(LC_ALL, "C");
    if (argc < 2) {
        usage(stderr);
        return KK_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return KK_EXIT_OK;
    }
    for (size_t i = 0; i < N_SUBCMDS; i++) {
        const subcmd *c = &SUBCMDS[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        const int sub = c->sub != NULL;
        if (sub && !(argc >= 3 && !strcmp(argv[2], c->sub)))
            continue;
        /* Process-wide engine settings from the environment, for every
         * command (the engine reads none itself). */
        kk_err err;
        kk_err_clear(&err);
        if (cli_env_apply_matmul_isa(&err) != KK_OK ||
            cli_kernels_apply(&argc, argv, &err) != KK_OK) {
            char name[64];
            snprintf(name, sizeof name, "%s%s%s", c->name, sub ? " " : "", sub ? c->sub : "");
            return cmd_fail(name, &err);
        }
        return c->fn(argc - 1 - sub, argv + 1 + sub);
    }
    if (argc >= 3 && !strcmp(argv[1], "model"))
        fprintf(stderr, "kakeya: unknown command 'model %s' (allowed: model info, model random, model synth, model convert)\n", argv[2]);
    else if (argc >= 2 && !strcmp(argv[1], "restore"))
        fprintf(stderr, "kakeya: unknown command 'restore%s%s' (allowed: restore fit, restore eval)\n",
                argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
    else
        fprintf(stderr, "kakeya: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return KK_EXIT_USAGE;
}
