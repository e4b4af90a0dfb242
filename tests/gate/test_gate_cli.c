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

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "json.h"
#include "kk_file.h"
#include "test_util.h"
#include "test_proc.h"

static char g_gate[PATH_MAX];   /* the kakeya-gate of this build flavor */
static char g_data[PATH_MAX];   /* tests/gate/data */
static char g_schema[PATH_MAX]; /* gate/schemas/evidence.schema.json */

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
    assert_int_equal(tp_tmpdir(dir, PATH_MAX, "kk_gate_cli"), 0);
    char p[PATH_MAX + 64], from[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/presets", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(from, sizeof from, "%s/presets/gt-good.yaml", g_data);
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    copy_file(from, p);
}

/* kakeya-gate --presets DIR/presets --schema S [extra...] EVIDENCE */
static tp_run gate(const char *dir, const char *extra1, const char *extra2,
                   const char *evidence)
{
    char presets[PATH_MAX + 16], ev[PATH_MAX + 64];
    snprintf(presets, sizeof presets, "%s/presets", dir);
    if (evidence[0] == '/')
        snprintf(ev, sizeof ev, "%s", evidence);
    else
        snprintf(ev, sizeof ev, "%s/evidence/%s", g_data, evidence);
    const char *items[] = {g_gate, "--presets", presets, "--schema", g_schema, extra1, extra2, ev};
    return tp_run_opt(NULL, items, sizeof items / sizeof items[0]);
}

#define EXPECT(r, want, needle)                                               \
    do {                                                                      \
        if ((r).code != (want) || !strstr((r).out, (needle))) {               \
            fprintf(stderr, "rc=%d\nstdout:\n%s\nstderr:\n%s\n", (r).code,     \
                    (r).out, (r).err);                                        \
            fail_msg("expected exit %d and \"%s\"", (want), (needle));        \
        }                                                                     \
    } while (0)

static void good_evidence_should_pass_with_exit_0(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "good.json");
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
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_failing_threshold_should_exit_1_with_expected_and_actual(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "fail_threshold.json");
    EXPECT(r, 1, "fail_threshold.json THRESHOLD[0] /arms/1/metrics/recall: "
                 "expected q8_0.recall >= 0.95, actual 0.9");
    assert_non_null(strstr(r.out, "FAIL "));
    /* recall 18/20, its delta to identity and its Wilson lower bound 0.699 */
    assert_non_null(strstr(r.out, " 3 failed\n"));
    tp_run_free(&r);
    r = gate(dir, NULL, NULL, "missing_metric.json");
    EXPECT(r, 1, "THRESHOLD[4] /arms/1/metrics/kv_bytes_resident: expected "
                 "q8_0.kv_bytes_resident present");
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void malformed_json_should_exit_2_with_its_location(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "malformed.json");
    EXPECT(r, 2, "malformed.json:5:2: ");
    assert_non_null(strstr(r.out, "FAIL "));
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_schema_violation_should_exit_2_with_the_instance_pointer(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "schema_violation.json");
    EXPECT(r, 2, "SCHEMA /arms/1/metrics/recall: ");
    /* Nothing after schema validation runs on an invalid file. */
    assert_null(strstr(r.out, "THRESHOLD"));
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_stale_preset_sha_should_exit_1_unless_allowed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "stale.json");
    EXPECT(r, 1, "STALE_PRESET /preset/sha256: expected sha256 of ");
    tp_run_free(&r);
    r = gate(dir, "--allow-stale", NULL, "stale.json");
    EXPECT(r, 0, "STALE_PRESET /preset/sha256: not checked (--allow-stale)");
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_missing_control_arm_should_exit_1(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "missing_control.json");
    EXPECT(r, 1, "CONTROL_NEGATIVE /arms: expected an arm named \"needle-masked\"");
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_negative_control_that_passes_should_reject_the_evidence(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "negative_passes.json");
    EXPECT(r, 1, "CONTROL_NEGATIVE /arms/2/metrics/recall: expected "
                 "needle-masked.recall <= 0.05, actual 0.5 (the negative control "
                 "did not lose");
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void a_legacy_schema_version_should_be_judged_by_that_rule_alone(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "legacy.json");
    EXPECT(r, 1, "LEGACY_SCHEMA /schema_version: expected schema_version >= 1, actual 0");
    assert_null(strstr(r.out, "SCHEMA \"\"")); /* no schema validation */
    assert_non_null(strstr(r.out, "0 passed, 1 failed\n"));
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void evidence_made_under_fault_injection_should_exit_1(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    make_tmp(dir);
    tp_run r = gate(dir, NULL, NULL, "fault_injected.json");
    EXPECT(r, 1, "FAULT_INJECTED /provenance/faults_injected: expected no fault injection "
                 "(KAKEYA_FAULT unset when it ran), actual \"codec-passthrough\"");
    /* Otherwise good: it is the only failure. */
    assert_non_null(strstr(r.out, ", 1 failed\n"));
    tp_run_free(&r);
    r = gate(dir, NULL, NULL, "good.json");
    EXPECT(r, 0, "PASS");
    assert_non_null(strstr(r.out, "FAULT_INJECTED /provenance: expected no fault injection"));
    tp_run_free(&r);
    tp_rmtree(dir);
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
    tp_run r = tp_run_argv(NULL, argv);
    int rc = r.code;
    tp_run_free(&r);
    return rc;
}

