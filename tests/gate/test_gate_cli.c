/* End-to-end tests of bin/kakeya-gate's evidence mode: each example under
 * tests/gate/data/evidence gives its exit code and message. The gate runs
 * by fork/exec, with presets copied into a mkdtemp folder (outside any git
 * checkout) or into a temporary git repository made here, so no test
 * depends on this repository's history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "kk_file.h"
#include "test_util.h"

static char g_gate[PATH_MAX];   /* the kakeya-gate of this build flavor */
static char g_data[PATH_MAX];   /* tests/gate/data */
static char g_schema[PATH_MAX]; /* gate/schemas/evidence.schema.json */

typedef struct run_out {
    int rc;
    char *out; /* stdout */
    char *err; /* stderr */
} run_out;

static void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
}

/* Runs argv (argv[0] a path or a PATH name) in cwd; captures both streams. */
static run_out run(const char *cwd, const char *const *argv)
{
    run_out r = {-1, NULL, NULL};
    char errpath[] = "/tmp/kk_gate_test_err_XXXXXX";
    int efd = mkstemp(errpath);
    int pfd[2];
    if (efd < 0 || pipe(pfd) != 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(efd, 2);
        close(pfd[0]);
        close(pfd[1]);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 1 << 16, len = 0;
    r.out = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            r.out = realloc(r.out, cap + 1);
        }
        ssize_t n = read(pfd[0], r.out + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    r.out[len] = '\0';
    close(pfd[0]);
    int ws;
    waitpid(pid, &ws, 0);
    r.rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    size_t elen;
    if (kk_file_read_all(errpath, &r.err, &elen, NULL) != KK_OK)
        r.err = strdup("");
    close(efd);
    unlink(errpath);
    return r;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    char *d;
    size_t n;
    assert_int_equal(kk_file_read_all(from, &d, &n, NULL), KK_OK);
    write_file(to, d, n);
    free(d);
}

/* A fresh folder with presets/gt-good.yaml; path into dir (PATH_MAX). */
static void make_tmp(char *dir)
{
    snprintf(dir, PATH_MAX, "/tmp/kk_gate_cli_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char p[PATH_MAX + 64], from[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/presets", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(from, sizeof from, "%s/presets/gt-good.yaml", g_data);
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    copy_file(from, p);
}

static void rm_tmp(const char *dir)
{
    const char *argv[] = {"rm", "-rf", dir, NULL};
    run_out r = run(NULL, argv);
    run_free(&r);
}

/* kakeya-gate --presets DIR/presets --schema S [extra...] EVIDENCE */
static run_out gate(const char *dir, const char *extra1, const char *extra2,
                    const char *evidence)
{
    char presets[PATH_MAX + 16], ev[PATH_MAX + 64];
    snprintf(presets, sizeof presets, "%s/presets", dir);
    if (evidence[0] == '/')
        snprintf(ev, sizeof ev, "%s", evidence);
    else
        snprintf(ev, sizeof ev, "%s/evidence/%s", g_data, evidence);
    const char *argv[10];
    int n = 0;
    argv[n++] = g_gate;
    argv[n++] = "--presets";
    argv[n++] = presets;
    argv[n++] = "--schema";
    argv[n++] = g_schema;
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    argv[n++] = ev;
    argv[n] = NULL;
    return run(NULL, argv);
}

#define EXPECT(r, code, needle)                                               \
    do {                                                                      \
        if ((r).rc != (code) || !strstr((r).out, (needle))) {                 \
            fprintf(stderr, "rc=%d\nstdout:\n%s\nstderr:\n%s\n", (r).rc,       \
                    (r).out, (r).err);                                        \
            fail_msg("expected exit %d and \"%s\"", (code), (needle));        \
        }                                                                     \
    } while (0)

static void good_evidence_should_pass_with_exit_0(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "good.json");
    EXPECT(r, 0, " 0 failed\n");
    /* Exact decimals: 0.95 - 1.0 >= -0.05 holds (doubles would say no). */
    assert_non_null(strstr(r.out, "PASS "));
    assert_non_null(strstr(r.out, "THRESHOLD[1] /arms/1/metrics/recall: expected "
                                  "q8_0.recall - identity.recall >= -0.05, actual -0.05"));
    /* Outside a git checkout the commit is not checked, and says so. */
    assert_non_null(strstr(r.out, "NOTE "));
    assert_non_null(strstr(r.out, "UNKNOWN_COMMIT"));
    /* The relaxed rule is printed with its written reason. */
    assert_non_null(strstr(r.out, "NOISY \"\": relaxed by"));
    assert_non_null(strstr(r.out, "no speed claim here"));
    run_free(&r);
    rm_tmp(dir);
}

static void a_failing_threshold_should_exit_1_with_expected_and_actual(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "fail_threshold.json");
    EXPECT(r, 1, "fail_threshold.json THRESHOLD[0] /arms/1/metrics/recall: "
                 "expected q8_0.recall >= 0.95, actual 0.9");
    assert_non_null(strstr(r.out, "FAIL "));
    assert_non_null(strstr(r.out, " 2 failed\n"));
    run_free(&r);
    r = gate(dir, NULL, NULL, "missing_metric.json");
    EXPECT(r, 1, "THRESHOLD[4] /arms/1/metrics/kv_bytes_resident: expected "
                 "q8_0.kv_bytes_resident present");
    run_free(&r);
    rm_tmp(dir);
}

