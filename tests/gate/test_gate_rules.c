/* Tests of the evidence rules (gate/gate_rules.c, gate/rule_*.c).
 *
 * tests/gate/data/rules/ holds one evidence file per violation, named for
 * the rule it breaks (CODE.json, CODE-variant.json), and passing files
 * (pass-*.json), written by gen_rules.py from the presets beside them. Each
 * file is judged in process (gate_check_doc, the same path the binary
 * takes) with the presets copied to a temporary folder outside any git
 * checkout (so staleness compares with the file and the commit is not
 * looked up); a CODE file must fail with that code alone and exit 1. The
 * binary is run too, for what it prints and what --json and --junit carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate_check.h"
#include "kk_preset.h"
#include "gate_report.h"
#include "gate_rules.h"
#include "js.h"
#include "json.h"
#include "kk_file.h"
#include "rule_internal.h"
#include "test_util.h"
#include "test_proc.h"

static char g_gate[PATH_MAX];    /* the kakeya-gate of this build flavor */
static char g_rules[PATH_MAX];   /* tests/gate/data/rules */
static char g_schema[PATH_MAX];  /* gate/schemas/evidence.schema.json */
static char g_tmp[PATH_MAX];     /* temporary folder with presets/ */
static char g_presets[PATH_MAX + 16];

static json_doc *g_sdoc;
static js_registry *g_reg;
static js_schema *g_compiled;

