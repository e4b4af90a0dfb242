/* CLI tests of `kakeya model synth` and `kakeya niah`: every exit code,
 * messages naming the flag or key, the JSON of docs/cli.md, and the recall
 * controls end to end. The binary is this flavor's build/<flavor>/kakeya,
 * run with fork/exec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_file.h"
#include "test_util.h"
#include "test_proc.h"

static char g_bin[2048];
static char g_tmp[64];
static char g_synth[256];  /* the default synthetic model, written once */
static char g_random[256]; /* a random (not synthetic) model */

/* Run g_bin with args (NULL-terminated); capture stdout and stderr. */
static tp_run run(const char *const *args)
{
    return tp_run_prog(NULL, g_bin, args);
}

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_niah_cli") != 0)
        return -1;
    snprintf(g_synth, sizeof g_synth, "%s/synth.gguf", g_tmp);
    snprintf(g_random, sizeof g_random, "%s/random.gguf", g_tmp);
    return 0;
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static void write_synth(void)
{
    struct stat st;
    if (stat(g_synth, &st) == 0)
        return;
    const char *a[] = {"model", "synth", "-o", g_synth, NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
}

/* ---- model synth ------------------------------------------------------------- */

static void model_synth_should_write_a_model_that_model_info_reads(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    const char *a[] = {"model", "info", g_synth, "--json", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "kakeya.synth.mode"));
    assert_non_null(strstr(r.out, "llama"));
    tp_run_free(&r);
}

static void model_synth_bad_values_should_exit_2_naming_the_flag(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[256];
    snprintf(out, sizeof out, "%s/copy.gguf", g_tmp);
    const struct { const char *flag, *val; } cases[] = {
        {"--key-dim", "33"}, {"--mode", "echo"}, {"--rotate", "spin"}, {"--codes", "dense"},
        {"--beta", "-1"},    {"--sliding", "5"}, {"--role", "judge"},
        {"--ballast-scale", "-1"},
        {"--ballast-scale", "5"}, /* refused by its margins' estimate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *a[] = {"model", "synth", "-o", out, cases[i].flag, cases[i].val, NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, cases[i].flag));
        tp_run_free(&r);
    }
    const char *u1[] = {"model", "synth", NULL}; /* no -o */
    tp_run r = run(u1);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *u2[] = {"model", "synth", "-o", out, "--bogus", NULL};
    r = run(u2);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
}

/* The ballast's report on stderr, and its knob in the file. */
static void model_synth_with_ballast_should_print_its_margins_estimate(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[256];
    snprintf(out, sizeof out, "%s/ballast.gguf", g_tmp);
    const char *a[] = {"model", "synth", "-o", out, "--mode", "copy", "--ffn", "64",
                       "--ballast-scale", "0.25", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "ballast 0.25, FFN 64 x 2 layers"));
    assert_non_null(strstr(r.err, "answer margin over the fallback"));
    tp_run_free(&r);
    const char *b[] = {"model", "info", out, "--json", NULL};
    r = run(b);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "kakeya.synth.ballast_scale"));
    assert_non_null(strstr(r.out, "kakeya.synth.stats.ballast_margin"));
    tp_run_free(&r);
}

/* ---- niah -------------------------------------------------------------------------- */

static cJSON *niah_json(const char *const *extra, int *code)
{
    const char *a[24] = {"niah", "-m", g_synth, "--ctx", "256", "--samples", "4",
                         "--threads", "1", "--json"};
    int n = 10;
    for (int i = 0; extra && extra[i]; i++)
        a[n++] = extra[i];
    a[n] = NULL;
    tp_run r = run(a);
    *code = r.code;
    cJSON *j = r.code == 0 ? cJSON_Parse(r.out) : NULL;
    tp_run_free(&r);
    return j;
}

static double total_recall(const cJSON *j)
{
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(j, "cells"), *c;
    double hits = 0, n = 0;
    cJSON_ArrayForEach(c, cells)
    {
        hits += cJSON_GetObjectItemCaseSensitive(c, "hits")->valuedouble;
        n += cJSON_GetObjectItemCaseSensitive(c, "n")->valuedouble;
    }
    return hits / n;
}

