/* The kv_quant kind's KLD figures (harness/run_kld.h) end to end through
 * `kakeya run`: with kld_model a random qwen3 built in memory and a text,
 * each codec arm gets kld_mean, kld_p99 and top1_agree (identity exactly
 * 0 and 1; the corrupt control far above q8_0), needle-masked arms none,
 * the model is listed with role kld, the figures do not depend on --jobs,
 * bits_per_value_kv is what the rows cost (e8ans: not its Gaussian rate);
 * a missing, doubled or bad kld parameter is refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "test_evidence.h"
#include "test_proc.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_kld");
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

#define KLD_PARAMS                                                                         \
    "params:\n  ctx: {type: list, of: int, default: [128]}\n"                              \
    "  samples: {type: int, default: 2}\n"                                                 \
    "  kld_model: {type: string, default: \"random:arch=qwen3&head_dim=32&seed=3\"}\n"

static tp_run run_preset(const char *name, const char *body, const char *jobs)
{
    char dir[256], path[320], out[256];
    snprintf(dir, sizeof dir, "%s/presets", g_tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name: %s\nkind: kv_quant\ndescription: \"test\"\n%s", name, body);
    fclose(f);
    snprintf(out, sizeof out, "%s/ev-%s", g_tmp, jobs);
    const char *a[] = {"run", name, "--presets", dir, "--out", out, "--quiet", "--jobs", jobs,
                       NULL};
    return tp_run_prog(NULL, g_bin, a);
}

static double metric(const cJSON *arm, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(arm, "metrics"), key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static cJSON *run_doc(const char *body, const char *jobs)
{
    tp_run r = run_preset("kld", body, jobs);
    if (r.code != 0)
        fail_msg("run: %s", r.err);
    char path[512];
    snprintf(path, sizeof path, "%s", r.out);
    path[strcspn(path, "\n")] = 0;
    tp_run_free(&r);
    return tu_read_json(path);
}

static void codec_arms_should_carry_their_kld(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *body = KLD_PARAMS
        "  kld_text: {type: string, default: \"the cat sat on the mat and the dog ran to the "
        "park with a red ball\"}\n"
        "arms:\n"
        "  - {name: id, codec: identity}\n"
        "  - {name: q8, codec: q8_0}\n"
        "  - {name: bad, codec: q8_0, corrupt: true}\n"
        "  - {name: ans, codec: \"e8ans:bits=4\"}\n"
        "  - {name: masked, codec: identity, mask_needle: true}\n"
        "gate: {}\n";
    cJSON *doc = run_doc(body, "1"), *doc2 = run_doc(body, "2");
    const cJSON *id = tu_arm(doc, "id"), *q8 = tu_arm(doc, "q8"), *bad = tu_arm(doc, "bad"),
                *ans = tu_arm(doc, "ans"), *masked = tu_arm(doc, "masked");
    assert_true(metric(id, "kld_mean") == 0.0 && metric(id, "top1_agree") == 1.0);
    assert_true(metric(q8, "kld_mean") > 0.0 && metric(q8, "kld_p99") >= metric(q8, "kld_mean"));
    assert_true(metric(bad, "kld_mean") > 10.0 * metric(q8, "kld_mean"));
    assert_true(metric(masked, "kld_mean") == -1.0);
    assert_true(metric(q8, "bits_per_value_kv") == 8.5);
    assert_true(metric(ans, "bits_per_value_kv") > 0.0 &&
                metric(ans, "bits_per_value_kv") != metric(ans, "bits_per_value"));
    /* the figures are the preset's: --jobs changes nothing */
    const char *keys[] = {"kld_mean", "kld_p99", "top1_agree", "bits_per_value_kv"};
    for (int k = 0; k < 4; k++)
        assert_true(metric(q8, keys[k]) == metric(tu_arm(doc2, "q8"), keys[k]));
    /* the model, listed by role */
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models"), *m;
    int found = 0;
    cJSON_ArrayForEach(m, models)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (cJSON_IsString(role) && !strcmp(role->valuestring, "kld")) {
            found = 1;
            assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(m, "sha256")->valuestring),
                             64);
        }
    }
    assert_true(found);
    cJSON_Delete(doc);
    cJSON_Delete(doc2);
}

static void bad_kld_parameters_should_be_refused_by_name(void **state)
{
    (void)state;
    REQUIRE_BIN();
    static const struct {
        const char *extra, *want1, *want2;
    } cases[] = {
        {"", "kld_text", "neither"},
        {"  kld_text: {type: string, default: \"a b\"}\n  kld_ids: {type: string, default: "
         "\"1,2\"}\n",
         "kld_ids", "both"},
        {"  kld_ids: {type: string, default: \"1,99999\"}\n", "kld_ids", "99999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "%s%sarms:\n  - {name: q8, codec: q8_0}\ngate: {}\n",
                 KLD_PARAMS, cases[i].extra);
        tp_run r = run_preset("kld-bad", body, "1");
        assert_int_equal(r.code, 2);
        if (!strstr(r.err, cases[i].want1) || !strstr(r.err, cases[i].want2))
            fail_msg("case %zu: %s", i, r.err);
        tp_run_free(&r);
    }
    tp_run r = run_preset("kld-bad2",
                          "params:\n  kld_model: {type: string, default: \"random:heads=x\"}\n"
                          "  kld_ids: {type: string, default: \"1,2\"}\n"
                          "arms:\n  - {name: q8, codec: q8_0}\ngate: {}\n",
                          "1");
    assert_int_equal(r.code, 2);
    if (!strstr(r.err, "kld_model") || !strstr(r.err, "heads"))
        fail_msg("%s", r.err);
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_arms_should_carry_their_kld),
        cmocka_unit_test(bad_kld_parameters_should_be_refused_by_name),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
