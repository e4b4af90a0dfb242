/* The evidence rules on evidence the harness wrote: `kakeya run
 * smoke` into a temporary folder, then `kakeya-gate` on the result, both
 * the binaries of this build flavor.
 *
 * Honest run: every rule must run and pass. A rule that fires on honest
 * harness output, or a signal the harness stops recording, fails here
 * rather than in CI's gate over evidence/.
 *
 * The LIVENESS end-to-end test: the same run with KAKEYA_FAULT=codec-
 * passthrough (common/kk_fault.h), which turns the q8_0 arm's kv_codec
 * cache into an F32 copy that neither encodes nor counts and says nothing.
 * The arm's configuration (and config_sha256) is the same as in the honest
 * run; only the codec's own counters show that it did not run, and the gate
 * must exit 1 with LIVENESS on exactly those counters. The fault is also
 * marked in provenance (FAULT_INJECTED), and the harness refuses unknown
 * fault names and the repository's evidence folder under a fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kk_preset.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "test_util.h"

static char g_kakeya[PATH_MAX + 32], g_gate[PATH_MAX + 32], g_root[PATH_MAX];

/* Runs argv with stdout into *out (stderr discarded), with KAKEYA_FAULT set
 * to fault in the child only (NULL: unset); @return exit code. */
static int run_env(const char *const *argv, char **out, const char *fault);

static int run(const char *const *argv, char **out)
{
    return run_env(argv, out, NULL);
}

static int run_env(const char *const *argv, char **out, const char *fault)
{
    char path[] = "/tmp/kk_rules_e2e_out_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(null, 2);
        if (fault)
            setenv(KK_FAULT_ENV, fault, 1);
        else
            unsetenv(KK_FAULT_ENV);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    waitpid(pid, &ws, 0);
    size_t len;
    if (!out || kk_file_read_all(path, out, &len, NULL) != KK_OK) {
        if (out)
            *out = strdup("");
    }
    close(fd);
    unlink(path);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The one *.json below dir (evidence/<preset>/<stamp>.json). */
static int find_json(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        size_t n = strlen(e->d_name);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            found = find_json(p, buf, cap);
        else if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0) {
            snprintf(buf, cap, "%s", p);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

/* A temporary folder holding presets/smoke.yaml. */
typedef struct fixture {
    char tmp[64];
    char presets[PATH_MAX];
} fixture;

static void fixture_make(fixture *fx)
{
    snprintf(fx->tmp, sizeof fx->tmp, "/tmp/kk_rules_e2e_XXXXXX");
    assert_non_null(mkdtemp(fx->tmp));
    char from[PATH_MAX + 32], to[PATH_MAX + 32];
    snprintf(fx->presets, sizeof fx->presets, "%s/presets", fx->tmp);
    assert_int_equal(mkdir(fx->presets, 0755), 0);
    /* The shipped preset, copied outside the checkout: the gate then
     * compares the evidence with this file and does not ask git. */
    snprintf(from, sizeof from, "%s/presets/smoke.yaml", g_root);
    snprintf(to, sizeof to, "%s/smoke.yaml", fx->presets);
    char *buf;
    size_t len;
    assert_int_equal(kk_file_read_all(from, &buf, &len, NULL), KK_OK);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
}

static void fixture_free(fixture *fx)
{
    const char *argv_rm[] = {"/bin/rm", "-rf", fx->tmp, NULL};
    run(argv_rm, NULL);
}

/* `kakeya run smoke --out TMP/<sub>` (fault: KAKEYA_FAULT or NULL); the
 * evidence path into ev. */
static void run_smoke(const fixture *fx, const char *sub, const char *fault, char *ev,
                      size_t cap)
{
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/%s", fx->tmp, sub);
    const char *argv_run[] = {g_kakeya, "run", "smoke", "--presets", fx->presets, "--out", out,
                              "--jobs", "1", "--quiet", NULL};
    assert_int_equal(run_env(argv_run, NULL, fault), 0);
    assert_true(find_json(out, ev, cap));
}

/* kakeya-gate --json on ev; @return the exit code, the JSON in *json.
 * --allow-dirty: the evidence comes from this working tree, which may hold
 * edits (DIRTY_TREE then reports a note; tests/gate covers the rule). */
static int gate_json(const fixture *fx, const char *ev, char **json)
{
    char schema[PATH_MAX + 64];
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    const char *argv_gate[] = {g_gate, "--presets", fx->presets, "--schema", schema, "--json",
                               "--allow-dirty", ev, NULL};
    return run(argv_gate, json);
}

static cJSON *read_json(const char *path)
{
    char *buf;
    size_t len;
    assert_int_equal(kk_file_read_all(path, &buf, &len, NULL), KK_OK);
    cJSON *d = cJSON_ParseWithLength(buf, len);
    free(buf);
    assert_non_null(d);
    return d;
}

static const cJSON *arm_named(const cJSON *doc, const char *name)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc, "arms")) {
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "name")), name))
            return a;
    }
    fail_msg("no arm %s", name);
    return NULL;
}

