/*
 * kakeya model random -o FILE [--seed S] [--arch llama|qwen3|gemma3] [--layers N]
 *   [--d-model N] [--heads N] [--kv-heads N] [--head-dim N] [--ffn N]
 *   [--vocab N | --vocab-from FILE.gguf] [--ctx N] [--tied]
 * Writes a random-weight model (engine/model_random.h) with the GGUF writer;
 * the same options give the same bytes. The defaults print in --help from
 * the same struct the parser fills.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "gguf.h"
#include "kk_args.h"
#include "model_random.h"

static void help(FILE *out)
{
    model_random_cfg d;
    model_random_defaults(&d);
    fprintf(out,
            "usage: kakeya model random -o FILE [options]\n"
            "writes a random-weight GGUF model (F32) from a seed, with a synthetic\n"
            "llama tokenizer or the vocabulary of --vocab-from\n"
            "  -o, --output FILE  where to write (temp file + rename)\n"
            "  --seed S           seed (default %llu)\n"
            "  --arch A           llama | qwen3 | gemma3 (default %s)\n"
            "  --layers N         blocks (default %d)\n"
            "  --d-model N        embedding size (default %d)\n"
            "  --heads N          query heads (default %d)\n"
            "  --kv-heads N       K/V heads, dividing --heads (default %d)\n"
            "  --head-dim N       head dimension, even (default %d)\n"
            "  --ffn N            FFN size (default %d)\n"
            "  --vocab N          vocabulary, >= %d (default %d)\n"
            "  --vocab-from FILE  copy every tokenizer.* key of FILE.gguf (e.g. one from\n"
            "                     bench/vocab_gguf.py) instead of the synthetic vocabulary;\n"
            "                     the vocabulary is its token count (not with --vocab)\n"
            "  --ctx N            context_length written (default %d)\n"
            "  --tied             no output.weight (tied embeddings)\n"
            "  --sliding-window N gemma3: attention.sliding_window (default 0: not written)\n"
            "  --swa-pattern P    gemma3: every P-th layer global (default: not written,\n"
            "                     llama.cpp's 6)\n"
            "exit codes: 0 ok, 2 bad value or write error, 3 usage\n",
            (unsigned long long)d.seed, model_arch_name(d.arch), (int)d.n_layers,
            (int)d.n_embd, (int)d.n_heads, (int)d.n_kv_heads, (int)d.head_dim, (int)d.n_ff,
            MODEL_RANDOM_MIN_VOCAB, (int)d.n_vocab, (int)d.n_ctx);
}

/* model_random_check names model_random_cfg fields; the user gave flags. */
static const struct {
    const char *field, *flag;
} FIELD_FLAGS[] = {
    {"n_layers", "--layers"}, {"n_embd", "--d-model"}, {"n_heads", "--heads"},
    {"n_kv_heads", "--kv-heads"}, {"head_dim", "--head-dim"}, {"n_ff", "--ffn"},
    {"n_vocab", "--vocab"}, {"n_ctx", "--ctx"}, {"sliding_window", "--sliding-window"},
    {"swa_pattern", "--swa-pattern"},
};

typedef struct int_flag {
    const char *name;
    int32_t *dst;
} int_flag;

int cmd_model_random(int argc, char **argv)
{
    kk_err err;
    kk_err_clear(&err);
    model_random_cfg c;
    model_random_defaults(&c);
    const char *path = NULL, *vocab_path = NULL;
    bool vocab_given = false;
    const int_flag ints[] = {
        {"--layers", &c.n_layers}, {"--d-model", &c.n_embd},  {"--heads", &c.n_heads},
        {"--kv-heads", &c.n_kv_heads}, {"--head-dim", &c.head_dim}, {"--ffn", &c.n_ff},
        {"--vocab", &c.n_vocab},   {"--ctx", &c.n_ctx}, {"--sliding-window", &c.sliding_window},
        {"--swa-pattern", &c.swa_pattern},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return KK_EXIT_OK;
        }
        if (!strcmp(a, "--tied")) {
            c.tied = true;
            continue;
        }
        const int_flag *f = NULL;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
            if (!strcmp(a, ints[k].name))
                f = &ints[k];
        const bool known = f || !strcmp(a, "-o") || !strcmp(a, "--output") ||
                           !strcmp(a, "--seed") || !strcmp(a, "--arch") ||
                           !strcmp(a, "--vocab-from");
        if (!known) {
            fprintf(stderr, "kakeya model random: unknown option '%s'\n", a);
            help(stderr);
            return KK_EXIT_USAGE;
        }
        const char *v = kk_arg_value(argc, argv, &i, &err);
        if (!v)
            return cmd_fail("model random", &err);
        int64_t x;
        if (f) {
            /* model_random_check gives the precise range; this only keeps
             * the value inside int32. */
            if (kk_arg_i64(f->name, v, 0, INT32_MAX, &x, &err) != KK_OK)
                return cmd_fail("model random", &err);
            *f->dst = (int32_t)x;
            vocab_given |= f->dst == &c.n_vocab;
        } else if (!strcmp(a, "--vocab-from")) {
            vocab_path = v;
        } else if (!strcmp(a, "--seed")) {
            if (kk_arg_i64("--seed", v, 0, INT64_MAX, &x, &err) != KK_OK)
                return cmd_fail("model random", &err);
            c.seed = (uint64_t)x;
        } else if (!strcmp(a, "--arch")) {
            if (!strcmp(v, "llama")) {
                c.arch = MODEL_ARCH_LLAMA;
            } else if (!strcmp(v, "qwen3")) {
                c.arch = MODEL_ARCH_QWEN3;
            } else if (!strcmp(v, "gemma3")) {
                c.arch = MODEL_ARCH_GEMMA3;
            } else {
                kk_err_set(&err, KK_E_RANGE,
                           "--arch: '%s' is not allowed (allowed: llama, qwen3, gemma3)", v);
                kk_err_where(&err, "--arch");
                return cmd_fail("model random", &err);
            }
        } else {
            path = v;
        }
    }
    if (!path) {
        fprintf(stderr, "kakeya model random: -o FILE is required\n");
        help(stderr);
        return KK_EXIT_USAGE;
    }
    if (vocab_path && vocab_given) {
        fprintf(stderr, "kakeya model random: --vocab and --vocab-from exclude each other "
                        "(the copied vocabulary's size is its token count)\n");
        return KK_EXIT_USAGE;
    }
    gguf_file *vf = NULL;
    if (vocab_path && (gguf_open(&vf, vocab_path, &err) != KK_OK ||
                       model_random_set_vocab_from(&c, vf, &err) != KK_OK)) {
        gguf_close(vf);
        return cmd_fail("model random", &err);
    }
    const kk_code rc = model_random_write(&c, path, &err);
    gguf_close(vf);
    if (rc != KK_OK) {
        if (!err.file[0] && err.code == KK_E_IO)
            kk_err_file(&err, path);
        for (size_t k = 0; k < sizeof FIELD_FLAGS / sizeof FIELD_FLAGS[0]; k++)
            kk_err_rename(&err, FIELD_FLAGS[k].field, FIELD_FLAGS[k].flag);
        return cmd_fail("model random", &err);
    }
    fprintf(stderr, "kakeya model random: wrote %s (%s, %d layers, d %d, vocab %d%s%s, seed %llu)\n",
            path, model_arch_name(c.arch), (int)c.n_layers, (int)c.n_embd, (int)c.n_vocab,
            vocab_path ? " from " : "", vocab_path ? vocab_path : "",
            (unsigned long long)c.seed);
    return KK_EXIT_OK;
}