static void staleness_should_use_the_commit_at_head_in_a_git_checkout(void **state)
{
    (void)state;
    const char *v[] = {"git", "--version", NULL};
    tp_run probe = tp_run_argv(NULL, v);
    int have_git = probe.code == 0;
    tp_run_free(&probe);
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
    tp_run r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 1, "is not committed at HEAD");
    tp_run_free(&r);

    assert_int_equal(git_ok(dir, add), 0);
    assert_int_equal(git_ok(dir, commit), 0);
    const char *head[] = {"git", "-C", dir, "rev-parse", "HEAD", NULL};
    tp_run h = tp_run_argv(NULL, head);
    assert_int_equal(h.code, 0);
    h.out[40] = '\0';

    /* The recorded commit exists: everything passes. */
    evidence_with_commit(ev, h.out);
    r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 0, "UNKNOWN_COMMIT /provenance/git_commit: expected a commit in this "
                 "repository's history, actual ");
    assert_non_null(strstr(r.out, "PASS "));
    tp_run_free(&r);

    /* An unknown commit fails, whatever --allow-stale says. */
    r = gate(dir, "--allow-stale", NULL, ev[0] ? "unknown_commit.json" : "");
    EXPECT(r, 1, "UNKNOWN_COMMIT /provenance/git_commit: expected a commit in this "
                 "repository's history, actual deaddead");
    tp_run_free(&r);

    /* A stale sha against HEAD. */
    r = gate(dir, NULL, NULL, "stale.json");
    EXPECT(r, 1, "at HEAD = ");
    tp_run_free(&r);

    /* Uncommitted edits to the preset: stale, named as such. */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    FILE *f = fopen(p, "a");
    fputs("# an edit\n", f);
    fclose(f);
    r = gate(dir, NULL, NULL, ev);
    EXPECT(r, 1, "uncommitted edits");
    tp_run_free(&r);
    r = gate(dir, "--allow-stale", NULL, ev);
    EXPECT(r, 0, " 0 failed\n");
    tp_run_free(&r);
    tp_run_free(&h);
    tp_rmtree(dir);
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
        tp_run r = gate(dir, "--allow-stale", NULL, "good.json");
        EXPECT(r, 2, cases[i].needle);
        assert_non_null(strstr(r.out, "FAIL "));
        assert_non_null(strstr(r.out, "PRESET /preset/name"));
        tp_run_free(&r);
        tp_rmtree(dir);
    }
    /* Over 64 KiB: refused before it is parsed. */
    char dir[PATH_MAX], p[PATH_MAX + 64];
    make_tmp(dir);
    snprintf(p, sizeof p, "%s/presets/gt-good.yaml", dir);
    char *big = malloc(70000);
    memset(big, '#', 70000);
    write_file(p, big, 70000);
    free(big);
    tp_run r = gate(dir, "--allow-stale", NULL, "good.json");
    EXPECT(r, 2, "preset is 70000 bytes; at most 65536 allowed");
    tp_run_free(&r);
    tp_rmtree(dir);
}

static void usage_errors_should_exit_3_and_help_0(void **state)
{
    (void)state;
    const char *none[] = {g_gate, NULL};
    tp_run r = tp_run_argv(NULL, none);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "usage:"));
    tp_run_free(&r);
    const char *bad[] = {g_gate, "--frobnicate", "x.json", NULL};
    r = tp_run_argv(NULL, bad);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "unknown flag --frobnicate"));
    tp_run_free(&r);
    const char *miss[] = {g_gate, "x.json", "--junit", NULL};
    r = tp_run_argv(NULL, miss);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    const char *help[] = {g_gate, "--help", NULL};
    r = tp_run_argv(NULL, help);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "--allow-stale"));
    tp_run_free(&r);
}

