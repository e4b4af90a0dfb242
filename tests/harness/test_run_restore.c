/* The restore kind end to end through `kakeya run` (harness/run_restore.h):
 * a small preset with the full cache, a bounded cache restoring nothing
 * (negative control), the true rows (positive control) and f_theta fitted
 * in the run on the verifier as its own proposer (the self-fit control:
 * held-out error <= 1e-4 and recall equal to identity's), and s5 on a
 * hybrid verifier. Checks the figures the gate rules read: per-cell bytes
 * (constant for bounded arms), attention mass on restored positions,
 * needle_exact_layers, and the models[] entries of proposer and f_theta.
 * And presets the kind must refuse before running. */
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
                        "kakeya_run_restore");
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static void write_preset(const char *name, const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "%s/presets", g_tmp);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/presets/%s.yaml", g_tmp, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "name: %s\nkind: restore\ndescription: \"test\"\n%s", name, body);
    fclose(f);
}

static tp_run run_preset(const char *name)
{
    char presets[256], out[256];
    snprintf(presets, sizeof presets, "%s/presets", g_tmp);
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    const char *a[] = {"run", name, "--presets", presets, "--out", out, "--threads", "2",
                       "--jobs", "2", "--quiet", NULL};
    return tp_run_prog(NULL, g_bin, a);
}

/* The evidence file run_preset wrote for name (the one file there). */
static cJSON *evidence_of(const char *name)
{
    char dir[320];
    snprintf(dir, sizeof dir, "%s/ev/%s", g_tmp, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    char path[640] = "";
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".json"))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(path[0]);
    return tu_read_json(path);
}

static double metric(const cJSON *a, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(a, "metrics"), key);
    if (!cJSON_IsNumber(v))
        fail_msg("arm %s: no metric %s", cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring,
                 key);
    return v->valuedouble;
}

/* Every cell of the arm holds the same bytes under key. */
static void assert_cells_constant(const cJSON *a, const char *key)
{
    const cJSON *c;
    double first = -1;
    int n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
                              cJSON_GetObjectItemCaseSensitive(a, "metrics"), "cells"))
    {
        const double b = cJSON_GetObjectItemCaseSensitive(c, key)->valuedouble;
        if (first < 0)
            first = b;
        assert_true(b == first && b > 0);
        n++;
    }
    assert_true(n >= 2);
}

/* How many samples of the arm have a non-empty needle_exact_layers. */
static int exact_samples(const cJSON *a)
{
    int n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(a, "samples"))
        n += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "needle_exact_layers")) > 0;
    return n;
}