static double counter(const cJSON *arm, const char *name)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(arm, "signals"),
                                         "counters"),
        name);
    assert_true(cJSON_IsNumber(c));
    return c->valuedouble;
}

static void smoke_evidence_from_the_harness_should_pass_every_rule(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    char ev[PATH_MAX + 300];
    run_smoke(&fx, "ev", NULL, ev, sizeof ev);
    char *json = NULL;
    int rc = gate_json(&fx, ev, &json);
    if (rc != 0) {
        fprintf(stderr, "%s\n", json);
        fail_msg("the gate refused harness evidence (exit %d)", rc);
    }
    /* Every rule ran and passed on it. */
    for (size_t i = 0; i < kk_preset_rule_count(); i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\"id\":\"%s\"", kk_preset_rule_at(i)->code);
        if (!strstr(json, needle))
            fail_msg("no %s check on harness evidence", kk_preset_rule_at(i)->code);
    }
    assert_null(strstr(json, "\"status\":\"FAIL\""));
    assert_non_null(strstr(json, "\"id\":\"FAULT_INJECTED\""));
    free(json);
    /* The signals the rules read are there, measured. */
    cJSON *d = read_json(ev);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(d, "provenance");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pv, "faults_injected")), 0);
    const cJSON *model = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "models"), 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(model, "trained")));
    const cJSON *q = arm_named(d, "q8_0");
    assert_true(counter(q, "values_encoded") > 0);
    assert_true(counter(q, "values_decoded") > 0);
    /* The KV saving is stated as a claim the gate checked. */
    const cJSON *claim = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "summary"), "claims"),
        0);
    assert_non_null(claim);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(claim, "arm")),
                        "q8_0");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(claim, "metric")),
                        "kv_bytes_resident");
    cJSON_Delete(d);
    fixture_free(&fx);
}

/* End to end: a codec switched off at run time is caught by LIVENESS. */
static void a_codec_switched_off_at_run_time_should_make_liveness_fire(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    char ev_ok[PATH_MAX + 300], ev_bad[PATH_MAX + 300];
    run_smoke(&fx, "ok", NULL, ev_ok, sizeof ev_ok);
    run_smoke(&fx, "bad", KK_FAULT_CODEC_PASSTHROUGH, ev_bad, sizeof ev_bad);

    /* Same configuration, so the harness did not compute the counters from
     * it: the codec's own counters are 0 because the codec did not run. */
    cJSON *ok = read_json(ev_ok), *bad = read_json(ev_bad);
    const cJSON *qo = arm_named(ok, "q8_0"), *qb = arm_named(bad, "q8_0");
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(qo, "config_sha256")),
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(qb, "config_sha256")));
    assert_true(counter(qo, "values_encoded") > 0);
    assert_true(counter(qb, "values_encoded") == 0);
    assert_true(counter(qb, "values_decoded") == 0);
    /* Silent: the component reported no fallback; provenance has the mark. */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(qb, "signals"), "fallbacks_taken")),
                     0);
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(bad, "provenance"), "faults_injected");
    assert_int_equal(cJSON_GetArraySize(fl), 1);
    assert_string_equal(cJSON_GetArrayItem(fl, 0)->valuestring, KK_FAULT_CODEC_PASSTHROUGH);
    cJSON_Delete(ok);
    cJSON_Delete(bad);

    char *json = NULL;
    int rc = gate_json(&fx, ev_bad, &json);
    cJSON *g = cJSON_Parse(json);
    assert_non_null(g);
    if (rc != 1)
        fail_msg("the gate passed evidence made with the codec switched off (exit %d): %s", rc,
                 json);
    /* LIVENESS fails on exactly the q8_0 arm's two codec counters; the only
     * other failure is the provenance mark. */
    int live = 0, fault = 0;
    const cJSON *ck;
    cJSON_ArrayForEach(ck, cJSON_GetObjectItemCaseSensitive(g, "checks")) {
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "status"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "id"));
        const char *ptr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "pointer"));
        const char *act = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ck, "actual"));
        if (strcmp(st, "FAIL") != 0)
            continue;
        if (!strcmp(id, "LIVENESS")) {
            assert_true(!strcmp(ptr, "/arms/1/signals/counters/values_encoded") ||
                        !strcmp(ptr, "/arms/1/signals/counters/values_decoded"));
            assert_string_equal(act, "0");
            live++;
        } else if (!strcmp(id, "FAULT_INJECTED")) {
            assert_string_equal(ptr, "/provenance/faults_injected");
            fault++;
        } else {
            fail_msg("unexpected failure %s at %s: %s", id, ptr, act);
        }
    }
    assert_int_equal(live, 2);
    assert_int_equal(fault, 1);
    cJSON_Delete(g);
    free(json);
    fixture_free(&fx);
}