/* ---- helpers ----------------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n;
} names;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json files of the rules folder, sorted. */
static names list_rule_files(void)
{
    names l = {NULL, 0};
    DIR *d = opendir(g_rules);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        assert_non_null(l.v);
        l.v[l.n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(l.v, l.n, sizeof *l.v, cmp_name);
    return l;
}

static void names_free(names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* The rule code a file name asks for ("NOISY-interval.json" -> "NOISY"),
 * "" for pass-*.json. */
static void expected_code(const char *file, char *code, size_t cap)
{
    if (strncmp(file, "pass-", 5) == 0) {
        code[0] = '\0';
        return;
    }
    size_t n = strcspn(file, "-.");
    snprintf(code, cap, "%.*s", (int)n, file);
}

/* Judges one file of the rules folder in process into rep. */
static void judge(const char *file, gate_report *rep)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", g_rules, file);
    gate_opts o = {g_presets, g_compiled, 0, 0};
    gate_ctx *ctx = gate_ctx_init(&o);
    assert_non_null(ctx);
    gate_report_init(rep);
    gate_check_file(ctx, path, rep);
    gate_ctx_free(ctx);
}

static void dump(const gate_report *rep)
{
    gate_report_print_human(stderr, rep);
}

static tp_run gate_cli(const char *file, const char *extra1, const char *extra2)
{
    char ev[PATH_MAX + 300];
    snprintf(ev, sizeof ev, "%s/%s", g_rules, file);
    const char *items[] = {g_gate, "--presets", g_presets, "--schema", g_schema, extra1, extra2, ev};
    return tp_run_opt(NULL, items, sizeof items / sizeof items[0]);
}

#define EXPECT_IN(hay, needle)                                                \
    do {                                                                      \
        if (!strstr((hay), (needle))) {                                       \
            fprintf(stderr, "output:\n%s\n", (hay));                          \
            fail_msg("missing \"%s\"", (needle));                             \
        }                                                                     \
    } while (0)

/* ---- every file, by its name ------------------------------------------------- */

static void each_rule_file_should_fail_with_its_code_alone_and_exit_1(void **state)
{
    (void)state;
    names l = list_rule_files();
    size_t judged = 0;
    for (size_t i = 0; i < l.n; i++) {
        char code[64];
        expected_code(l.v[i], code, sizeof code);
        if (!code[0])
            continue;
        assert_non_null(gate_rules_find(code));
        gate_report rep;
        judge(l.v[i], &rep);
        size_t mine = 0, others = 0;
        for (size_t k = 0; k < rep.n; k++) {
            if (rep.checks[k].status != GATE_FAIL)
                continue;
            if (strcmp(rep.checks[k].id, code) == 0)
                mine++;
            else
                others++;
        }
        if (mine == 0 || others != 0 || gate_report_exit(&rep) != 1) {
            dump(&rep);
            fail_msg("%s: %zu %s failures, %zu others, exit %d", l.v[i], mine, code,
                     others, gate_report_exit(&rep));
        }
        /* Every violation carries a pointer, numbers and the reason. */
        for (size_t k = 0; k < rep.n; k++) {
            const gate_check *c = &rep.checks[k];
            if (c->status != GATE_FAIL)
                continue;
            assert_true(c->pointer[0] == '/');
            assert_true(c->expected[0] && c->actual[0] && c->note[0]);
            assert_int_equal(c->severity, 1);
        }
        gate_report_free(&rep);
        judged++;
    }
    assert_true(judged >= 10);
    names_free(&l);
}

static void passing_files_should_pass_every_check(void **state)
{
    (void)state;
    names l = list_rule_files();
    size_t judged = 0;
    for (size_t i = 0; i < l.n; i++) {
        char code[64];
        expected_code(l.v[i], code, sizeof code);
        if (code[0])
            continue;
        gate_report rep;
        judge(l.v[i], &rep);
        if (gate_report_failed(&rep) != 0 || gate_report_exit(&rep) != 0) {
            dump(&rep);
            fail_msg("%s should pass", l.v[i]);
        }
        /* Each evidence rule reported (a PASS, or RELAXED with a reason). */
        for (size_t r = 0; r < gate_rules_count(); r++) {
            const gate_rule *rule = gate_rules_at(r);
            size_t seen = 0;
            for (size_t k = 0; k < rep.n; k++)
                seen += strcmp(rep.checks[k].id, rule->code) == 0 &&
                        rep.checks[k].status != GATE_SKIP;
            if (seen == 0)
                fail_msg("%s: no %s check reported", l.v[i], rule->code);
        }
        gate_report_free(&rep);
        judged++;
    }
    assert_true(judged >= 4);
    names_free(&l);
}

static void every_rule_code_should_have_a_file_that_violates_it(void **state)
{
    (void)state;
    for (size_t r = 0; r < gate_rules_count(); r++) {
        const gate_rule *rule = gate_rules_at(r);
        char path[PATH_MAX + 100];
        snprintf(path, sizeof path, "%s/%s.json", g_rules, rule->code);
        if (access(path, R_OK) != 0)
            fail_msg("no %s", path);
    }
}

/* ---- the table and relax ------------------------------------------------------ */

static void every_evidence_rule_should_run_by_default_and_be_relaxable(void **state)
{
    (void)state;
    assert_int_equal(gate_rules_count(), 17);
    for (size_t r = 0; r < gate_rules_count(); r++) {
        const gate_rule *rule = gate_rules_at(r);
        assert_non_null(rule->check);
        assert_true(rule->reason[0]);
        if (strcmp(rule->code, "LEGACY_SCHEMA") == 0) {
            assert_int_equal(rule->phase, GATE_RULE_RAW);
            assert_int_equal(rule->relaxable, 0);
            continue;
        }
        assert_int_equal(rule->phase, GATE_RULE_EVIDENCE);
        char text[512];
        snprintf(text, sizeof text, "name: p\nkind: k\ngate:\n  relax:\n"
                 "    - {rule: %s, reason: \"measured elsewhere\"}\n", rule->code);
        kk_preset *p = NULL;
        kk_err err;
        kk_err_clear(&err);
        if (strcmp(rule->code, "DIRTY_TREE") == 0 || strcmp(rule->code, "INCONSISTENT") == 0 ||
            strcmp(rule->code, "CONTROLS_MISSING") == 0 ||
            strcmp(rule->code, "EXACT_PATH") == 0 || strcmp(rule->code, "LOSSLESS") == 0) {
            /* On by default and never relaxed: a preset naming it is malformed. */
            assert_int_equal(rule->relaxable, 0);
            assert_int_not_equal(kk_preset_parse(text, strlen(text), "p.yaml", "p", 0, &p,
                                                 &err), KK_OK);
            assert_null(p);
            assert_non_null(strstr(err.msg, "cannot be relaxed"));
            continue;
        }
        assert_int_equal(rule->relaxable, 1);
        /* A preset may relax it, with a reason; a blank reason is refused. */
        assert_int_equal(kk_preset_parse(text, strlen(text), "p.yaml", "p", 0, &p, &err),
                         KK_OK);
        assert_non_null(kk_preset_relax_find(p, rule->code));
        kk_preset_free(p);
        snprintf(text, sizeof text, "name: p\nkind: k\ngate:\n  relax:\n"
                 "    - {rule: %s, reason: \"  \"}\n", rule->code);
        p = NULL;
        assert_int_not_equal(kk_preset_parse(text, strlen(text), "p.yaml", "p", 0, &p,
                                               &err), KK_OK);
        assert_null(p);
    }
}

static void a_relaxed_rule_should_pass_and_print_its_reason(void **state)
{
    (void)state;
    tp_run r = gate_cli("pass-noisy-relaxed.json", NULL, NULL);
    assert_int_equal(r.code, 0);
    EXPECT_IN(r.out, "PASS ");
    EXPECT_IN(r.out, " NOISY /arms/1/timings/repeats: expected max/min of "
                     "decode_tok_per_s over repeats <= 3, actual 199.5 / 60 = 3.33 over 5 "
                     "repeats (relaxed by the preset: a shared 2-core runner: timings "
                     "are orientation only here)");
    EXPECT_IN(r.out, "NOTE ");
    EXPECT_IN(r.out, " NOISY \"\": relaxed by ");
    EXPECT_IN(r.out, "gr-relaxed.yaml:21: a shared 2-core runner");
    tp_run_free(&r);
    /* The other rules stay on. */
    r = gate_cli("LIVENESS-other-rule-relaxed.json", "--json", NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "{\"status\":\"RELAXED\",");
    EXPECT_IN(r.out, "{\"status\":\"FAIL\",");
    EXPECT_IN(r.out, "\"id\":\"LIVENESS\",\"pointer\":\"/arms/1/signals/counters/"
                     "values_encoded\"");
    tp_run_free(&r);
}

/* DIRTY_TREE: exit 1 naming the paths (or why git could not be used);
 * --allow-dirty prints the same as a note and leaves the exit to the rest. */
static void a_dirty_tree_should_fail_unless_allowed_and_say_what_made_it_dirty(void **state)
{
    (void)state;
    tp_run r = gate_cli("DIRTY_TREE.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "DIRTY_TREE.json DIRTY_TREE /provenance/git_dirty: expected git_dirty "
                     "false (the committed code, and nothing else, ran), actual git_dirty "
                     "true, 2 paths: \"common/kk_err.h\", \"harness/shadow.h\" (made from a "
                     "working tree that differs from the commit it names; ");
    tp_run_free(&r);
    r = gate_cli("DIRTY_TREE.json", "--allow-dirty", NULL);
    assert_int_equal(r.code, 0);
    EXPECT_IN(r.out, "NOTE ");
    EXPECT_IN(r.out, " DIRTY_TREE /provenance/git_dirty: git_dirty true, 2 paths: "
                     "\"common/kk_err.h\", \"harness/shadow.h\" (allowed by --allow-dirty)");
    tp_run_free(&r);
    r = gate_cli("DIRTY_TREE-no-git.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "actual git_dirty true, git could not be used: \"git rev-parse HEAD: "
                     "cannot run git");
    tp_run_free(&r);
    /* --allow-dirty changes nothing else: another rule still fails. */
    r = gate_cli("LIVENESS.json", "--allow-dirty", NULL);
    assert_int_equal(r.code, 1);
    tp_run_free(&r);
}

/* ---- what the binary prints and writes ---------------------------------------- */

static void violations_should_print_code_pointer_numbers_and_reason(void **state)
{
    (void)state;
    tp_run r = gate_cli("LIVENESS.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "FAIL ");
    EXPECT_IN(r.out, "LIVENESS.json LIVENESS /arms/1/signals/counters/values_encoded: "
                     "expected values_encoded > 0, actual 0 (a component the "
                     "configuration runs did no counted work: a silent pass-through; "
                     "arm \"spec\" config.codec = \"q8_0\" runs the KV codec)");
    tp_run_free(&r);

    r = gate_cli("MEMORY_CLAIM_MISMATCH.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "MEMORY_CLAIM_MISMATCH /summary/claims/1/ratio: expected within 5% "
                     "of the measured ratio 0.625 (spec 655360 / ar 1048576 bytes "
                     "allocated), actual 0.53125 (stated; ");
    tp_run_free(&r);

    r = gate_cli("NOISY-interval.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "NOISY /arms/1/timings/repeats: expected the 95% bootstrap "
                     "interval of median(spec) / median(ar) of decode_tok_per_s excludes "
                     "the threshold 1.2 (lower bound above it), actual [");
    EXPECT_IN(r.out, "(recorded 1.25; 5 and 5 repeats, 2000 resamples)");
    tp_run_free(&r);

    r = gate_cli("DEGENERATE_OUTPUT.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "DEGENERATE_OUTPUT /arms/1/samples/1/text: expected no unit of 1-8 "
                     "characters or tokens repeated 8+ times at the end, actual ends in "
                     "\" the\" x 9 (a 4-character unit); 1 of 20 samples end so");
    tp_run_free(&r);

    /* INCONSISTENT names the figure, what the file's parts give and how */
    r = gate_cli("INCONSISTENT.json", NULL, NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "INCONSISTENT /arms/2/metrics/recall: expected recall = 0 (hits / n of "
                     "the samples), actual 0.03 (a figure disagrees with what the same file "
                     "determines; arm \"masked\")");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-hits.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/metrics/hits: expected hits = 0 (the samples with "
                     "hit true), actual 19");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-answer.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/samples/19/hit: expected hit = false (answer 8, "
                     "expected 7), actual true");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-config.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/config_sha256: expected config_sha256 = ");
    EXPECT_IN(r.out, " (sha256 of the canonical config), actual \"eeee");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-counters.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/signals/counters/values_encoded: expected "
                     "values_encoded = 81920 (the sum of samples[].values_encoded), actual 1");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-cells.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/metrics/cells/0/hits: expected hits = 19 (the "
                     "samples at the cell's ctx and depth with hit true), actual 20");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-timing.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/timings/decode_tok_per_s: expected "
                     "decode_tok_per_s = 150 (the median of timings.repeats[].decode_tok_per_s)"
                     ", actual 160");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-claim.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /summary/claims/0/ratio: expected ratio = 1.5 "
                     "(timings.decode_tok_per_s of arm \"spec\" / of arm \"ar\"), actual 1.55");
    tp_run_free(&r);
    r = gate_cli("INCONSISTENT-derived.json", NULL, NULL);
    EXPECT_IN(r.out, "INCONSISTENT /arms/1/signals/memory/derived/kv_bytes_formula/value: "
                     "expected value = 557056 (n_layers*2*ctx*kv_dim*bits/8 over its inputs), "
                     "actual 524288");
    tp_run_free(&r);
}

