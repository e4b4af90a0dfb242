/* The engine-bench preset end to end on the 134M bench model, both
 * engines, the Q8_0 1-thread cell (kakeya, llama.cpp and the scalar
 * control): `kakeya run engine-bench --set types=q8_0 --set threads=1`.
 * Skips with a message when build/bench/llamacpp_bench is absent (`make
 * refengine` then `make bench-driver`). The bench models come from the
 * user's cache (generated there once when absent, ~950 MB).
 *
 * Asserts the evidence's shape and that the measurements are of these
 * processes (peak RSS above half the weight bytes: each process held the
 * model), never a speed: the gate's thresholds judge speed, on a quiet
 * machine. The medians are printed to stderr for the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_file.h"
#include "run_engine_bench.h"
#include "test_proc.h"
#include "test_util.h"

static char g_bin[PATH_MAX], g_gate[PATH_MAX], g_root[PATH_MAX], g_tmp[PATH_MAX];

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kk_ebs") != 0)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    return kk_repo_root(g_root, sizeof g_root, NULL) == KK_OK ? 0 : -1;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    return v;
}

static void the_q8_0_one_thread_cell_should_measure_both_engines_and_the_control(void **state)
{
    (void)state;
    char drv[PATH_MAX + 64];
    kk_err e;
    if (run_engine_bench_driver(g_root, drv, sizeof drv, &e) != KK_OK) {
        fprintf(stderr, "SKIP: %s\n", e.msg);
        skip();
    }
    TP_REQUIRE_PROGRAM(g_bin);
    TP_REQUIRE_PROGRAM(g_gate);
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    const char *args[] = {"run", "engine-bench", "--set", "types=q8_0", "--set", "threads=1",
                          "--out", out, "--quiet", NULL};
    tp_run r = tp_run_prog(NULL, g_bin, args);
    if (r.code != 0)
        fprintf(stderr, "%s", r.err);
    assert_int_equal(r.code, 0);
    char file[PATH_MAX + 320];
    snprintf(file, sizeof file, "%s", r.out);
    file[strcspn(file, "\n")] = '\0';
    tp_run_free(&r);
    char schema[PATH_MAX + 64];
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    const char *vargs[] = {"validate", "--schema", schema, file, NULL};
    r = tp_run_prog(NULL, g_gate, vargs);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(file, &text, &len, NULL), KK_OK);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    const cJSON *arms = get(doc, "arms"), *a;
    assert_int_equal(cJSON_GetArraySize(arms), 3);
    cJSON_ArrayForEach(a, arms) {
        const cJSON *tm = get(a, "timings"), *sg = get(a, "signals");
        const double rss = get(get(sg, "memory"), "peak_rss")->valuedouble;
        const double wb = get(get(a, "metrics"), "weight_bytes")->valuedouble;
        fprintf(stderr, "%-22s decode %8.2f tok/s  prefill %8.2f tok/s  verify8 %5.2f steps  "
                "peak RSS %6.1f MB\n", get(a, "name")->valuestring,
                get(tm, "decode_tok_per_s")->valuedouble,
                get(tm, "prefill_tok_per_s")->valuedouble,
                get(tm, "verify8_per_decode_step")->valuedouble, rss / 1e6);
        assert_true(rss > wb / 2);
        assert_int_equal(cJSON_GetArraySize(get(tm, "repeats")), 5);
        const char *eng = get(get(sg, "engine"), "name")->valuestring;
        if (!strcmp(eng, "llama.cpp"))
            assert_true(strlen(get(get(sg, "engine"), "llamacpp_commit")->valuestring) > 0);
    }
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_q8_0_one_thread_cell_should_measure_both_engines_and_the_control),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