static void folders_should_be_read_recursively_sorted_and_2_beats_1(void **state)
{
    (void)state;
    char dir[PATH_MAX], ev[PATH_MAX + 64];
    make_tmp(dir);
    snprintf(ev, sizeof ev, "%s/evidence", g_data);
    tp_run r = gate(dir, NULL, NULL, ev);
    /* malformed.json (2) and failing files (1): the run exits 2. */
    assert_int_equal(r.code, 2);
    char *a = strstr(r.out, "fail_threshold.json"), *b = strstr(r.out, "good.json"),
         *c = strstr(r.out, "stale.json");
    assert_true(a && b && c && a < b && b < c);
    tp_run_free(&r);
    tp_rmtree(dir);
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
    tp_run r = tp_run_argv(NULL, argv);
    assert_int_equal(r.code, 1);
    /* --json: stdout is one JSON document; the lines went to stderr. */
    json_doc *doc = NULL;
    kk_err e;
    assert_int_equal(json_parse(r.out, strlen(r.out), "stdout", NULL, &doc, &e), KK_OK);
    const json_value *root = json_doc_root(doc);
    assert_int_equal(json_num_cmp_double(json_obj_get(root, "failed"), 3.0), 0);
    assert_int_equal(json_num_cmp_double(json_obj_get(root, "exit"), 1.0), 0);
    const json_value *checks = json_obj_get(root, "checks");
    assert_non_null(checks);
    assert_true(checks->u.arr.n >= 10);
    json_doc_free(doc);
    assert_non_null(strstr(r.err, "3 failed"));
    char *x;
    size_t n;
    assert_int_equal(kk_file_read_all(junit, &x, &n, NULL), KK_OK);
    assert_non_null(strstr(x, "<testsuites name=\"kakeya-gate\""));
    assert_non_null(strstr(x, "failures=\"3\""));
    assert_non_null(strstr(x, "<failure type=\"THRESHOLD[0]\""));
    assert_non_null(strstr(x, "q8_0.recall &gt;= 0.95"));
    free(x);
    assert_int_equal(kk_file_read_all(md, &x, &n, NULL), KK_OK);
    assert_non_null(strstr(x, "| FAIL | "));
    assert_non_null(strstr(x, "3 failed (exit 1)"));
    free(x);
    tp_run_free(&r);
    tp_rmtree(dir);
}

/* The report writers go through kk_file_write_atomic: a character device
 * (a copy of /dev/null made here; mknod needs root, elsewhere that part
 * skips, saying so) is written through and stays a device; a symlink keeps
 * its link and its target gets the report; a folder is refused (exit 2,
 * its type named). */
static void report_files_should_keep_devices_and_links_and_refuse_folders(void **state)
{
    (void)state;
    char dir[PATH_MAX], node[PATH_MAX + 32], real[PATH_MAX + 32], link_[PATH_MAX + 32];
    make_tmp(dir);
    snprintf(node, sizeof node, "%s/null", dir);
    snprintf(real, sizeof real, "%s/presets/report.md", dir);
    snprintf(link_, sizeof link_, "%s/report.md", dir);
    write_file(real, "old\n", 4);
    assert_int_equal(symlink(real, link_), 0);
    const int have_node = mknod(node, S_IFCHR | 0666, makedev(1, 3)) == 0;
    if (!have_node)
        fprintf(stderr, "SKIP (part): mknod of a character device in %s: %s (needs root)\n", dir,
                strerror(errno));
    tp_run r = gate(dir, "--junit", have_node ? node : "/dev/null", "fail_threshold.json");
    assert_int_equal(r.code, 1);
    tp_run_free(&r);
    struct stat st;
    if (have_node) {
        assert_int_equal(lstat(node, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
    }
    r = gate(dir, "--md", link_, "fail_threshold.json");
    assert_int_equal(r.code, 1);
    tp_run_free(&r);
    assert_int_equal(lstat(link_, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *x;
    size_t n;
    assert_int_equal(kk_file_read_all(real, &x, &n, NULL), KK_OK);
    assert_non_null(strstr(x, "| FAIL | "));
    free(x);
    r = gate(dir, "--junit", dir, "fail_threshold.json");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "cannot write over a directory"));
    tp_run_free(&r);
    tp_rmtree(dir);
}

static int setup(void **state)
{
    (void)state;
    char root[2048];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
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
        cmocka_unit_test(report_files_should_keep_devices_and_links_and_refuse_folders),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
