/* The codec_k / codec_v arm fields of the NIAH kinds end to end through
 * `kakeya run` (harness/run_niah.h): K and V through different codecs, one
 * side left in F32, and the plain `codec` for both. Each side's codec ran
 * (its own counters, which LIVENESS reads), the other side's did not leak
 * into it (V's error is q4_0's, lloyd's or 0), bits per value are the two
 * sides' mean, and a bad side spec is refused by name before running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "test_proc.h"
#include "test_evidence.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp,
                        "kakeya_codec_sides");
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static tp_run run_preset(const char *name, const char *body)
{
    char dir[256], path[320], out[256];
    snprintf(dir, sizeof dir, "%s/presets", g_tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name: %s\nkind: kv_quant\ndescription: \"test\"\n%s", name, body);
    fclose(f);
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    const char *a[] = {"run", name, "--presets", dir, "--out", out, "--quiet", NULL};
    return tp_run_prog(NULL, g_bin, a);
}

static double at(const cJSON *a, const char *obj, const char *key)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(a, obj);
    if (!strcmp(obj, "counters"))
        o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "signals"),
                                             "counters");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static void each_side_should_run_its_own_codec(void **state)
{
    (void)state;
    REQUIRE_BIN();
    tp_run r = run_preset("sides",
                          "params:\n  ctx: {type: list, of: int, default: [256]}\n"
                          "  samples: {type: int, default: 3}\n"
                          "arms:\n"
                          "  - {name: q8k-l2v, codec_k: q8_0, codec_v: \"lloyd:bits=2\"}\n"
                          "  - {name: k-only, codec_k: q8_0}\n"
                          "  - {name: both, codec: q8_0}\n"
                          "gate: {}\n");
    if (r.code != 0)
        fail_msg("run: %s", r.err);
    char path[512];
    snprintf(path, sizeof path, "%s", r.out);
    path[strcspn(path, "\n")] = 0;
    tp_run_free(&r);
    cJSON *doc = tu_read_json(path);
    const cJSON *split = tu_arm(doc, "q8k-l2v"), *konly = tu_arm(doc, "k-only"), *both = tu_arm(doc, "both");
    /* the sides counted apart, and they add up to the arm's totals */
    assert_true(at(split, "counters", "values_encoded_k") > 0);
    assert_true(at(split, "counters", "values_encoded_v") > 0);
    assert_true(at(split, "counters", "values_encoded_k") + at(split, "counters", "values_encoded_v") ==
                at(split, "counters", "values_encoded"));
    assert_true(at(both, "counters", "values_encoded_k") == -1.0); /* one codec: totals only */
    /* V's codec is V's: lloyd 2-bit on V, q8_0's error on K (K's rows
     * differ a little between the arms, V's error reaching layer 1's input
     * through layer 0: within 1%, where lloyd on K would be 10^4 times
     * larger) */
    assert_true(at(split, "metrics", "rel_mse_v") > 0.1);
    const double kk = at(split, "metrics", "rel_mse_k"), ko = at(konly, "metrics", "rel_mse_k");
    assert_true(ko > 0 && kk > 0.99 * ko && kk < 1.01 * ko);
    assert_true(at(konly, "metrics", "rel_mse_v") == 0.0); /* V left in F32 */
    /* bits: the mean of the sides (q8_0 8.5, lloyd 2.125; F32 32) */
    assert_true(at(split, "metrics", "bits_per_value") == (8.5 + 2.125) / 2);
    assert_true(at(konly, "metrics", "bits_per_value") == (8.5 + 32) / 2);
    assert_true(at(both, "metrics", "bits_per_value") == 8.5);
    cJSON_Delete(doc);
    /* a bad side spec is refused by its field */
    r = run_preset("sides-bad", "arms:\n  - {name: a, codec_v: \"lloyd:bits=9\"}\ngate: {}\n");
    assert_int_equal(r.code, 2);
    if (!strstr(r.err, "codec_v") || !strstr(r.err, "bits=9"))
        fail_msg("%s", r.err);
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_side_should_run_its_own_codec),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
