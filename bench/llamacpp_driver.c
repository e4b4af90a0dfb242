/*
 * llamacpp_driver: feeds token ids to llama.cpp's library and prints the
 * argmax of the last position's logits: the reference engine of the NIAH
 * cross-check (tests/harness/slow_llamacpp_niah.c). Built against the
 * library `make refengine` puts in ${KAKEYA_CACHE:-~/.cache/kakeya}/llama.cpp,
 * outside the project's build, so `make all` never needs llama.cpp.
 *
 * usage: llamacpp_driver MODEL.gguf [--ctx N] [--threads T] [--kv f32|f16]
 *   stdin:  one sample per line, comma-separated token ids, used verbatim
 *           (no BOS added)
 *   stdout: one line per sample: "ARGMAX MARGIN", MARGIN = the top logit
 *           minus the second (ties: the lowest id wins, as in kakeya)
 * Each sample starts from an empty cache (llama_memory_clear). K/V F32 by
 * default with flash attention off: the plain computation kakeya's full
 * cache does. Exit 0 ok, 2 bad input, 3 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR)
        fputs(text, stderr);
}

/* Parse "1,2,3\n" into ids (grows *ids); returns the count, -1 on a bad id. */
static long parse_line(char *line, llama_token **ids, size_t *cap, int n_vocab)
{
    long n = 0;
    for (char *p = line; *p && *p != '\n';) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= n_vocab)
            return -1;
        if ((size_t)n == *cap) {
            *cap = *cap ? 2 * *cap : 4096;
            llama_token *grown = realloc(*ids, *cap * sizeof **ids);
            if (!grown)
                return -1;
            *ids = grown;
        }
        (*ids)[n++] = (llama_token)v;
        p = end;
        if (*p == ',')
            p++;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: llamacpp_driver MODEL.gguf [--ctx N] [--threads T] [--kv f32|f16]\n");
        return 3;
    }
    int n_ctx = 8192, threads = 1;
    enum ggml_type kv = GGML_TYPE_F32;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "llamacpp_driver: %s needs a value\n", argv[i]);
            return 3;
        }
        if (!strcmp(argv[i], "--ctx"))
            n_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv")) {
            const char *v = argv[++i];
            kv = !strcmp(v, "f16") ? GGML_TYPE_F16 : GGML_TYPE_F32;
        } else {
            fprintf(stderr, "llamacpp_driver: unknown option '%s'\n", argv[i]);
            return 3;
        }
    }
    if (n_ctx < 16 || threads < 1) {
        fprintf(stderr, "llamacpp_driver: --ctx >= 16 and --threads >= 1\n");
        return 3;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llamacpp_driver: cannot load %s\n", argv[1]);
        return 2;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)n_ctx;
    cp.n_ubatch = 512;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.type_k = kv;
    cp.type_v = kv;
    cp.flash_attn_type = kv == GGML_TYPE_F32 ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                             : LLAMA_FLASH_ATTN_TYPE_AUTO;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llamacpp_driver: cannot create a context of %d tokens\n", n_ctx);
        llama_model_free(model);
        return 2;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch batch = llama_batch_init(n_ctx, 0, 1);
    llama_token *ids = NULL;
    size_t cap = 0, line_cap = 0;
    char *line = NULL;
    int rc = 0;
    while (getline(&line, &line_cap, stdin) > 0) {
        const long n = parse_line(line, &ids, &cap, n_vocab);
        if (n < 1 || n > n_ctx) {
            fprintf(stderr, "llamacpp_driver: bad sample line (ids 0..%d, 1..%d of them)\n",
                    n_vocab - 1, n_ctx);
            rc = 2;
            break;
        }
        llama_memory_clear(llama_get_memory(ctx), true);
        batch.n_tokens = (int32_t)n;
        for (long i = 0; i < n; i++) {
            batch.token[i] = ids[i];
            batch.pos[i] = (llama_pos)i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = i == n - 1;
        }
        if (llama_decode(ctx, batch) != 0) {
            fprintf(stderr, "llamacpp_driver: llama_decode failed\n");
            rc = 2;
            break;
        }
        const float *lg = llama_get_logits_ith(ctx, (int32_t)(n - 1));
        int best = 0;
        for (int t = 1; t < n_vocab; t++)
            if (lg[t] > lg[best])
                best = t;
        float second = -1e30f;
        for (int t = 0; t < n_vocab; t++)
            if (t != best && lg[t] > second)
                second = lg[t];
        printf("%d %.6f\n", best, (double)(lg[best] - second));
        fflush(stdout);
    }
    free(line);
    free(ids);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