static void malformed_json_should_exit_2_with_its_location(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "malformed.json");
    EXPECT(r, 2, "malformed.json:5:2: ");
    assert_non_null(strstr(r.out, "FAIL "));
    run_free(&r);
    rm_tmp(dir);
}

static void a_schema_violation_should_exit_2_with_the_instance_pointer(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "schema_violation.json");
    EXPECT(r, 2, "SCHEMA /arms/1/metrics/recall: ");
    /* Nothing after schema validation runs on an invalid file. */
    assert_null(strstr(r.out, "THRESHOLD"));
    run_free(&r);
    rm_tmp(dir);
}

static void a_stale_preset_sha_should_exit_1_unless_allowed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "stale.json");
    EXPECT(r, 1, "STALE_PRESET /preset/sha256: expected sha256 of ");
    run_free(&r);
    r = gate(dir, "--allow-stale", NULL, "stale.json");
    EXPECT(r, 0, "STALE_PRESET /preset/sha256: not checked (--allow-stale)");
    run_free(&r);
    rm_tmp(dir);
}

static void a_missing_control_arm_should_exit_1(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "missing_control.json");
    EXPECT(r, 1, "CONTROL_NEGATIVE /arms: expected an arm named \"needle-masked\"");
    run_free(&r);
    rm_tmp(dir);
}

static void a_negative_control_that_passes_should_reject_the_evidence(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "negative_passes.json");
    EXPECT(r, 1, "CONTROL_NEGATIVE /arms/2/metrics/recall: expected "
                 "needle-masked.recall <= 0.05, actual 0.5 (the negative control "
                 "did not lose");
    run_free(&r);
    rm_tmp(dir);
}

static void a_legacy_schema_version_should_be_judged_by_that_rule_alone(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "legacy.json");
    EXPECT(r, 1, "LEGACY_SCHEMA /schema_version: expected schema_version >= 1, actual 0");
    assert_null(strstr(r.out, "SCHEMA \"\"")); /* no schema validation */
    assert_non_null(strstr(r.out, "0 passed, 1 failed\n"));
    run_free(&r);
    rm_tmp(dir);
}

static void evidence_made_under_fault_injection_should_exit_1(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    run_out r = gate(dir, NULL, NULL, "fault_injected.json");
    EXPECT(r, 1, "FAULT_INJECTED /provenance/faults_injected: expected no fault injection "
                 "(KAKEYA_FAULT unset when it ran), actual \"codec-passthrough\"");
    /* Otherwise good: it is the only failure. */
    assert_non_null(strstr(r.out, ", 1 failed\n"));
    run_free(&r);
    r = gate(dir, NULL, NULL, "good.json");
    EXPECT(r, 0, "PASS");
    assert_non_null(strstr(r.out, "FAULT_INJECTED /provenance: expected no fault injection"));
    run_free(&r);
    rm_tmp(dir);
}

