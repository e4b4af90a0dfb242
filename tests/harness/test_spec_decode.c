/* The spec_decode kind (harness/run_spec_decode.c): the shipped preset
 * validates; a drafter arm without its autoregressive arm and a drafter
 * that does not parse are refused with a location; a run of the copy
 * workload (the small synthetic copy model, generated into this test's own
 * cache) and of the stories workloads (fixtures) writes schema-valid
 * evidence in which every drafter arm's output equals the AR arm's, token
 * for token, and the counts agree with each other. No timing is asserted. */
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

#include "kind.h"
#include "kk_file.h"
#include "preset.h"
#include "test_proc.h"
#include "test_util.h"
#include "test_evidence.h"

static char g_bin[PATH_MAX], g_gate[PATH_MAX], g_root[PATH_MAX], g_tmp[PATH_MAX];

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kk_sd") != 0)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    char cache[PATH_MAX + 16];
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    return setenv("KAKEYA_CACHE", cache, 1);
}

static void the_shipped_preset_should_validate_with_an_ar_arm_per_cell(void **state)
{
    (void)state;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/presets", g_root);
    preset *p = NULL;
    kk_err e;
    if (preset_load(dir, "spec-decode", &p, &e) != KK_OK)
        fprintf(stderr, "%s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
    assert_non_null(p);
    assert_string_equal(p->kind->name, "spec_decode");
    int ar = 0, random = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        const char *d = preset_arm_field(p, &p->arms[a], "drafter")->s;
        ar += !strcmp(d, "none");
        random += !strncmp(d, "random", 6);
    }
    assert_true(ar >= 5);
    assert_true(random >= 1);
    assert_true(p->src->has_positive && p->src->has_negative);
    preset_free(p);
}

static kk_code parse_text(const char *text, kk_err *e)
{
    preset *p = NULL;
    kk_code c = preset_parse(text, strlen(text), "p.yaml", "p", &p, e);
    preset_free(p);
    return c;
}

static void a_drafter_arm_without_its_ar_arm_and_a_bad_drafter_should_be_refused(void **state)
{
    (void)state;
    kk_err e;
    kk_code c = parse_text("name: p\nkind: spec_decode\ndescription: x\narms:\n"
                           "  - {name: a, workload: copy}\n"
                           "  - {name: b, workload: copy, drafter: ngram, n: 64}\n"
                           "gate:\n  thresholds: []\n", &e);
    assert_int_equal(c, KK_E_RANGE);
    assert_non_null(strstr(e.msg, "no arm with drafter: none"));
    assert_string_equal(e.where, "arms[1].drafter");
    assert_int_equal(e.line, 6);
    c = parse_text("name: p\nkind: spec_decode\ndescription: x\narms:\n"
                   "  - {name: a, workload: copy}\n"
                   "  - {name: b, workload: copy, drafter: \"eagle:3\"}\n"
                   "gate:\n  thresholds: []\n", &e);
    assert_int_equal(c, KK_E_RANGE);
    assert_non_null(strstr(e.msg, "allowed: none, ngram"));
    c = parse_text("name: p\nkind: spec_decode\ndescription: x\narms:\n"
                   "  - {name: a, workload: copy, block: 65}\n"
                   "gate:\n  thresholds: []\n", &e);
    assert_int_equal(c, KK_E_RANGE);
}

#define get tu_get

static double num(const cJSON *o, const char *k) { return get(o, k)->valuedouble; }

/* `kakeya run spec-decode --set workloads=W`, validated; the evidence. */
static cJSON *run(const char *workloads, const char *tag)
{
    char out[PATH_MAX + 32], set[128];
    snprintf(out, sizeof out, "%s/%s", g_tmp, tag);
    snprintf(set, sizeof set, "workloads=%s", workloads);
    const char *args[] = {"run", "spec-decode", "--set", set, "--out", out, "--quiet", NULL};
    return tu_run_evidence(g_bin, g_gate, g_root, args);
}

/* Every drafter arm: output equal to its AR arm's (the sample's ids and
 * mismatches_vs_ar 0), counts consistent; @return the arms seen. */