static void a_restore_preset_should_show_controls_self_fit_and_bounded_bytes(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_preset("rs-small",
                 "params:\n"
                 "  model: {type: string, default: \"synth:niah?window=32&sliding_layers=1\"}\n"
                 "  proposer: {type: string, default: \"synth:niah?window=32&sliding_layers=1\"}\n"
                 "  ctx: {type: list, of: int, default: [256, 1024]}\n"
                 "  depths: {type: list, of: float, default: [0.2, 0.6]}\n"
                 "  samples: {type: int, default: 4}\n"
                 "  rank: {type: int, default: 1024}\n"
                 "  calib: {type: int, default: 8}\n"
                 "  calib_ctx: {type: int, default: 256}\n"
                 "  calib_distractors: {type: int, default: 40}\n"
                 "arms:\n"
                 "  - {name: full, policy: full}\n"
                 "  - {name: none, policy: \"sinkwin:sink=4,window=32\"}\n"
                 "  - {name: identity, policy: \"sinkwin:sink=4,window=32\", restore: identity}\n"
                 "  - {name: self, policy: \"sinkwin:sink=4,window=32\", restore: ftheta}\n"
                 "  - {name: s5, policy: s5}\n"
                 "  - {name: s5q, policy: s5, codec: q8_0}\n"
                 "gate:\n  baseline: full\n");
    tp_run r = run_preset("rs-small");
    if (r.code != 0)
        fail_msg("kakeya run: %d\n%s", r.code, r.err);
    tp_run_free(&r);
    cJSON *doc = evidence_of("rs-small");
    const cJSON *full = tu_arm(doc, "full"), *none = tu_arm(doc, "none"), *id = tu_arm(doc, "identity"),
                *self = tu_arm(doc, "self"), *s5 = tu_arm(doc, "s5");
    /* controls: the window never covers the needle, so nothing restored
     * loses it and the true rows recall it */
    assert_true(metric(full, "recall") == 1.0);
    assert_true(metric(none, "recall") == 0.0);
    assert_true(metric(id, "recall") == metric(full, "recall"));
    /* the self-fit control: the verifier restores itself */
    assert_true(metric(self, "rel_mse_restored_heldout_k") <= 1e-4);
    assert_true(metric(self, "rel_mse_restored_heldout_v") <= 1e-4);
    assert_true(metric(self, "recall") == metric(id, "recall"));
    assert_true(metric(self, "rel_mse_restored_v") <= 1e-4);
    /* the path is exercised: the last query attends to restored rows, and
     * no layer kept the needle */
    assert_true(metric(id, "attention_mass_restored") > 0.9);
    assert_true(metric(self, "attention_mass_restored") > 0.9);
    assert_true(metric(id, "positions_restored") > 0);
    assert_int_equal(exact_samples(id), 0);
    assert_int_equal(exact_samples(self), 0);
    assert_int_equal(exact_samples(none), 0);
    /* the full cache and s5's global layer hold it: recall from exact layers */
    assert_int_equal(exact_samples(full), 8);
    assert_int_equal(exact_samples(s5), 8);
    assert_true(metric(s5, "recall") == 1.0);
    /* quantized global K/V under s5: the codec ran (its counters), recall
     * holds, the rings stay bounded and the global layer is smaller */
    const cJSON *s5q = tu_arm(doc, "s5q");
    assert_true(metric(s5q, "recall") == 1.0);
    assert_cells_constant(s5q, "kv_bytes_resident_sliding");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(s5q, "signals"), "counters");
    assert_true(cJSON_GetObjectItemCaseSensitive(ct, "values_encoded")->valuedouble > 0);
    /* bounded bytes: one size at 256 and 1024 tokens (sinks, window and one
     * prefill chunk of slack: more than a full cache holds at 256, less at
     * 1024); s5 by its sliding layers */
    assert_cells_constant(none, "kv_bytes_resident");
    assert_cells_constant(self, "kv_bytes_resident");
    assert_cells_constant(s5, "kv_bytes_resident_sliding");
    /* ... where a full cache, sized to each context, grows with it: the
     * per-cell figure measures the cache of that context, not the
     * largest */
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(full, "metrics"), "cells");
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(fc, 0), "kv_bytes_resident")
                    ->valuedouble * 3 <
                cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(fc, 3), "kv_bytes_resident")
                    ->valuedouble);
    assert_true(metric(none, "kv_bytes_resident") < metric(full, "kv_bytes_resident"));
    assert_true(metric(none, "kv_bytes_full_equiv") == metric(full, "kv_bytes_resident"));
    /* models[]: the proposer and the fitted map with their hashes */
    int roles = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "models"))
    {
        const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
        const char *sha = cJSON_GetObjectItemCaseSensitive(m, "sha256")->valuestring;
        assert_int_equal(strlen(sha), 64);
        roles |= !strcmp(role, "proposer") ? 1 : !strcmp(role, "ftheta") ? 2 : 0;
    }
    assert_int_equal(roles, 3);
    /* the layer types: layer 0 slides in this verifier */
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(self, "metrics"), "restored_layers");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(layers, 0), "type")
                            ->valuestring, "sliding");
    /* per layer too: the retrieval layer's K, rotated at its position after
     * f_theta, is the verifier's own (a RoPE slip would show here) */
    const cJSON *l1 = cJSON_GetArrayItem(layers, 1);
    assert_true(cJSON_GetObjectItemCaseSensitive(l1, "rel_mse_restored_k")->valuedouble <= 1e-4);
    assert_true(cJSON_GetObjectItemCaseSensitive(l1, "attention_mass_needle")->valuedouble > 0.9);
    cJSON_Delete(doc);
}

static void presets_the_kind_cannot_run_should_be_refused_by_name(void **state)
{
    (void)state;
    REQUIRE_BIN();
    static const struct {
        const char *name, *arms, *want;
    } bad[] = {
        {"rs-bad1", "  - {name: a, policy: full, restore: identity}\n", "needs a sinkwin policy"},
        {"rs-bad2", "  - {name: a, policy: \"sinkwin:sink=4\"}\n", "sinkwin needs sink and window"},
        {"rs-bad3", "  - {name: a, policy: \"sinkwin:sink=4,window=8\", restore: \"mix:2\"}\n",
         "mix:A with A in [0, 1]"},
        {"rs-bad4", "  - {name: a, policy: \"sinkwin:sink=4,window=8\", codec: q8_0}\n",
         "a codec with policy full or s5 and restore none"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "arms:\n%sgate: {}\n", bad[i].arms);
        write_preset(bad[i].name, body);
        tp_run r = run_preset(bad[i].name);
        assert_int_equal(r.code, 2);
        if (!strstr(r.err, bad[i].want))
            fail_msg("%s: %s", bad[i].name, r.err);
        tp_run_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_restore_preset_should_show_controls_self_fit_and_bounded_bytes),
        cmocka_unit_test(presets_the_kind_cannot_run_should_be_refused_by_name),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