static void json_and_junit_should_carry_the_codes(void **state)
{
    (void)state;
    char junit[PATH_MAX + 32];
    snprintf(junit, sizeof junit, "%s/out.xml", g_tmp);
    tp_run r = gate_cli("SILENT_FALLBACK.json", "--json", NULL);
    assert_int_equal(r.code, 1);
    EXPECT_IN(r.out, "\"exit\":1");
    EXPECT_IN(r.out, "{\"status\":\"FAIL\",");
    EXPECT_IN(r.out, "\"id\":\"SILENT_FALLBACK\",\"pointer\":\"/arms/0/signals/"
                     "fallbacks_taken\",\"expected\":\"[] (no fallback)\",\"actual\":"
                     "\"1: \\\"codec f16: passthrough\\\"\"");
    tp_run_free(&r);
    r = gate_cli("TIMING_SCOPE_MISMATCH.json", "--junit", junit);
    assert_int_equal(r.code, 1);
    tp_run_free(&r);
    char *x;
    size_t len;
    assert_int_equal(kk_file_read_all(junit, &x, &len, NULL), KK_OK);
    EXPECT_IN(x, "<failure type=\"TIMING_SCOPE_MISMATCH\"");
    EXPECT_IN(x, "name=\"TIMING_SCOPE_MISMATCH /arms/1/timings/scope\"");
    EXPECT_IN(x, "<testcase classname=");
    free(x);
    unlink(junit);
}

