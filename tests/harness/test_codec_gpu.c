/* The GPU commands and the codec_gpu kind where no GPU is (CI):
 *   - a build without CUDA refuses `codec eval --device cuda`, `codec attn`
 *     and `run codec-gpu` with exit 2 and a message naming `make cuda`,
 *     and `run` writes nothing;
 *   - the driver version is read out of /proc/driver/nvidia/version's text;
 *   - evidence written by the kind's own arm writer (run_codec_gpu_arm_json)
 *     with a provenance.gpu passes kakeya-gate against the shipped
 *     codec-gpu preset, and the gate fails it where it must: a byte that
 *     differs on a codec arm (THRESHOLD), a corrupt control that shows no
 *     difference (CONTROL_NEGATIVE), a device counter of 0 (LIVENESS), a
 *     gpu without its name (SCHEMA, exit 2). The figures are made up; the
 *     layout, the medians and the gate block are the real ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_cuda.h"
#include "evidence.h"
#include "kk_file.h"
#include "preset.h"
#include "run_codec_gpu.h"
#include "test_util.h"
#include "test_proc.h"

static char g_bin[PATH_MAX + 32], g_gate[PATH_MAX + 32], g_tmp[PATH_MAX], g_root[PATH_MAX];

static int setup(void **state)
{
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kk_cgpu");
}

static tp_run run(const char *const *args) { return tp_run_prog(NULL, g_bin, args); }

static int folder_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

static void a_build_without_cuda_should_refuse_the_gpu_commands_with_exit_2(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    if (cli_cuda_built()) {
        fprintf(stderr, "SKIP: a make cuda build (the refusals are a CPU build's)\n");
        skip();
    }
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    static const char *const want = "this build has no CUDA";
    const char *cases[][12] = {
        {"codec", "eval", "--codec", "q8_0", "--data", "gaussian", "--device", "cuda", NULL},
        {"codec", "attn", "--codec", "q8_0", "--ctx", "64", NULL},
        {"run", "codec-gpu", "--out", out, NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        tp_run r = run(cases[i]);
        if (r.code != 2 || !strstr(r.err, want) || !strstr(r.err, "make cuda"))
            fail_msg("%s %s: exit %d, stderr %s", cases[i][0], cases[i][1], r.code, r.err);
        tp_run_free(&r);
    }
    assert_true(folder_is_empty(out)); /* no evidence, not even its folder */
    /* usage errors stay usage errors, bad values bad values */
    const char *bad[] = {"codec", "eval", "--codec", "q8_0", "--data", "gaussian", "--device",
                         "tpu", NULL};
    tp_run r = run(bad);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "allowed: cpu, cuda"));
    tp_run_free(&r);
    const char *usage[] = {"codec", "attn", "--bogus", NULL};
    r = run(usage);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *help[] = {"codec", "attn", "--help", NULL};
    r = run(help);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: kakeya codec attn"));
    tp_run_free(&r);
}

static void the_driver_version_should_be_read_from_the_module_line(void **state)
{
    (void)state;
    char v[64];
    cli_cuda_driver_parse("NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue Oct "
                          "28 21:13:16 UTC 2025\nGCC version:  gcc version 12.2.0\n",
                          v, sizeof v);
    assert_string_equal(v, "580.159.04");
    cli_cuda_driver_parse("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  "
                          "Release Build\n", v, sizeof v);
    assert_string_equal(v, ""); /* the open module's line: the caller falls back to CUDA X.Y */
    cli_cuda_driver_parse("nothing here", v, sizeof v);
    assert_string_equal(v, "");
    cli_cuda_driver_parse(NULL, v, sizeof v);
    assert_string_equal(v, "");
}

/* ---- the kind's evidence through the gate ------------------------------------------ */

typedef enum mutation {
    MUT_NONE,
    MUT_BYTE_DIFFERS,    /* arm 0 (q8_0): one byte differs */
    MUT_CONTROL_EQUAL,   /* the corrupt control shows no difference */
    MUT_COUNTER_ZERO,    /* arm 1: values_decoded 0 */
    MUT_GPU_NO_NAME,     /* provenance.gpu without its name */
} mutation;