static void niah_json_should_hold_the_documented_fields(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    int code;
    cJSON *j = niah_json(NULL, &code);
    assert_int_equal(code, 0);
    assert_non_null(j);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    assert_true(cJSON_IsObject(m));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "mode")->valuestring, "niah");
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(m, "sha256")->valuestring), 64);
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(j, "cells");
    assert_int_equal(cJSON_GetArraySize(cells), 3); /* default depths 0.1, 0.5, 0.9 */
    const double depths[3] = {0.1, 0.5, 0.9};
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cells)
    {
        const char *keys[] = {"ctx", "depth", "n", "hits", "recall", "recall_ci_lo",
                              "recall_ci_hi", "min_margin"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, keys[k])));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(c, "ctx")->valuedouble, 256);
        assert_true(cJSON_GetObjectItemCaseSensitive(c, "depth")->valuedouble == depths[i++]);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(c, "n")->valuedouble, 4);
        assert_true(cJSON_GetObjectItemCaseSensitive(c, "recall")->valuedouble == 1.0);
        assert_true(cJSON_GetObjectItemCaseSensitive(c, "recall_ci_hi")->valuedouble == 1.0);
        assert_true(cJSON_GetObjectItemCaseSensitive(c, "min_margin")->valuedouble > 40.0);
    }
    cJSON_Delete(j);
}

static void niah_controls_should_hold_end_to_end(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    int code;
    const char *masked[] = {"--mask-layers", "1", NULL};
    cJSON *j = niah_json(masked, &code);
    assert_int_equal(code, 0);
    assert_true(total_recall(j) == 0.0);
    cJSON_Delete(j);
    /* the same seed gives the same JSON cells; distractors run too */
    const char *d[] = {"--distractors", "3", "--seed", "9", "--depths", "0.25", NULL};
    cJSON *a = niah_json(d, &code), *b = niah_json(d, &code);
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(a, "cells"),
                              cJSON_GetObjectItemCaseSensitive(b, "cells"), 1));
    assert_true(total_recall(a) == 1.0);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void niah_kv_codec_should_report_the_codec_and_its_counters(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    int code;
    const char *q8[] = {"--kv-codec", "q8_0", NULL};
    cJSON *j = niah_json(q8, &code);
    assert_int_equal(code, 0);
    assert_true(total_recall(j) == 1.0);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(n, "kv_codec")->valuestring, "q8_0");
    assert_true(cJSON_GetObjectItemCaseSensitive(n, "kv_bits_per_value")->valuedouble == 8.5);
    const char *counts[] = {"k_values_encoded", "k_values_decoded", "v_values_encoded",
                            "v_values_decoded"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        assert_true(cJSON_GetObjectItemCaseSensitive(n, counts[i])->valuedouble > 0);
    cJSON_Delete(j);
    /* without a codec the field is null; a rotation is reported per head */
    j = niah_json(NULL, &code);
    n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(n, "kv_codec")));
    cJSON_Delete(j);
    const char *rot[] = {"--kv-codec", "e8:bits=4,rotate=hadamard", NULL};
    j = niah_json(rot, &code);
    assert_int_equal(code, 0);
    n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(n, "kv_codec")->valuestring,
                           "dim=128"));
    cJSON_Delete(j);
    /* KIVI: keys per channel (channels = the cache row), values per token */
    const char *kivi[] = {"--kv-codec", "affine:bits=2,group=32,axis=token", "--kv-codec-v",
                          "affine:bits=2,group=32", NULL};
    j = niah_json(kivi, &code);
    assert_int_equal(code, 0);
    n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(n, "kv_codec")->valuestring,
                        "affine:bits=2,group=32,axis=token,channels=512");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(n, "kv_codec_v")->valuestring,
                        "affine:bits=2,group=32");
    assert_true(cJSON_GetObjectItemCaseSensitive(n, "kv_bits_per_value")->valuedouble == 3.0);
    cJSON_Delete(j);
}

/* A bounded cache (--policy sinkwin) keeps sinks and the last W positions:
 * a needle near the end is found, one far outside the window is gone (the
 * negative control of bounded caches before restoration). The policy is
 * echoed in its canonical form; a bad spec names the flag. */