/* Writes the good evidence with git_commit replaced. */
static void evidence_with_commit(const char *to, const char *commit)
{
    char from[PATH_MAX + 64], *d;
    size_t n;
    snprintf(from, sizeof from, "%s/evidence/good.json", g_data);
    assert_int_equal(kk_file_read_all(from, &d, &n, NULL), KK_OK);
    char *at = strstr(d, "0123456789abcdef0123456789abcdef01234567");
    assert_non_null(at);
    memcpy(at, commit, 40);
    write_file(to, d, n);
    free(d);
}

static int git_ok(const char *dir, const char *const *args)
{
    const char *argv[16] = {"git", "-C", dir};
    int n = 3;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    run_out r = run(NULL, argv);
    int rc = r.rc;
    run_free(&r);
    return rc;
}

static void staleness_should_use_the_commit_at_head_in_a_git_checkout(void **state)
{
    (void)state;
    const char *v[] = {"git", "--version", NULL};
    run_out probe = run(NULL, v);
    int have_git = probe.rc == 0;
    run_free(&probe);
    if (!have_git) {
        fprintf(stderr, "SKIP: git not found\n");
        skip();
    }
    char dir[PATH_MAX];
    make_tmp(dir);
    setenv("GIT_AUTHOR_NAME", "t", 1);
    setenv("GIT_AUTHOR_EMAIL", "t@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "t", 1);
    setenv("GIT_COMMITTER_EMAIL", "t@example.invalid", 1);
    const char *init[] = {"init", "-q", NULL};
    const char *add[] = {"add", "presets/gt-good.yaml", NULL};
    const char *commit[] = {"-c", "commit.gpgsign=false", "commit", "-q", "-m", "p", NULL};
    assert_int_equal(git_ok(dir, init), 0);

    /* Not committed yet: stale. */
    char ev[PATH_MAX + 32];
    snprintf(ev, sizeof ev, "%s/ev.json", dir);
    evidence_with_commit(ev, "0123456789abcdef0123456789abcdef01234567");
    run_out r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 1, "is not committed at HEAD");
    run_free(&r);

    assert_int_equal(git_ok(dir, add), 0);
    assert_int_equal(git_ok(dir, commit), 0);
    const char *head[] = {"git", "-C", dir, "rev-parse", "HEAD", NULL};
    run_out h = run(NULL, head);
    assert_int_equal(h.rc, 0);
    h.out[40] = '\0';

    /* The recorded commit exists: everything passes. */
    evidence_with_commit(ev, h.out);
    r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 0, "UNKNOWN_COMMIT /provenance/git_commit: expected a commit in this "
                 "repository's history, actual ");
    assert_non_null(strstr(r.out, "PASS "));
    run_free(&r);

    /* An unknown commit fails, whatever --allow-stale says. */
    r = gate(dir, "--allow-stale", NULL, ev[0] ? "unknown_commit.json" : "");
    EXPECT(r, 1, "UNKNOWN_COMMIT /provenance/git_commit: expected a commit in this "
                 "repository's history, actual deaddead");
    run_free(&r);

    /* A stale sha against HEAD. */
    r = gate(dir, NULL, NULL, "stale.json");
    EXPECT(r, 1, "at HEAD = ");
    run_free(&r);

    /* Uncommitted edits to the preset: stale, named as such. */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    FILE *f = fopen(p, "a");
    fputs("# an edit\n", f);
    fclose(f);
    r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 1, "uncommitted edits");
    run_free(&r);
    r = gate(dir, "--allow-stale", NULL, ev);
    EXPECT(r, 0, " 0 failed\n");
    run_free(&r);
    run_free(&h);
    rm_tmp(dir);
}