/* ---- the parts ----------------------------------------------------------------- */

static void claim_kinds_should_follow_the_metric_path(void **state)
{
    (void)state;
    assert_true(gate_metric_is_timing("timings.decode_tok_per_s"));
    assert_false(gate_metric_is_timing("decode_tok_per_s"));
    assert_true(gate_metric_is_recall("recall"));
    assert_true(gate_metric_is_recall("recall_ci_lo"));
    assert_true(gate_metric_is_recall("metrics.recall"));
    assert_false(gate_metric_is_recall("timings.recall"));
    assert_true(gate_metric_is_memory("kv_bytes_resident"));
    assert_true(gate_metric_is_memory("bits_per_value"));
    assert_true(gate_metric_is_memory("signals.memory.kv_bytes_allocated"));
    assert_false(gate_metric_is_memory("rel_mse_k"));
    assert_string_equal(gate_metric_leaf("timings.decode_tok_per_s"), "decode_tok_per_s");
    assert_string_equal(gate_metric_leaf("recall"), "recall");
}

static void the_bootstrap_should_be_deterministic_and_bracket_the_estimate(void **state)
{
    (void)state;
    double a[] = {147, 148.5, 150, 151.5, 153};
    double b[] = {98, 99, 100, 101, 102};
    double lo1, hi1, lo2, hi2;
    /* Fixed seed: the same data give the same interval, bit for bit. */
    assert_int_equal(gate_noisy_interval(a, 5, b, 5, KK_PRESET_FORM_RATIO, &lo1, &hi1), 0);
    assert_int_equal(gate_noisy_interval(a, 5, b, 5, KK_PRESET_FORM_RATIO, &lo2, &hi2), 0);
    assert_memory_equal(&lo1, &lo2, sizeof lo1);
    assert_memory_equal(&hi1, &hi2, sizeof hi1);
    /* A ratio of medians of resamples lies between the extreme ratios, and
     * the interval holds the ratio of the medians (150 / 100). */
    assert_true(lo1 >= 147.0 / 102.0 && hi1 <= 153.0 / 98.0);
    assert_true(lo1 <= 1.5 && hi1 >= 1.5 && lo1 < hi1);
    /* Constant repeats: no spread, a point interval. */
    double c[] = {2, 2, 2, 2, 2}, d[] = {4, 4, 4, 4, 4};
    assert_int_equal(gate_noisy_interval(c, 5, d, 5, KK_PRESET_FORM_RATIO, &lo1, &hi1), 0);
    assert_true(lo1 == 0.5 && hi1 == 0.5);
    assert_int_equal(gate_noisy_interval(c, 5, d, 5, KK_PRESET_FORM_DELTA, &lo1, &hi1), 0);
    assert_true(lo1 == -2.0 && hi1 == -2.0);
    assert_int_equal(gate_noisy_interval(a, 5, NULL, 0, KK_PRESET_FORM_VALUE, &lo1, &hi1), 0);
    assert_true(lo1 >= 147 && hi1 <= 153 && lo1 <= 150 && hi1 >= 150);
    /* More noise, a wider interval (same seed, same resample indices). */
    double wide[] = {120, 135, 150, 165, 180};
    assert_int_equal(gate_noisy_interval(wide, 5, NULL, 0, KK_PRESET_FORM_VALUE, &lo2, &hi2),
                     0);
    assert_true(hi2 - lo2 > hi1 - lo1);
    /* Nothing to resample. */
    assert_int_equal(gate_noisy_interval(a, 0, b, 5, KK_PRESET_FORM_RATIO, &lo1, &hi1), -1);
    assert_int_equal(gate_noisy_interval(a, 5, NULL, 0, KK_PRESET_FORM_RATIO, &lo1, &hi1), -1);
}