/* A plausible result for arm a of the preset (5 repeats). */
static void fake_result(run_cg_result *r, size_t a, int corrupt)
{
    memset(r, 0, sizeof *r);
    r->bits_per_value = 4.5;
    r->rel_mse_gaussian = 1e-6; /* under every threshold of the preset */
    r->bytes_checked = 600000;
    r->values_checked = 1048576 + 65536 + 2097152;
    r->bytes_differing = corrupt ? 1 : 0;
    r->values_encoded = 123456789;
    r->values_decoded = 98765432;
    r->n_small = 2097152;
    r->n_large = 67108864;
    r->codes_small = 1179648;
    r->codes_large = 37748736;
    r->copy_bytes = 134217728;
    r->elem_bytes = 2;
    r->n_rep = 5;
    for (int k = 0; k < 5; k++) {
        const double f = 1.0 + 0.01 * (double)((k * 3 + (int)a) % 5);
        run_cg_repeat q = {1e-4 * f, 2e-6 * f, 3e-6 * f, 5e-6 * f, 6e-5 * f, 7e-5 * f, 1.3e-4 * f};
        r->rep[k] = q;
    }
}

/* Writes the evidence of the shipped codec-gpu preset to path. */
static void write_evidence(const char *path, mutation mut)
{
    char presets[PATH_MAX + 16];
    snprintf(presets, sizeof presets, "%s/presets", g_root);
    preset *p = NULL;
    kk_err err;
    kk_err_clear(&err);
    assert_int_equal(preset_load(presets, "codec-gpu", &p, &err), KK_OK);
    cJSON *arms = cJSON_CreateArray();
    for (size_t a = 0; a < p->n_arms; a++) {
        const preset_field *fk = preset_arm_field(p, &p->arms[a], "corrupt");
        const preset_field *fc = preset_arm_field(p, &p->arms[a], "codec");
        run_cg_result *r = calloc(1, sizeof *r);
        assert_non_null(r);
        fake_result(r, a, fk->i && mut != MUT_CONTROL_EQUAL);
        if (mut == MUT_BYTE_DIFFERS && a == 0)
            r->bytes_differing = 1;
        if (mut == MUT_COUNTER_ZERO && a == 1)
            r->values_decoded = 0;
        ev_build b;
        ev_build_init(&b, &err);
        cJSON *o = cJSON_CreateObject();
        ev_put_str(&b, o, "name", p->arms[a].name);
        cJSON *cfg = ev_put_obj(&b, o, "config");
        ev_put_str(&b, cfg, "kind", "codec_gpu");
        ev_put_str(&b, cfg, "codec", fc->s);
        ev_put_bool(&b, cfg, "corrupt", fk->i != 0);
        ev_put_str(&b, cfg, "device", "cuda");
        char sha[65];
        assert_int_equal(ev_json_sha256(cfg, sha, &err), KK_OK);
        ev_put_str(&b, o, "config_sha256", sha);
        assert_int_equal(run_codec_gpu_arm_json(r, &b, o, &err), KK_OK);
        assert_int_equal(ev_build_end(&b, &o), KK_OK);
        cJSON_AddItemToArray(arms, o);
        free(r);
    }
    ev_provenance pv;
    memset(&pv, 0, sizeof pv);
    memset(pv.git_commit, 'a', 40); /* outside a checkout the gate notes it */
    snprintf(pv.cpu, sizeof pv.cpu, "test cpu");
    pv.cores = 2;
    snprintf(pv.compiler, sizeof pv.compiler, "cc");
    snprintf(pv.blas, sizeof pv.blas, "none");
    snprintf(pv.started, sizeof pv.started, "2026-01-01T00:00:00.000Z");
    snprintf(pv.finished, sizeof pv.finished, "2026-01-01T00:01:00.000Z");
    pv.wall_s = 60.0;
    pv.seed = 1;
    pv.threads = 1;
    pv.jobs = 1;
    snprintf(pv.gpu.name, sizeof pv.gpu.name, "NVIDIA H100 80GB HBM3");
    snprintf(pv.gpu.driver, sizeof pv.gpu.driver, "580.159.04");
    snprintf(pv.gpu.cuda_driver, sizeof pv.gpu.cuda_driver, "13.0");
    snprintf(pv.gpu.runtime, sizeof pv.gpu.runtime, "13.0");
    snprintf(pv.gpu.nvcc, sizeof pv.gpu.nvcc, "13.0.88");
    snprintf(pv.gpu.cc, sizeof pv.gpu.cc, "9.0");
    pv.gpu.sms = 132;
    pv.gpu.memory_bytes = 85045870592ull;
    cJSON *models = cJSON_CreateArray();
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "data");
    cJSON_AddStringToObject(m, "source", "gaussian:seed=1+adversarial");
    cJSON_AddStringToObject(m, "sha256",
                            "0000000000000000000000000000000000000000000000000000000000000000");
    cJSON_AddStringToObject(m, "architecture", "none");
    cJSON_AddBoolToObject(m, "trained", 0);
    cJSON_AddItemToArray(models, m);
    cJSON *summary = NULL;
    assert_int_equal(ev_summary_build(arms, &summary, &err), KK_OK);
    cJSON *doc = NULL;
    assert_int_equal(ev_document_build(p, &pv, models, arms, summary, &doc, &err), KK_OK);
    if (mut == MUT_GPU_NO_NAME)
        cJSON_DeleteItemFromObjectCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "provenance"),
                                             "gpu"),
            "name");
    char *text = cJSON_Print(doc);
    assert_int_equal(kk_file_write_atomic(path, text, strlen(text), &err), KK_OK);
    cJSON_free(text);
    cJSON_Delete(doc);
    preset_free(p);
}

