/* The llama.cpp cross-check (`make test-slow`): the default synthetic
 * model, written as a GGUF file, runs unchanged in llama.cpp (through
 * bench/llamacpp_driver.c, built by `make refengine`) and in kakeya on the
 * same NIAH samples with the full cache: identical answers on every
 * sample, recall 1.0 in both at 1k and 4k tokens. Skipped with a message
 * when the reference engine is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "niah.h"
#include "synth.h"

/* The answer and margin of one sample (niah_runner_eval's result). */
static kk_code eval_answer(niah_runner *r, const niah_sample *s, int32_t *answer, double *margin,
                           float *logits, kk_err *err)
{
    niah_result res;
    kk_code rc = niah_runner_eval(r, s, &res, logits, err);
    *answer = res.answer;
    *margin = res.margin;
    return rc;
}

/* Samples per (ctx, depth) cell: 20 at 1k, 8 at 4k, 3 depths: 84 samples
 * in each engine. llama.cpp computes all 4 heads, the zero MLP and the
 * full attention matrix (about 1.3 s of CPU per 4k sample), so 4k cells
 * stay small: the binary took 37 s with 2 threads on a quiet machine and
 * 211 s on one shared with fuzzers, under tests/run.sh's 300 s. */
static const int64_t CTX[2] = {1024, 4096};
static const int XCHECK_SAMPLES[2] = {20, 8};
static const double DEPTHS[3] = {0.1, 0.5, 0.9};

