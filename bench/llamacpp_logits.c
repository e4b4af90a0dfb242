/*
 * llamacpp_logits: llama.cpp's logits at every position of one sequence,
 * with a chosen K/V cache type: the reference side of the KL-divergence
 * cross-check (bench/kld_crosscheck.sh). Built by `make refengine` against
 * the library in ${KAKEYA_CACHE:-~/.cache/kakeya}/llama.cpp, outside the
 * project's build.
 *
 * usage: llamacpp_logits MODEL.gguf --kv f32|f16|q8_0|q4_0 [--threads T]
 *   stdin:  one line of comma-separated token ids, used verbatim
 *   stdout: one line per position, its n_vocab logits ("%.9g", spaces)
 * K and V both take the type; f32 runs without flash attention (the plain
 * computation), the others with it (llama.cpp needs flash attention for a
 * quantized V cache, and f16 is its default). Exit 0 ok, 2 bad input, 3
 * usage.
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

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--kv") != 0) {
        fprintf(stderr, "usage: llamacpp_logits MODEL.gguf --kv f32|f16|q8_0|q4_0 [--threads T]\n");
        return 3;
    }
    const char *kvs = argv[3];
    enum ggml_type kv = !strcmp(kvs, "f32")    ? GGML_TYPE_F32
                        : !strcmp(kvs, "f16")  ? GGML_TYPE_F16
                        : !strcmp(kvs, "q8_0") ? GGML_TYPE_Q8_0
                        : !strcmp(kvs, "q4_0") ? GGML_TYPE_Q4_0
                                               : GGML_TYPE_COUNT;
    if (kv == GGML_TYPE_COUNT) {
        fprintf(stderr, "llamacpp_logits: --kv %s (allowed: f32, f16, q8_0, q4_0)\n", kvs);
        return 3;
    }
    int threads = 1;
    if (argc >= 6 && !strcmp(argv[4], "--threads"))
        threads = atoi(argv[5]);
    char *line = NULL;
    size_t line_cap = 0;
    if (getline(&line, &line_cap, stdin) <= 0) {
        fprintf(stderr, "llamacpp_logits: no ids on stdin\n");
        return 2;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "llamacpp_logits: cannot load %s\n", argv[1]);
        return 2;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    llama_token ids[8192];
    int n = 0;
    for (char *p = line; *p && *p != '\n' && n < 8192;) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= n_vocab) {
            fprintf(stderr, "llamacpp_logits: bad id at %d\n", n);
            return 2;
        }
        ids[n++] = (llama_token)v;
        p = *end == ',' ? end + 1 : end;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n < 256 ? 256 : n);
    cp.n_batch = cp.n_ctx;
    cp.n_ubatch = 512;
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.type_k = kv;
    cp.type_v = kv;
    cp.flash_attn_type = kv == GGML_TYPE_F32 ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                                             : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llamacpp_logits: cannot create the context\n");
        return 2;
    }
    struct llama_batch batch = llama_batch_init(n, 0, 1);
    batch.n_tokens = n;
    for (int i = 0; i < n; i++) {
        batch.token[i] = ids[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    int rc = 0;
    if (llama_decode(ctx, batch) != 0) {
        fprintf(stderr, "llamacpp_logits: llama_decode failed\n");
        rc = 2;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const float *lg = llama_get_logits_ith(ctx, i);
        for (int t = 0; t < n_vocab; t++)
            printf(t ? " %.9g" : "%.9g", (double)lg[t]);
        putchar('\n');
    }
    free(line);
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return rc;
}