static void an_unknown_fault_name_should_be_refused_with_exit_2(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    char out[PATH_MAX + 64], ev[PATH_MAX + 300];
    snprintf(out, sizeof out, "%s/ev", fx.tmp);
    const char *argv_run[] = {g_kakeya, "run", "smoke", "--presets", fx.presets, "--out", out,
                              "--quiet", NULL};
    /* A typo must not run a clean-looking test. */
    assert_int_equal(run_env(argv_run, NULL, "codec-pasthrough"), 2);
    assert_int_equal(run_env(argv_run, NULL, "codec-passthrough,nope"), 2);
    assert_false(find_json(out, ev, sizeof ev));
    fixture_free(&fx);
}

static void faulted_evidence_should_never_go_into_the_repository_evidence_folder(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    char out[PATH_MAX + 64], ev[PATH_MAX + 300];
    /* The default --out and any folder below <root>/evidence are refused. */
    snprintf(out, sizeof out, "%s/evidence/kk_fault_probe", g_root);
    const char *argv_default[] = {g_kakeya, "run", "smoke", "--presets", fx.presets, "--quiet",
                                  NULL};
    const char *argv_below[] = {g_kakeya, "run", "smoke", "--presets", fx.presets, "--out", out,
                                "--quiet", NULL};
    int rc_default = run_env(argv_default, NULL, KK_FAULT_CODEC_PASSTHROUGH);
    int rc_below = run_env(argv_below, NULL, KK_FAULT_CODEC_PASSTHROUGH);
    int leaked = find_json(out, ev, sizeof ev);
    const char *argv_rm[] = {"/bin/rm", "-rf", out, NULL};
    run(argv_rm, NULL);
    assert_int_equal(rc_default, 2);
    assert_int_equal(rc_below, 2);
    assert_false(leaked);
    fixture_free(&fx);
}

/* ---- hostile edits -------------------------------------------------------------- */

/* Writes doc to path (the edited copy the gate then reads). */
static void write_json(const cJSON *doc, const char *path)
{
    char *text = cJSON_Print(doc);
    assert_non_null(text);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    cJSON_free(text);
}

static cJSON *member(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *v = o;
    for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save))
        v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(t)) : cJSON_GetObjectItemCaseSensitive(v, t);
    assert_non_null(v);
    return (cJSON *)v;
}

static void set_num(cJSON *o, const char *path, double v)
{
    cJSON *n = member(o, path);
    assert_true(cJSON_IsNumber(n));
    cJSON_SetNumberValue(n, v);
}

/* The hostile edits, each on a fresh copy of honest harness
 * evidence: the gate must refuse every one, and name the rule. */
typedef struct hostile {
    const char *what;
    void (*edit)(cJSON *doc);
    int exit_code;
    const char *code;    /* the FAIL expected (with pointer) */
    const char *pointer;
} hostile;

static void edit_masked_recall(cJSON *d)
{
    set_num((cJSON *)arm_named(d, "needle-masked"), "metrics.recall", 0.03);
}

static void edit_hits_false(cJSON *d)
{
    cJSON *s;
    cJSON_ArrayForEach(s, member((cJSON *)arm_named(d, "q8_0"), "samples"))
        cJSON_ReplaceItemInObjectCaseSensitive(s, "hit", cJSON_CreateFalse());
}

static void edit_counters(cJSON *d)
{
    set_num((cJSON *)arm_named(d, "q8_0"), "signals.counters.values_encoded", 1);
    set_num((cJSON *)arm_named(d, "q8_0"), "signals.counters.values_decoded", 1);
}

static void edit_config_sha(cJSON *d)
{
    cJSON_ReplaceItemInObjectCaseSensitive((cJSON *)arm_named(d, "q8_0"), "config_sha256",
                                           cJSON_CreateString("00000000000000000000000000000000"
                                                              "00000000000000000000000000000000"));
}

static void edit_config(cJSON *d)
{
    /* the config says what the hash does not */
    cJSON_ReplaceItemInObjectCaseSensitive(member((cJSON *)arm_named(d, "q8_0"), "config"),
                                           "codec", cJSON_CreateString("q4_0"));
}

static void edit_no_faults(cJSON *d)
{
    cJSON_DeleteItemFromObjectCaseSensitive(member(d, "provenance"), "faults_injected");
}

static void edit_cell(cJSON *d)
{
    cJSON *c = member((cJSON *)arm_named(d, "needle-masked"), "metrics.cells.0");
    set_num(c, "hits", member(c, "n")->valuedouble);
    set_num(c, "recall", 1.0);
}