/* ---- setup ------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char root[2048];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    snprintf(g_rules, sizeof g_rules, "%s/tests/gate/data/rules", root);
    snprintf(g_schema, sizeof g_schema, "%s/gate/schemas/evidence.schema.json", root);

    if (tp_tmpdir(g_tmp, sizeof g_tmp, "kk_gate_rules") != 0)
        return -1;
    snprintf(g_presets, sizeof g_presets, "%s/presets", g_tmp);
    if (mkdir(g_presets, 0755) != 0)
        return -1;
    static const char *const presets[] = {"gr-rules", "gr-relaxed", "gr-nospeed", "gr-nocontrols"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        char from[PATH_MAX + 64], to[PATH_MAX + 64], *buf;
        size_t len;
        snprintf(from, sizeof from, "%s/presets/%s.yaml", g_rules, presets[i]);
        snprintf(to, sizeof to, "%s/%s.yaml", g_presets, presets[i]);
        if (kk_file_read_all(from, &buf, &len, NULL) != KK_OK)
            return -1;
        FILE *f = fopen(to, "wb");
        int ok = f && fwrite(buf, 1, len, f) == len;
        if (f)
            fclose(f);
        free(buf);
        if (!ok)
            return -1;
    }

    kk_err err;
    kk_err_clear(&err);
    char base[PATH_MAX + 16];
    snprintf(base, sizeof base, "file://%s", g_schema);
    if (json_parse_file(g_schema, NULL, &g_sdoc, &err) != KK_OK ||
        !(g_reg = js_registry_init()) ||
        js_compile(json_doc_root(g_sdoc), base, g_reg, &g_compiled, &err) != KK_OK) {
        fprintf(stderr, "schema: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    js_schema_free(g_compiled);
    js_registry_free(g_reg);
    json_doc_free(g_sdoc);
    tp_rmtree(g_tmp);
    return 0;
}

/* The codes a preset's relax may name (common/kk_preset.h, read by the gate
 * and the harness alike) are exactly this table's, in its order, with the
 * same relaxable flag. */