static int driver_path(char *buf, size_t cap)
{
    const char *cache = getenv("KAKEYA_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, cap, "%s/llama.cpp/llamacpp_driver", cache);
    else
        snprintf(buf, cap, "%s/.cache/kakeya/llama.cpp/llamacpp_driver", home ? home : "");
    struct stat st;
    return stat(buf, &st) == 0 && (st.st_mode & S_IXUSR);
}

/* Run the samples of `samples[ci]` per depth at CTX[ci] in both engines
 * on the model c; require identical answers and recall 1.0 in both. */
static void cross_check(const synth_cfg *c, const int samples[2], int32_t distractors,
                        const char *label)
{
    char driver[1024];
    if (!driver_path(driver, sizeof driver)) {
        fprintf(stderr, "SKIP: the reference engine is not built (%s missing): run "
                        "`make refengine`\n", driver);
        skip();
    }
    char model_path[] = "/tmp/kakeya-xcheck-model-XXXXXX";
    char samples_path[] = "/tmp/kakeya-xcheck-samples-XXXXXX";
    const int fd_m = mkstemp(model_path), fd_s = mkstemp(samples_path);
    assert_true(fd_m >= 0 && fd_s >= 0);
    close(fd_m);
    FILE *sf = fdopen(fd_s, "w");
    assert_non_null(sf);

    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(synth_write(c, model_path, &e), KK_OK);
    gguf_file *f = NULL;
    model *m = NULL;
    assert_int_equal(gguf_open(&f, model_path, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);

    /* kakeya's answers, and the same samples written for the driver */
    const int n = 3 * (samples[0] + samples[1]);
    int32_t *ours = malloc((size_t)n * sizeof *ours), *expect = malloc((size_t)n * sizeof *expect);
    int *ci_of = malloc((size_t)n * sizeof *ci_of), *theirs = malloc((size_t)n * sizeof *theirs);
    double *their_margin = malloc((size_t)n * sizeof *their_margin);
    int64_t max_ctx = samples[1] > 0 ? CTX[1] : CTX[0];
    niah_runner *r = NULL;
    const niah_opts o = {.mask_layers = 0, .kv_bits = 0, .use_ref = false, .kv_codec = NULL, .kv_codec_v = NULL, .kv_error = false, .kv_codec_passthrough = false};
    assert_int_equal(niah_runner_init(&r, m, max_ctx, &o, &e), KK_OK);
    int32_t *tokens = malloc((size_t)max_ctx * sizeof *tokens);
    int k = 0;
    for (int ci = 0; ci < 2; ci++)
        for (int di = 0; di < 3; di++)
            for (int i = 0; i < samples[ci]; i++, k++) {
                niah_sample s = {tokens, CTX[ci], 0, 0, 0};
                assert_int_equal(niah_sample_make(&s, DEPTHS[di], distractors,
                                                  niah_sample_seed(1, CTX[ci], di, i), &e),
                                 KK_OK);
                double margin;
                assert_int_equal(eval_answer(r, &s, &ours[k], &margin, NULL, &e), KK_OK);
                expect[k] = s.expect;
                ci_of[k] = ci;
                for (int64_t t = 0; t < s.ctx; t++)
                    fprintf(sf, "%s%d", t ? "," : "", (int)tokens[t]);
                fputc('\n', sf);
            }
    fclose(sf);
    free(tokens);
    niah_runner_free(r);
    model_free(m);
    gguf_close(f);

    /* llama.cpp's answers */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --ctx %lld --threads 2 < '%s'", driver, model_path,
             (long long)max_ctx, samples_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int got = 0;
    while (got < n && fscanf(p, "%d %lf", &theirs[got], &their_margin[got]) == 2)
        got++;
    const int status = pclose(p);
    unlink(model_path);
    unlink(samples_path);
    assert_int_equal(status, 0);
    assert_int_equal(got, n);

    int agree = 0, hits_ours[2] = {0, 0}, hits_theirs[2] = {0, 0};
    double min_margin = INFINITY;
    for (int i = 0; i < n; i++) {
        agree += ours[i] == theirs[i];
        hits_ours[ci_of[i]] += ours[i] == expect[i];
        hits_theirs[ci_of[i]] += theirs[i] == expect[i];
        min_margin = fmin(min_margin, their_margin[i]);
    }
    fprintf(stderr, "%s: llama.cpp vs kakeya: %d/%d answers agree; recall at 1k %d/%d vs %d/%d, "
                    "at 4k %d/%d vs %d/%d; llama.cpp's smallest top-1 margin %.3f\n",
            label, agree, n, hits_theirs[0], 3 * samples[0], hits_ours[0], 3 * samples[0],
            hits_theirs[1], 3 * samples[1], hits_ours[1], 3 * samples[1], min_margin);
    assert_int_equal(agree, n);
    for (int ci = 0; ci < 2; ci++) {
        assert_int_equal(hits_ours[ci], 3 * samples[ci]);
        assert_int_equal(hits_theirs[ci], 3 * samples[ci]);
    }
    free(ours);
    free(expect);
    free(ci_of);
    free(theirs);
    free(their_margin);
}

static void llama_cpp_and_kakeya_should_give_the_same_answers(void **state)
{
    (void)state;
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    cross_check(&c, XCHECK_SAMPLES, 0, "default");
}

/* The dense model (every basis change, outlier pairs), the hard setting
 * and the proposer are real models too: 5 samples per depth at 1k (the
 * hard setting with its 3 distractors). */
static void rotated_and_hard_models_should_agree_too(void **state)
{
    (void)state;
    const int few[2] = {5, 0};
    synth_cfg c;
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    c.rotate = SYNTH_ROT_ALL;
    c.n_outliers = 2;
    cross_check(&c, few, 0, "rotate all, 2 outliers");
    synth_defaults(&c, SYNTH_ROLE_VERIFIER);
    synth_apply_hard(&c);
    cross_check(&c, few, c.niah_distractors, "hard");
    /* the proposer: d 448 with 2 heads of 128 (q is 256 wide, not d) */
    synth_defaults(&c, SYNTH_ROLE_PROPOSER);
    cross_check(&c, few, 0, "proposer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(llama_cpp_and_kakeya_should_give_the_same_answers),
        cmocka_unit_test(rotated_and_hard_models_should_agree_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