/* The gate on one mutation, with a copy of the preset outside any checkout. */
static tp_run gate_on(mutation mut)
{
    char dir[PATH_MAX + 32], from[PATH_MAX + 64], to[PATH_MAX + 64], ev[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/presets", g_tmp);
    mkdir(dir, 0755);
    snprintf(from, sizeof from, "%s/presets/codec-gpu.yaml", g_root);
    snprintf(to, sizeof to, "%s/codec-gpu.yaml", dir);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(from, &text, &len, NULL), KK_OK);
    assert_int_equal(kk_file_write_atomic(to, text, len, NULL), KK_OK);
    free(text);
    snprintf(ev, sizeof ev, "%s/ev-%d.json", g_tmp, (int)mut);
    write_evidence(ev, mut);
    const char *args[] = {"--presets", dir, ev, NULL};
    return tp_run_prog(NULL, g_gate, args);
}

static void the_kinds_evidence_should_pass_the_gate_and_its_controls_bite(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_gate);
    tp_run r = gate_on(MUT_NONE);
    if (r.code != 0) {
        for (const char *l = strstr(r.out, "FAIL"); l; l = strstr(l + 1, "\nFAIL"))
            fprintf(stderr, "%.*s\n", (int)strcspn(l + (*l == '\n'), "\n"), l + (*l == '\n'));
        fail_msg("honest codec_gpu evidence: gate exit %d (its FAIL lines above)", r.code);
    }
    assert_non_null(strstr(r.out, "PASS"));
    assert_null(strstr(r.out, "FAIL"));
    tp_run_free(&r);

    static const struct {
        mutation mut;
        int code;
        const char *want;
    } cases[] = {
        {MUT_BYTE_DIFFERS, 1, "FAIL"},
        {MUT_CONTROL_EQUAL, 1, "CONTROL_NEGATIVE"},
        {MUT_COUNTER_ZERO, 1, "LIVENESS"},
        {MUT_GPU_NO_NAME, 2, "SCHEMA"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = gate_on(cases[i].mut);
        const char *line = strstr(r.out, cases[i].want);
        if (r.code != cases[i].code || !line)
            fail_msg("mutation %d: gate exit %d, want %d with %s\n%s%s", (int)cases[i].mut,
                     r.code, cases[i].code, cases[i].want, r.out, r.err);
        if (cases[i].mut == MUT_BYTE_DIFFERS)
            assert_non_null(strstr(r.out, "/arms/0/metrics/codes_differing_cpu"));
        if (cases[i].mut == MUT_GPU_NO_NAME)
            assert_non_null(strstr(r.out, "/provenance/gpu"));
        tp_run_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_build_without_cuda_should_refuse_the_gpu_commands_with_exit_2),
        cmocka_unit_test(the_driver_version_should_be_read_from_the_module_line),
        cmocka_unit_test(the_kinds_evidence_should_pass_the_gate_and_its_controls_bite),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
