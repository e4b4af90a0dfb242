/* The drafter_parity kind (harness/run_drafter_parity.c, engine/spec_parity.c)
 * on the stories260K fixture: the shipped preset runs, its evidence is
 * schema-valid, metrics are byte-identical for --jobs 1 and 3, F32 against
 * itself agrees everywhere, incremental drafting equals drafting from
 * scratch, reduced precision only flips near-ties while the perturbed
 * control has hard mismatches, and every free-running divergence starts
 * where teacher forcing first disagrees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_file.h"
#include "test_proc.h"
#include "test_util.h"
#include "test_evidence.h"

static char g_bin[PATH_MAX], g_gate[PATH_MAX], g_root[PATH_MAX], g_tmp[PATH_MAX];

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kk_dp") != 0)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    return kk_repo_root(g_root, sizeof g_root, NULL) == KK_OK ? 0 : -1;
}

#define get tu_get

static cJSON *run(const char *jobs, const char *tag)
{
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/%s", g_tmp, tag);
    const char *args[] = {"run", "drafter-parity", "--set", "n=48", "--jobs", jobs, "--out", out,
                          "--quiet", NULL};
    return tu_run_evidence(g_bin, g_gate, g_root, args);
}

static void the_shipped_preset_should_separate_rounding_from_perturbation(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char model[1100];
    TU_REQUIRE_FIXTURE(model, "models/stories260K.gguf");
    cJSON *d1 = run("1", "j1"), *d3 = run("3", "j3");
    const cJSON *a1 = get(d1, "arms"), *a3 = get(d3, "arms"), *a;
    assert_int_equal(cJSON_GetArraySize(a1), cJSON_GetArraySize(a3));
    int i = 0;
    cJSON_ArrayForEach(a, a1) {
        /* --jobs never changes a metric */
        char *x = cJSON_PrintUnformatted(get(a, "metrics"));
        char *y = cJSON_PrintUnformatted(get(cJSON_GetArrayItem(a3, i++), "metrics"));
        assert_string_equal(x, y);
        free(x);
        free(y);
        const char *name = get(a, "name")->valuestring;
        const cJSON *m = get(a, "metrics");
        if (!strncmp(name, "incremental", 11)) {
            assert_true(get(m, "drafts_compared")->valuedouble > 100);
            assert_int_equal((int)get(m, "mismatches_vs_scratch")->valuedouble, 0);
            continue;
        }
        const double agree = get(m, "agreement_rate")->valuedouble;
        const int hard = (int)get(m, "mismatches_hard")->valuedouble;
        const int near = (int)get(m, "mismatches_near_tie")->valuedouble;
        const int pos = (int)get(m, "positions")->valuedouble;
        const int agreements = (int)get(m, "agreements")->valuedouble;
        assert_int_equal(pos - agreements, hard + near);
        assert_int_equal((int)get(m, "prefix_consistent")->valuedouble,
                         (int)get(m, "prompts")->valuedouble);
        if (!strcmp(name, "f32")) {
            assert_true(agree == 1.0);
            assert_int_equal((int)get(m, "first_divergence")->valuedouble, -1);
        } else if (!strcmp(name, "perturbed")) {
            assert_true(hard > 0);
            assert_true(agree < 0.95);
        } else {
            assert_int_equal(hard, 0);
            assert_true(agree >= 0.95);
        }
    }
    cJSON_Delete(d1);
    cJSON_Delete(d3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_shipped_preset_should_separate_rounding_from_perturbation),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