static void edit_min_margin(cJSON *d)
{
    cJSON *q = (cJSON *)arm_named(d, "q8_0");
    set_num(q, "metrics.min_margin", member(q, "metrics.min_margin")->valuedouble + 1);
}

static void edit_prefill(cJSON *d)
{
    cJSON *q = (cJSON *)arm_named(d, "q8_0");
    set_num(q, "timings.prefill_s", member(q, "timings.prefill_s")->valuedouble / 2);
}

static void edit_derived(cJSON *d)
{
    cJSON *q = (cJSON *)arm_named(d, "q8_0");
    const char *p = "signals.memory.derived.kv_bytes_formula.value";
    set_num(q, p, member(q, p)->valuedouble / 2);
}

static void edit_summary(cJSON *d)
{
    set_num(d, "summary.arms.q8_0.kv_saved_pct", 90);
}

static int gate_fails(const char *json, const char *code, const char *pointer)
{
    cJSON *r = cJSON_Parse(json);
    assert_non_null(r);
    int found = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "checks")) {
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"));
        const char *ptr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "pointer"));
        if (st && id && ptr && !strcmp(st, "FAIL") && !strcmp(id, code) &&
            !strncmp(ptr, pointer, strlen(pointer)))
            found = 1;
    }
    cJSON_Delete(r);
    return found;
}

static void hostile_edits_of_harness_evidence_should_be_refused(void **state)
{
    (void)state;
    static const hostile cases[] = {
        {"needle-masked recall 0 -> 0.03", edit_masked_recall, 1, "INCONSISTENT",
         "/arms/2/metrics/recall"},
        {"every q8_0 sample hit false", edit_hits_false, 1, "INCONSISTENT",
         "/arms/1/samples/"},
        {"counters set to 1", edit_counters, 1, "INCONSISTENT",
         "/arms/1/signals/counters/values_encoded"},
        {"config_sha256 not the config's", edit_config_sha, 1, "INCONSISTENT",
         "/arms/1/config_sha256"},
        {"config edited under its hash", edit_config, 1, "INCONSISTENT",
         "/arms/1/config_sha256"},
        {"faults_injected deleted", edit_no_faults, 2, "SCHEMA", "/provenance"},
        {"a cell's hits", edit_cell, 1, "INCONSISTENT", "/arms/2/metrics/cells/0/hits"},
        {"min_margin", edit_min_margin, 1, "INCONSISTENT", "/arms/1/metrics/min_margin"},
        {"prefill median", edit_prefill, 1, "INCONSISTENT", "/arms/1/timings/prefill_s"},
        {"derived bytes", edit_derived, 1, "INCONSISTENT",
         "/arms/1/signals/memory/derived/kv_bytes_formula/value"},
        {"summary kv_saved_pct", edit_summary, 1, "INCONSISTENT",
         "/summary/arms/q8_0/kv_saved_pct"},
    };
    fixture fx;
    fixture_make(&fx);
    char ev[PATH_MAX + 300], edited[PATH_MAX + 64];
    run_smoke(&fx, "ev", NULL, ev, sizeof ev);
    snprintf(edited, sizeof edited, "%s/edited.json", fx.tmp);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *d = read_json(ev);
        cases[i].edit(d);
        write_json(d, edited);
        cJSON_Delete(d);
        char *json = NULL;
        int rc = gate_json(&fx, edited, &json);
        if (rc != cases[i].exit_code || !gate_fails(json, cases[i].code, cases[i].pointer)) {
            fprintf(stderr, "%s\n", json ? json : "");
            fail_msg("%s: exit %d, wanted %d with %s at %s", cases[i].what, rc,
                     cases[i].exit_code, cases[i].code, cases[i].pointer);
        }
        free(json);
    }
    fixture_free(&fx);
}

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    self[n] = '\0';
    /* build/<flavor>/tests/harness/<me> -> build/<flavor>/kakeya{,-gate}. */
    for (int up = 0; up < 3; up++)
        *strrchr(self, '/') = '\0';
    snprintf(g_kakeya, sizeof g_kakeya, "%s/kakeya", self);
    snprintf(g_gate, sizeof g_gate, "%s/kakeya-gate", self);
    if (access(g_kakeya, X_OK) != 0 || access(g_gate, X_OK) != 0) {
        snprintf(g_kakeya, sizeof g_kakeya, "%s/bin/kakeya", g_root);
        snprintf(g_gate, sizeof g_gate, "%s/bin/kakeya-gate", g_root);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smoke_evidence_from_the_harness_should_pass_every_rule),
        cmocka_unit_test(a_codec_switched_off_at_run_time_should_make_liveness_fire),
        cmocka_unit_test(hostile_edits_of_harness_evidence_should_be_refused),
        cmocka_unit_test(an_unknown_fault_name_should_be_refused_with_exit_2),
        cmocka_unit_test(faulted_evidence_should_never_go_into_the_repository_evidence_folder),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