/* Each malformed preset kind ends the run with exit 2 and file:line:col. */
static void malformed_presets_should_exit_2_with_file_line_col(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *needle;
    } cases[] = {
        {"name: gt-good\nkind: niah\nname: x\ngate: {}\n", "gt-good.yaml:3:1: duplicate key name"},
        {"name: gt-good\nkind: &k niah\ngate: {}\n", "gt-good.yaml:2:7: "},
        {"name: gt-good\nkind: niah\ngate: {thresholds: [{arm: a}]}\n", "gt-good.yaml:3:21: at gate.thresholds[0]: missing key"},
        {"name: gt-good\nkind: niah\ngate: {relax: [{rule: NOISY, reason: ok}], x: 1}\n", "gt-good.yaml:3:44: at gate.x: unknown key"},
        {"name: gt-good\nkind: niah\ngate: {baseline: [\n", "gt-good.yaml:4:1: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[PATH_MAX], p[PATH_MAX + 64];
        make_tmp(dir);
        snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
        write_file(p, cases[i].text, strlen(cases[i].text));
        run_out r = gate(dir, "--allow-stale", NULL, "good.json");
        EXPECT(r, 2, cases[i].needle);
        assert_non_null(strstr(r.out, "FAIL "));
        assert_non_null(strstr(r.out, "PRESET /preset/name"));
        run_free(&r);
        rm_tmp(dir);
    }
    /* Over 64 KiB: refused before it is parsed. */
    char dir[PATH_MAX], p[PATH_MAX + 64];
    make_tmp(dir);
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    char *big = malloc(70000);
    memset(big, '#', 70000);
    write_file(p, big, 70000);
    free(big);
    run_out r = gate(dir, "--allow-stale", NULL, "good.json");
    EXPECT(r, 2, "preset is 70000 bytes; at most 65536 allowed");
    run_free(&r);
    rm_tmp(dir);
}

static void usage_errors_should_exit_3_and_help_0(void **state)
{
    (void)state;
    const char *none[] = {g_gate, NULL};
    run_out r = run(NULL, none);
    assert_int_equal(r.rc, 3);
    assert_non_null(strstr(r.err, "usage:"));
    run_free(&r);
    const char *bad[] = {g_gate, "--frobnicate", "x.json", NULL};
    r = run(NULL, bad);
    assert_int_equal(r.rc, 3);
    assert_non_null(strstr(r.err, "unknown flag --frobnicate"));
    run_free(&r);
    const char *miss[] = {g_gate, "x.json", "--junit", NULL};
    r = run(NULL, miss);
    assert_int_equal(r.rc, 3);
    run_free(&r);
    const char *help[] = {g_gate, "--help", NULL};
    r = run(NULL, help);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--allow-stale"));
    run_free(&r);
}

static void folders_should_be_read_recursively_sorted_and_2_beats_1(void **state)
{
    (void)state;
    char dir[PATH_MAX], ev[PATH_MAX + 64];
    make_tmp(dir);
    snprintf(ev, sizeof ev, "%s/evidence", g_data);
    run_out r = gate(dir, NULL, NULL, ev);
    /* malformed.json (2) and failing files (1): the run exits 2. */
    assert_int_equal(r.rc, 2);
    char *a = strstr(r.out, "fail_threshold.json"), *b = strstr(r.out, "good.json"),
         *c = strstr(r.out, "stale.json");
    assert_true(a && b && c && a < b && b < c);
    run_free(&r);
    rm_tmp(dir);
}