static void the_preset_readers_rule_codes_should_match_the_rule_table(void **state)
{
    (void)state;
    assert_int_equal(kk_preset_rule_count(), gate_rules_count());
    for (size_t i = 0; i < gate_rules_count(); i++) {
        const gate_rule *r = gate_rules_at(i);
        const kk_preset_rule_code *c = kk_preset_rule_at(i);
        assert_string_equal(c->code, r->code);
        assert_int_equal(c->relaxable, r->relaxable);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_rule_file_should_fail_with_its_code_alone_and_exit_1),
        cmocka_unit_test(the_preset_readers_rule_codes_should_match_the_rule_table),
        cmocka_unit_test(passing_files_should_pass_every_check),
        cmocka_unit_test(every_rule_code_should_have_a_file_that_violates_it),
        cmocka_unit_test(every_evidence_rule_should_run_by_default_and_be_relaxable),
        cmocka_unit_test(a_relaxed_rule_should_pass_and_print_its_reason),
        cmocka_unit_test(a_dirty_tree_should_fail_unless_allowed_and_say_what_made_it_dirty),
        cmocka_unit_test(violations_should_print_code_pointer_numbers_and_reason),
        cmocka_unit_test(json_and_junit_should_carry_the_codes),
        cmocka_unit_test(claim_kinds_should_follow_the_metric_path),
        cmocka_unit_test(the_bootstrap_should_be_deterministic_and_bracket_the_estimate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