static int check_arms(const cJSON *doc)
{
    const cJSON *arms = get(doc, "arms"), *a, *b;
    int n = 0;
    assert_int_equal((int)num(get(doc, "provenance"), "jobs"), 1);
    cJSON_ArrayForEach(a, arms) {
        n++;
        const cJSON *cfg = get(a, "config"), *m = get(a, "metrics"), *s = get(a, "signals");
        const char *d = get(cfg, "drafter")->valuestring;
        const double emitted = num(m, "tokens_emitted"), blocks = num(get(s, "counters"),
                                                                     "verify_calls");
        const double drafted = num(get(s, "counters"), "tokens_drafted");
        const double accepted = num(get(s, "events"), "tokens_accepted");
        assert_true(accepted <= drafted);
        assert_true(num(m, "tau") * blocks > emitted - 1 - 1e-9 &&
                    num(m, "tau") * blocks < emitted - 1 + 1e-9);
        assert_true(get(m, "same_output_every_repeat")->type == cJSON_True);
        assert_int_equal(cJSON_GetArraySize(get(get(a, "timings"), "repeats")), 5);
        if (!strcmp(d, "none")) {
            assert_true(drafted == 0 && blocks == emitted - 1);
            continue;
        }
        assert_int_equal((int)num(m, "mismatches_vs_ar"), 0);
        assert_true(get(m, "ids_equal_ar_arm")->type == cJSON_True);
        /* the AR arm of the same cell printed the same ids */
        int found = 0;
        cJSON_ArrayForEach(b, arms) {
            const cJSON *cb = get(b, "config");
            if (strcmp(get(cb, "drafter")->valuestring, "none") != 0 ||
                strcmp(get(cb, "workload")->valuestring, get(cfg, "workload")->valuestring) ||
                strcmp(get(cb, "stop")->valuestring, get(cfg, "stop")->valuestring) ||
                num(cb, "n") != num(cfg, "n") ||
                strcmp(get(cb, "weights")->valuestring, get(cfg, "weights")->valuestring))
                continue;
            char *x = cJSON_PrintUnformatted(get(cJSON_GetArrayItem(get(a, "samples"), 0), "ids"));
            char *y = cJSON_PrintUnformatted(get(cJSON_GetArrayItem(get(b, "samples"), 0), "ids"));
            assert_string_equal(x, y);
            free(x);
            free(y);
            found = 1;
        }
        assert_true(found);
    }
    return n;
}

static void a_copy_run_should_equal_greedy_decoding_and_accept_what_repeats(void **state)
{
    (void)state;
    cJSON *doc = run("copy", "copy");
    assert_int_equal(check_arms(doc), 2);
    const cJSON *a = cJSON_GetArrayItem(get(doc, "arms"), 1);
    assert_string_equal(get(a, "name")->valuestring, "copy-ngram-b8");
    /* the copy model continues a cycle that the ngram drafter knows */
    assert_true(num(get(a, "metrics"), "tau") >= 7.0);
    assert_true(num(get(a, "metrics"), "acceptance_rate") >= 0.99);
    cJSON_Delete(doc);
}

static void a_stories_run_should_stop_at_the_natural_end_unless_forced(void **state)
{
    (void)state;
    char model[1100];
    TU_REQUIRE_FIXTURE(model, "models/stories260K.gguf");
    cJSON *doc = run("stories-natural", "stories");
    assert_int_equal(check_arms(doc), 6);
    const cJSON *a;
    double nat = -1, forced = -1;
    cJSON_ArrayForEach(a, get(doc, "arms")) {
        const char *name = get(a, "name")->valuestring;
        const cJSON *m = get(a, "metrics");
        if (!strcmp(name, "st-nat-ar"))
            nat = num(m, "tokens_emitted");
        if (!strcmp(name, "st-forced-ar"))
            forced = num(m, "tokens_emitted");
        if (!strcmp(name, "st-nat-model-b4")) /* its Q8_0 copy guesses nearly every token */
            assert_true(num(m, "acceptance_rate") > 0.8);
    }
    assert_true(nat > 10 && nat < 512);
    assert_true(forced == 512);
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_shipped_preset_should_validate_with_an_ar_arm_per_cell),
        cmocka_unit_test(a_drafter_arm_without_its_ar_arm_and_a_bad_drafter_should_be_refused),
        cmocka_unit_test(a_copy_run_should_equal_greedy_decoding_and_accept_what_repeats),
        cmocka_unit_test(a_stories_run_should_stop_at_the_natural_end_unless_forced),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