static void junit_json_and_md_outputs_should_carry_every_check(void **state)
{
    (void)state;
    char dir[PATH_MAX], junit[PATH_MAX + 32], md[PATH_MAX + 32];
    make_tmp(dir);
    snprintf(junit, sizeof junit, "%s/out.xml", dir);
    snprintf(md, sizeof md, "%s/out.md", dir);
    char presets[PATH_MAX + 16], ev[PATH_MAX + 64];
    snprintf(presets, sizeof presets, "%s/presets", dir);
    snprintf(ev, sizeof ev, "%s/evidence/fail_threshold.json", g_data);
    const char *argv[] = {g_gate, "--presets", presets, "--schema", g_schema, "--json",
                          "--junit", junit, "--md", md, ev, NULL};
    run_out r = run(NULL, argv);
    assert_int_equal(r.rc, 1);
    /* --json: stdout is one JSON document; the lines went to stderr. */
    json_doc *doc = NULL;
    kk_err e;
    assert_int_equal(json_parse(r.out, strlen(r.out), "stdout", NULL, &doc, &e), KK_OK);
    const json_value *root = json_doc_root(doc);
    assert_int_equal(json_num_cmp_double(json_obj_get(root, "failed"), 2.0), 0);
    assert_int_equal(json_num_cmp_double(json_obj_get(root, "exit"), 1.0), 0);
    const json_value *checks = json_obj_get(root, "checks");
    assert_non_null(checks);
    assert_true(checks->u.arr.n >= 10);
    json_doc_free(doc);
    assert_non_null(strstr(r.err, "2 failed"));
    char *x;
    size_t n;
    assert_int_equal(kk_file_read_all(junit, &x, &n, NULL), KK_OK);
    assert_non_null(strstr(x, "<testsuites name=\"kakeya-gate\""));
    assert_non_null(strstr(x, "failures=\"2\""));
    assert_non_null(strstr(x, "<failure type=\"THRESHOLD[0]\""));
    assert_non_null(strstr(x, "q8_0.recall &gt;= 0.95"));
    free(x);
    assert_int_equal(kk_file_read_all(md, &x, &n, NULL), KK_OK);
    assert_non_null(strstr(x, "| FAIL | "));
    assert_non_null(strstr(x, "2 failed (exit 1)"));
    free(x);
    run_free(&r);
    rm_tmp(dir);
}

static int setup(void **state)
{
    (void)state;
    char self[2048], root[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || kk_repo_root(root, sizeof root, NULL) != KK_OK)
        return -1;
    self[n] = '\0';
    /* build/<flavor>/tests/gate/test_gate_cli -> build/<flavor>/kakeya-gate,
     * so `make check` runs the sanitized gate. */
    for (int up = 0; up < 3; up++)
        *strrchr(self, '/') = '\0';
    snprintf(g_gate, sizeof g_gate, "%s/kakeya-gate", self);
    if (access(g_gate, X_OK) != 0)
        snprintf(g_gate, sizeof g_gate, "%s/bin/kakeya-gate", root);
    snprintf(g_data, sizeof g_data, "%s/tests/gate/data", root);
    snprintf(g_schema, sizeof g_schema, "%s/gate/schemas/evidence.schema.json", root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_evidence_should_pass_with_exit_0),
        cmocka_unit_test(a_failing_threshold_should_exit_1_with_expected_and_actual),
        cmocka_unit_test(malformed_json_should_exit_2_with_its_location),
        cmocka_unit_test(a_schema_violation_should_exit_2_with_the_instance_pointer),
        cmocka_unit_test(a_stale_preset_sha_should_exit_1_unless_allowed),
        cmocka_unit_test(a_missing_control_arm_should_exit_1),
        cmocka_unit_test(a_negative_control_that_passes_should_reject_the_evidence),
        cmocka_unit_test(a_legacy_schema_version_should_be_judged_by_that_rule_alone),
        cmocka_unit_test(evidence_made_under_fault_injection_should_exit_1),
        cmocka_unit_test(staleness_should_use_the_commit_at_head_in_a_git_checkout),
        cmocka_unit_test(malformed_presets_should_exit_2_with_file_line_col),
        cmocka_unit_test(usage_errors_should_exit_3_and_help_0),
        cmocka_unit_test(folders_should_be_read_recursively_sorted_and_2_beats_1),
        cmocka_unit_test(junit_json_and_md_outputs_should_carry_every_check),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
