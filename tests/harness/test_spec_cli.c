/* `kakeya spec` prints exactly what `kakeya generate` prints (engine/spec.h
 * through harness/cmd_generate.c): stories260K, prompts natural and
 * repetitive, blocks 1..16, the ngram drafter at two settings, the
 * random control, the Q8_0 file as a model drafter, skip:2 and none, F32
 * and F16 caches; its JSON's ids equal generate's, tau
 * is tokens per verify call and the counts add up; bad drafters and blocks
 * are refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_proc.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_spec");
}

static void spec_should_print_what_generate_prints(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char model[1100];
    TU_REQUIRE_FIXTURE(model, "models/stories260K.gguf");
    static const char *prompts[] = {
        "Once upon a time, there was a little girl named Lily. She loved to play",
        "The cat sat. The cat sat. The cat sat. The cat",
        "Tom had a red ball. Tom had a red ball and a blue",
    };
    char q8[1100], q8d[1200];
    TU_REQUIRE_FIXTURE(q8, "models/stories260K-q8_0.gguf");
    snprintf(q8d, sizeof q8d, "model:%s", q8);
    /* ngram twice, the random control, the Q8_0 file as a model drafter,
     * the model's first 2 of 5 layers, no drafter */
    const char *drafters[] = {"ngram", "ngram:n=1,max=3", "random:seed=5", q8d, "skip:2", "none"};
    enum { N_DRAFTERS = sizeof drafters / sizeof drafters[0] };
    long accepted_model = 0;
    static const char *blocks[] = {"1", "2", "4", "16"};
    static const char *caches[] = {"f32", "f16"};
    long accepted_total = 0;
    for (size_t p = 0; p < 3; p++)
        for (size_t c = 0; c < 2; c++) {
            const char *g[] = {"generate", "-m", model, "-p", prompts[p], "-n", "80",
                               "--kv-cache", caches[c], "--json", NULL};
            tp_run rg = tp_run_prog(NULL, g_bin, g);
            assert_int_equal(rg.code, 0);
            cJSON *jg = cJSON_Parse(rg.out);
            const char *gt[] = {"generate", "-m", model, "-p", prompts[p], "-n", "80",
                                "--kv-cache", caches[c], NULL};
            tp_run rt = tp_run_prog(NULL, g_bin, gt);
            for (size_t d = 0; d < N_DRAFTERS; d++)
                for (size_t b = 0; b < 4; b++) {
                    const char *s[] = {"spec", "-m", model, "-p", prompts[p], "-n", "80",
                                       "--kv-cache", caches[c], "--drafter", drafters[d],
                                       "--block", blocks[b], NULL};
                    tp_run rs = tp_run_prog(NULL, g_bin, s);
                    assert_int_equal(rs.code, 0);
                    if (strcmp(rs.out, rt.out) != 0)
                        fail_msg("prompt %zu cache %s drafter %s block %s: spec printed\n%s\n"
                                 "generate printed\n%s", p, caches[c], drafters[d], blocks[b],
                                 rs.out, rt.out);
                    tp_run_free(&rs);
                    const char *sj[] = {"spec", "-m", model, "-p", prompts[p], "-n", "80",
                                        "--kv-cache", caches[c], "--drafter", drafters[d],
                                        "--block", blocks[b], "--json", NULL};
                    rs = tp_run_prog(NULL, g_bin, sj);
                    cJSON *js = cJSON_Parse(rs.out);
                    assert_non_null(js);
                    char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(jg, "ids"));
                    char *bb = cJSON_PrintUnformatted(cJSON_GetObjectItem(js, "ids"));
                    assert_string_equal(a, bb);
                    const double blocks_n = cJSON_GetObjectItem(js, "blocks")->valuedouble;
                    const double acc = cJSON_GetObjectItem(js, "accepted")->valuedouble;
                    const double drf = cJSON_GetObjectItem(js, "drafted")->valuedouble;
                    const int n_ids = cJSON_GetArraySize(cJSON_GetObjectItem(js, "ids"));
                    assert_true(acc <= drf);
                    if (b == 0 || d == 5)
                        assert_true(drf == 0); /* block 1 or none: plain decoding */
                    if (blocks_n > 0)
                        assert_true(cJSON_GetObjectItem(js, "tau")->valuedouble ==
                                    (double)(n_ids - 1) / blocks_n);
                    if (d < 2)
                        accepted_total += (long)acc;
                    if (d == 3)
                        accepted_model += (long)acc;
                    free(a);
                    free(bb);
                    cJSON_Delete(js);
                    tp_run_free(&rs);
                }
            cJSON_Delete(jg);
            tp_run_free(&rg);
            tp_run_free(&rt);
        }
    /* the repetitive prompts give the ngram drafter something to accept */
    assert_true(accepted_total > 0);
    /* the Q8_0 copy of the model guesses most of its tokens */
    assert_true(accepted_model > 0);
}

