/* `kakeya tune` and the kernel choice of every command (harness/cli_kernels.h):
 * a small tune measures every variant, finds the bit-identical knobs
 * identical and writes the host's cache (KAKEYA_CACHE points into a temp
 * folder); `tune --show` then reads it back as the tune cache;
 * KAKEYA_KERNELS and --kernels override it in that order, --kernels leaving
 * the command's own arguments alone; a bad cache file or spec is refused
 * by name; evidence records the choice and its source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test_evidence.h"
#include "test_proc.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

static int setup(void **state)
{
    int rc = tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_tune");
    char cache[128];
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    setenv("KAKEYA_CACHE", cache, 1);
    unsetenv("KAKEYA_KERNELS");
    return rc;
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static tp_run kk(const char *const *args) { return tp_run_prog(NULL, g_bin, args); }

static void tune_should_measure_write_and_be_read_back(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *dry[] = {"tune", "--layers", "1", "--vocab", "1024", "--reps", "1", "--dry-run",
                         "--json", NULL};
    tp_run r = kk(dry);
    if (r.code != 0)
        fail_msg("tune --dry-run: %s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "variants")), 60);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "written")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "bit_identity_ok")));
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(j, "variants"))
    {
        /* only the F16 row kernel may change the floats */
        const char *k = cJSON_GetObjectItem(v, "kernels")->valuestring;
        if (!strstr(k, "f16_gemv=tile1") ||
            strcmp(cJSON_GetObjectItem(v, "type")->valuestring, "f16") != 0)
            assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "identical_to_default")));
    }
    char chosen[200];
    snprintf(chosen, sizeof chosen, "%s", cJSON_GetObjectItem(j, "chosen")->valuestring);
    cJSON_Delete(j);
    tp_run_free(&r);
    /* nothing written yet: the defaults */
    const char *show[] = {"tune", "--show", NULL};
    r = kk(show);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "from default"));
    tp_run_free(&r);
    const char *wr[] = {"tune", "--layers", "1", "--vocab", "1024", "--reps", "1", NULL};
    r = kk(wr);
    if (r.code != 0 || !strstr(r.out, "written to"))
        fail_msg("tune: %s %s", r.out, r.err);
    const char *cline = strstr(r.out, "chosen: ");
    assert_non_null(cline);
    char spec[200];
    snprintf(spec, sizeof spec, "%s", cline + 8);
    spec[strcspn(spec, "\n")] = '\0';
    tp_run_free(&r);
    r = kk(show);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "from tune-cache"));
    if (strncmp(r.out, spec, strlen(spec)) != 0)
        fail_msg("show '%s', tuned '%s'", r.out, spec);
    tp_run_free(&r);
    /* the environment, then the flag, override the cache */
    setenv("KAKEYA_KERNELS", "pf_q8=0", 1);
    r = kk(show);
    assert_non_null(strstr(r.out, "pf_q8=0"));
    assert_non_null(strstr(r.err, "from env"));
    tp_run_free(&r);
    const char *flag[] = {"tune", "--kernels", "hint=t0,pf_q8=4096", "--show", NULL};
    r = kk(flag);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "pf_q8=4096,hint=t0"));
    assert_non_null(strstr(r.err, "from flag"));
    tp_run_free(&r);
    unsetenv("KAKEYA_KERNELS");
}

static void bad_specs_should_be_refused_by_name(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *bad[] = {"tune", "--show", "--kernels", "pf_f16=7", NULL};
    tp_run r = kk(bad);
    assert_int_equal(r.code, 2);
    if (!strstr(r.err, "--kernels") || !strstr(r.err, "pf_f16='7'"))
        fail_msg("%s", r.err);
    tp_run_free(&r);
    const char *none[] = {"tune", "--show", "--kernels", NULL};
    r = kk(none);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    setenv("KAKEYA_KERNELS", "hint=slow", 1);
    r = kk((const char *[]){"tune", "--show", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "KAKEYA_KERNELS"));
    tp_run_free(&r);
    unsetenv("KAKEYA_KERNELS");
    /* a cache file that does not parse names itself */
    char path[256], cache[128];
    snprintf(cache, sizeof cache, "%s/badcache", g_tmp);
    setenv("KAKEYA_CACHE", cache, 1);
    r = kk((const char *[]){"tune", "--layers", "1", "--vocab", "256", "--reps", "1", NULL});
    assert_int_equal(r.code, 0);
    const char *w = strstr(r.out, "written to ");
    assert_non_null(w);
    snprintf(path, sizeof path, "%s", w + 11);
    path[strcspn(path, "\n")] = '\0';
    tp_run_free(&r);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("f16_gemv=row7\n", f);
    fclose(f);
    r = kk((const char *[]){"tune", "--show", NULL});
    assert_int_equal(r.code, 2);
    if (!strstr(r.err, path) || !strstr(r.err, "row7"))
        fail_msg("%s", r.err);
    tp_run_free(&r);
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    setenv("KAKEYA_CACHE", cache, 1);
}

static void evidence_should_record_the_kernels(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128];
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    const char *a[] = {"run", "smoke", "--out", out, "--quiet", "--kernels", "f16_gemv=tile1",
                       "--set", "samples=20", "--set", "ctx=64", NULL};
    tp_run r = kk(a);
    if (r.code != 0)
        fail_msg("run: %s", r.err);
    char path[512];
    snprintf(path, sizeof path, "%s", r.out);
    path[strcspn(path, "\n")] = '\0';
    tp_run_free(&r);
    cJSON *doc = tu_read_json(path);
    const cJSON *pv = cJSON_GetObjectItem(doc, "provenance");
    assert_string_equal(cJSON_GetObjectItem(pv, "kernels_source")->valuestring, "flag");
    assert_non_null(strstr(cJSON_GetObjectItem(pv, "kernels")->valuestring, "f16_gemv=tile1"));
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tune_should_measure_write_and_be_read_back),
        cmocka_unit_test(bad_specs_should_be_refused_by_name),
        cmocka_unit_test(evidence_should_record_the_kernels),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