static void niah_policy_should_lose_the_needle_outside_the_window(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    const char *extra[] = {"--depths", "0.1,0.97", "--policy", "sinkwin:window=32,sink=2", NULL};
    int code;
    cJSON *j = niah_json(extra, &code);
    assert_int_equal(code, 0);
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(nj, "restore")->valuestring, "none");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(nj, "policy")->valuestring,
                        "sinkwin:sink=2,window=32");
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(j, "cells");
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cells, 0), "recall")
                    ->valuedouble == 0.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cells, 1), "recall")
                    ->valuedouble == 1.0);
    cJSON_Delete(j);
    /* the full cache finds both */
    const char *full[] = {"--depths", "0.1,0.97", "--policy", "full", NULL};
    j = niah_json(full, &code);
    assert_int_equal(code, 0);
    assert_true(total_recall(j) == 1.0);
    cJSON_Delete(j);
    /* the positive control: identity restoration puts the evicted
     * positions back, and the needle is found again everywhere */
    const char *ident[] = {"--depths", "0.1,0.97", "--policy", "sinkwin:sink=2,window=32",
                           "--restore", "identity", NULL};
    j = niah_json(ident, &code);
    assert_int_equal(code, 0);
    assert_true(total_recall(j) == 1.0);
    nj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "model"), "niah");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(nj, "restore")->valuestring, "identity");
    cJSON_Delete(j);
    const char *norestore[] = {"niah", "-m", g_synth, "--ctx", "256", "--restore", "identity",
                               NULL};
    tp_run r0 = run(norestore);
    assert_int_equal(r0.code, 3);
    assert_non_null(strstr(r0.err, "--restore needs --policy"));
    tp_run_free(&r0);
    const char *a[] = {"niah", "-m", g_synth, "--ctx", "256", "--policy", "sinkwin:sink=2,window=0",
                       NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--policy"));
    assert_non_null(strstr(r.err, "window = '0' is not an integer in 1..1048576"));
    tp_run_free(&r);
    const char *b[] = {"niah", "-m", g_synth, "--ctx", "256", "--policy", "sinkwin:sink=2,window=8",
                       "--kv-codec", "q8_0", NULL};
    r = run(b);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
}

static void niah_bad_input_should_exit_2_and_usage_3(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_synth();
    const struct { const char *flag, *val; } bad[] = {
        {"--ctx", "8"},          {"--ctx", "100,abc"}, {"--depths", "1.5"},
        {"--samples", "0"},      {"--kv-bits", "17"},  {"--mask-layers", "4"},
        {"--distractors", "99"}, {"--kv-codec", "affine:bits=5"},
        {"--kv-codec", "zstd"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *ctx = strcmp(bad[i].flag, "--ctx") ? "64" : bad[i].val;
        const char *a[] = {"niah", "-m", g_synth, "--ctx", ctx, bad[i].flag, bad[i].val,
                           "--threads", "1", NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, bad[i].flag));
        tp_run_free(&r);
    }
    /* Messages name what the value is and print ranges as integers. */
    const struct { const char *flag, *val, *want, *never; } msg[] = {
        {"--mask-layers", "99999", "layer 99999", "token id"},
        {"--ctx", "2000000", "16..1048576", "e+06"},
    };
    for (size_t i = 0; i < sizeof msg / sizeof msg[0]; i++) {
        const char *ctx = strcmp(msg[i].flag, "--ctx") ? "64" : msg[i].val;
        const char *a[] = {"niah", "-m", g_synth, "--ctx", ctx, msg[i].flag, msg[i].val, NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 2);
        if (!strstr(r.err, msg[i].want) || strstr(r.err, msg[i].never))
            fail_msg("%s %s: %s", msg[i].flag, msg[i].val, r.err);
        tp_run_free(&r);
    }
    /* a model that is not synthetic: exit 2 naming the key */
    const char *w[] = {"model", "random", "-o", g_random, NULL};
    tp_run r = run(w);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    const char *a[] = {"niah", "-m", g_random, "--ctx", "64", NULL};
    r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "kakeya.synth.mode"));
    tp_run_free(&r);
    const char *u1[] = {"niah", "-m", g_synth, NULL}; /* no --ctx */
    r = run(u1);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *u2[] = {"niah", "--ctx", "64", "--frobnicate", NULL};
    r = run(u2);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *u3[] = {"niah", "-m", g_synth, "--ctx", "64", "--kv-bits", "4", "--kv-codec",
                        "q4_0", NULL};
    r = run(u3);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "exclusive"));
    tp_run_free(&r);
    const char *u4[] = {"niah", "-m", g_synth, "--ctx", "64", "--kv-codec-v", "q4_0", NULL};
    r = run(u4);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *b5[] = {"niah", "-m", g_synth, "--ctx", "64", "--kv-codec", "q8_0",
                        "--kv-codec-v", "affine:axis=token,rotate=hadamard", NULL};
    r = run(b5);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--kv-codec-v"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_synth_should_write_a_model_that_model_info_reads),
        cmocka_unit_test(model_synth_bad_values_should_exit_2_naming_the_flag),
        cmocka_unit_test(model_synth_with_ballast_should_print_its_margins_estimate),
        cmocka_unit_test(niah_json_should_hold_the_documented_fields),
        cmocka_unit_test(niah_controls_should_hold_end_to_end),
        cmocka_unit_test(niah_kv_codec_should_report_the_codec_and_its_counters),
        cmocka_unit_test(niah_policy_should_lose_the_needle_outside_the_window),
        cmocka_unit_test(niah_bad_input_should_exit_2_and_usage_3),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
