/*
 * llamacpp_bench: llama.cpp's side of `make bench` (bench/bench_engine.c
 * runs it and kakeya's side with the same protocol, interleaved).
 *
 *   llamacpp_bench FILE THREADS bench IDS   load, prefill the ids (one
 *       batch, logits of the last), decode 64 greedy tokens one at a time,
 *       then for L = 2, 4, 8, 16 (3 times each): drop everything after the
 *       prefix and run L tokens with logits for all (speculative
 *       verification). Prints one line:
 *       load_s prefill_s decode_s verify2_s verify4_s verify8_s verify16_s
 *       (verify: the median of the 3).
 *   llamacpp_bench FILE THREADS ttft IDS    load, prefill, print the greedy
 *       next id: what `kakeya generate --tokens IDS -n 1` does.
 *
 * Context: n_ctx 512, batch 512, llama.cpp's defaults otherwise (F16 K/V
 * cache, flash attention auto): what a user of llama.cpp runs. Built by
 * bench/bench_engine.sh against the `make refengine` build; plain C
 * against llama.h, plus common/kk_stats (the clock and the median) from
 * libkk_common.a, so both sides time and summarise the same way. Exit 2
 * on any failure, with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_stats.h"
#include "llama.h"

#define N_DECODE 64
#define N_VERIFY_REPS 3

static void quiet(enum ggml_log_level level, const char *text, void *user)
{
    (void)level;
    (void)text;
    (void)user;
}

static int fail(const char *what)
{
    fprintf(stderr, "llamacpp_bench: %s\n", what);
    return 2;
}

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Tokens ids[0..n) at positions pos0.., logits for all or only the last. */
static int run(struct llama_context *ctx, struct llama_batch *b, const llama_token *ids,
               int n, int pos0, int all_logits)
{
    b->n_tokens = n;
    for (int i = 0; i < n; i++) {
        b->token[i] = ids[i];
        b->pos[i] = pos0 + i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = (int8_t)(all_logits || i == n - 1);
    }
    return llama_decode(ctx, *b);
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return fail("usage: llamacpp_bench FILE THREADS bench|ttft IDS");
    const int threads = atoi(argv[2]);
    const int ttft = !strcmp(argv[3], "ttft");
    static llama_token ids[4096];
    int n_ids = 0;
    for (char *s = argv[4]; *s && n_ids < 4096;) {
        ids[n_ids++] = (llama_token)strtol(s, &s, 10);
        if (*s == ',')
            s++;
    }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    const double t0 = kk_now_s();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model)
        return fail("cannot load the model");
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx)
        return fail("cannot create a context");
    const double load_s = kk_now_s() - t0;
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch b = llama_batch_init(512, 0, 1);

    double t = kk_now_s();
    if (run(ctx, &b, ids, n_ids, 0, 0) != 0)
        return fail("prefill failed");
    llama_token next = argmax(llama_get_logits_ith(ctx, n_ids - 1), n_vocab);
    const double prefill_s = kk_now_s() - t;
    if (ttft) {
        printf("%d\n", (int)next);
        llama_batch_free(b);
        llama_free(ctx);
        llama_model_free(model);
        return 0;
    }
    t = kk_now_s();
    for (int i = 0; i < N_DECODE; i++) {
        if (run(ctx, &b, &next, 1, n_ids + i, 0) != 0)
            return fail("decode failed");
        next = argmax(llama_get_logits_ith(ctx, 0), n_vocab);
    }
    const double decode_s = kk_now_s() - t;
    double verify[4];
    for (int li = 0; li < 4; li++) {
        const int L = 2 << li;
        double r[N_VERIFY_REPS];
        for (int k = 0; k < N_VERIFY_REPS; k++) {
            llama_memory_seq_rm(llama_get_memory(ctx), 0, n_ids, -1);
            t = kk_now_s();
            if (run(ctx, &b, ids + 1, L, n_ids, 1) != 0)
                return fail("verify failed");
            (void)llama_get_logits_ith(ctx, L - 1);
            r[k] = kk_now_s() - t;
        }
        verify[li] = kk_median(r, N_VERIFY_REPS);
    }
    printf("%.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", load_s, prefill_s, decode_s, verify[0],
           verify[1], verify[2], verify[3]);
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