/* A KIVI cache (K affine axis=token: units of 32 token rows, encoded when
 * full): a rejected draft can roll back into a unit a verify call has
 * closed, which needs that unit's raw rows; spec makes its cache with
 * max_rollback = block - 1 so they are kept (it was 0: exit 2, "reopens
 * the K unit of rows 32..63"), and verify calls split at unit-closing
 * rows (kv_invariant_rows): stdout equals generate's on the same cache. */
static void spec_should_print_what_generate_prints_on_a_kivi_cache(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char model[1100];
    TU_REQUIRE_FIXTURE(model, "models/stories260K.gguf");
    static const char *prompts[] = {
        "Once upon a time there was a little girl named Lily. She loved to play",
        "The cat sat on the mat. The cat sat on the mat. The dog",
    };
    static const char *blocks[] = {"4", "8", "16"};
    const char *codec = "affine:bits=2,axis=token,group=32";
    for (size_t p = 0; p < 2; p++) {
        /* one thread: the output does not depend on it, and two threads on
         * 2 shared cores took 0.06 to 2.3 s a run */
        const char *g[] = {"generate", "-m", model, "-p", prompts[p], "-n", "120",
                           "--threads", "1", "--kv-codec", codec, NULL};
        tp_run rg = tp_run_prog(NULL, g_bin, g);
        assert_int_equal(rg.code, 0);
        for (size_t b = 0; b < 3; b++) {
            const char *s[] = {"spec", "-m", model, "-p", prompts[p], "-n", "120",
                               "--threads", "1", "--kv-codec", codec, "--drafter", "ngram",
                               "--block", blocks[b], NULL};
            tp_run rs = tp_run_prog(NULL, g_bin, s);
            if (rs.code != 0)
                fail_msg("prompt %zu block %s: exit %d: %s", p, blocks[b], rs.code, rs.err);
            if (strcmp(rs.out, rg.out) != 0)
                fail_msg("prompt %zu block %s: spec printed\n%s\ngenerate printed\n%s", p,
                         blocks[b], rs.out, rg.out);
            tp_run_free(&rs);
        }
        tp_run_free(&rg);
    }
}

static void bad_arguments_should_be_refused_by_name(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char model[1100];
    TU_REQUIRE_FIXTURE(model, "models/stories260K.gguf");
    static const struct {
        const char *args[6];
        int code;
        const char *part;
    } cases[] = {
        {{"--drafter", "model:x.gguf"}, 2, "cannot open"},
        {{"--drafter", "skip:5"}, 2, "allowed: 1..4"},
        {{"--drafter", "skip:x"}, 2, "K 'x' is not allowed"},
        {{"--drafter", "medusa"}, 2, "allowed: none, ngram"},
        {{"--drafter", "ngram:n=0"}, 2, "n=1..64"},
        {{"--drafter", "random:n=3"}, 2, "seed="},
        {{"--drafter", "ngram", "--block", "0"}, 2, "--block"},
        {{"--block", "4"}, 3, "--drafter D is required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *a[16] = {"spec", "-m", model, "-p", "Once", "-n", "4"};
        int n = 7;
        for (int k = 0; k < 6 && cases[i].args[k]; k++)
            a[n++] = cases[i].args[k];
        a[n] = NULL;
        tp_run r = tp_run_prog(NULL, g_bin, a);
        assert_int_equal(r.code, cases[i].code);
        if (!strstr(r.err, cases[i].part))
            fail_msg("case %zu: %s", i, r.err);
        tp_run_free(&r);
    }
    /* a drafter model with another vocabulary */
    char other[200], od[300];
    snprintf(other, sizeof other, "%s/v600.gguf", g_tmp);
    snprintf(od, sizeof od, "model:%s", other);
    const char *mk[] = {"model", "random", "-o", other, "--vocab", "600", NULL};
    tp_run rm = tp_run_prog(NULL, g_bin, mk);
    assert_int_equal(rm.code, 0);
    tp_run_free(&rm);
    const char *v[] = {"spec", "-m", model, "-p", "Once", "-n", "4", "--drafter", od, NULL};
    tp_run rv = tp_run_prog(NULL, g_bin, v);
    assert_int_equal(rv.code, 2);
    if (!strstr(rv.err, "vocabulary"))
        fail_msg("%s", rv.err);
    tp_run_free(&rv);
    /* generate has no --drafter */
    const char *g[] = {"generate", "-m", model, "-p", "Once", "-n", "4", "--drafter", "ngram", NULL};
    tp_run r = tp_run_prog(NULL, g_bin, g);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_should_print_what_generate_prints),
        cmocka_unit_test(spec_should_print_what_generate_prints_on_a_kivi_cache),
        cmocka_unit_test(bad_arguments_should_be_refused_by_name),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
