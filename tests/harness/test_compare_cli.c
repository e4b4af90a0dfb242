/* CLI tests of `kakeya compare`: the table and verdicts on the committed
 * kv-quant-sweep evidence and on the fixtures (one arm per verdict), files
 * written whole (--md, --svg; the SVG rendered to PNG with rsvg-convert
 * when it is installed), before/after exit codes (0 nothing significant,
 * 1 a significant recall or speed regression, alpha honoured), and one test
 * per bad-input (2) and usage (3) path. The binary is this flavor's
 * build/<flavor>/kakeya, run with fork/exec from the repository root. */
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
#include <unistd.h>

#include "kk_file.h"
#include "test_util.h"
#include "test_proc.h"

static char g_bin[2048];
static char g_root[1024];
static char g_tmp[64];

/* Run argv[0] (a path or a PATH name) with argv, in the repository root. */
static tp_run run_argv(const char *const *argv)
{
    return tp_run_argv(g_root, argv);
}

/* kakeya compare ARGS... (NULL-terminated) */
static tp_run compare(const char *a0, ...)
{
    const char *argv[32] = {g_bin, "compare"};
    int n = 2;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_argv(argv);
}

#define FX(name) "tests/harness/data/compare/" name

static int setup(void **state)
{
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_compare");
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

/* The verdict line of `arm` ("- `arm` ... -> WORD"), or fail. */
static const char *verdict_of(const char *md, const char *arm, char *word, size_t cap)
{
    char key[96];
    snprintf(key, sizeof key, "\n- `%s` ", arm);
    const char *p = strstr(md, key);
    if (!p)
        fail_msg("no verdict line for %s", arm);
    const char *eol = strchr(p + 1, '\n');
    const char *arrow = p;
    for (const char *q = p; (q = strstr(q + 1, " -> ")) && q < eol;)
        arrow = q;
    assert_true(arrow > p);
    snprintf(word, cap, "%.*s", (int)(eol - arrow - 4), arrow + 4);
    return word;
}

/* The newest evidence of kv-quant-sweep (names start with a UTC stamp),
 * relative to the repository root; "" when there is none. */
static void newest_sweep(char *buf, size_t cap)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/evidence/kv-quant-sweep", g_root);
    buf[0] = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    char best[256] = "";
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".json") && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    if (d)
        closedir(d);
    if (best[0])
        snprintf(buf, cap, "evidence/kv-quant-sweep/%s", best);
}

static void committed_evidence_gets_table_front_and_verdicts(void **s)
{
    (void)s;
    REQUIRE_BIN();
    char ev[400];
    newest_sweep(ev, sizeof ev);
    if (!ev[0]) {
        fprintf(stderr, "SKIP: no evidence under evidence/kv-quant-sweep\n");
        skip();
    }
    tp_run r = compare(ev, NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "| arm | codec | bits/value | rel_mse Gaussian"));
    /* kld_model in the preset: the table's KLD column */
    assert_non_null(strstr(r.out, "| KV bytes | KLD mean | front |"));
    assert_non_null(strstr(r.out, "| `e8-4-rot` | e8:bits=4,rotate=hadamard | 4.50 |"));
    assert_non_null(strstr(r.out, "from presets/kv-quant-sweep.yaml `gate: baseline:`"));
    /* the codecs' Gaussian rel_mse is seeded: e8 is 3.35 dB below affine at
     * the same rate whatever the model does to recall */
    assert_non_null(strstr(r.out, "`e8-4` (e8:bits=4) vs `affine-4` (affine:bits=4): "
                                  "-3.35 dB at +0.00 bits/value"));
    char w[32];
    assert_string_equal(verdict_of(r.out, "q8_0", w, sizeof w), "reject");
    assert_string_equal(verdict_of(r.out, "affine-4-rot", w, sizeof w), "inconclusive");
    assert_string_equal(verdict_of(r.out, "needle-masked", w, sizeof w), "reject");
    /* every verdict line ends in one of the three words */
    size_t lines = 0;
    for (const char *p = strstr(r.out, "### Verdicts"); (p = strstr(p, "\n- `")); p++) {
        const char *eol = strchr(p + 1, '\n');
        int ok = 0;
        static const char *const W[] = {" -> adopt", " -> reject", " -> inconclusive"};
        for (size_t k = 0; k < 3; k++)
            ok |= (size_t)(eol - p) > strlen(W[k]) &&
                  !strncmp(eol - strlen(W[k]), W[k], strlen(W[k]));
        assert_true(ok);
        lines++;
    }
    assert_int_equal(lines, 26); /* 27 arms, the baseline has none */
    /* --baseline and --distortion change the reference and the measure */
    tp_run_free(&r);
    r = compare(ev, "--baseline", "q4_0", "--distortion", "k", NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "### Verdicts against `q4_0`"));
    assert_non_null(strstr(r.out, "only if its K rel_mse is lower"));
    tp_run_free(&r);
}

static void fixture_has_one_arm_per_verdict(void **s)
{
    (void)s;
    REQUIRE_BIN();
    tp_run r = compare(FX("rd.json"), "--presets", FX("presets"), NULL);
    assert_int_equal(r.code, 0);
    char w[32];
    assert_string_equal(verdict_of(r.out, "e8", w, sizeof w), "adopt");
    assert_string_equal(verdict_of(r.out, "q8", w, sizeof w), "reject");
    assert_string_equal(verdict_of(r.out, "lossy", w, sizeof w), "reject");
    assert_string_equal(verdict_of(r.out, "rot", w, sizeof w), "inconclusive");
    assert_non_null(strstr(r.out, "recall lost -> reject"));
    assert_non_null(strstr(r.out, "rate higher -> reject"));
    tp_run_free(&r);
}

static void md_and_svg_are_written_whole_and_the_svg_renders(void **s)
{
    (void)s;
    REQUIRE_BIN();
    char md[128], svg[128], png[160];
    snprintf(md, sizeof md, "%s/out.md", g_tmp);
    snprintf(svg, sizeof svg, "%s/out.svg", g_tmp);
    snprintf(png, sizeof png, "%s/out.png", g_tmp);
    char ev[400];
    newest_sweep(ev, sizeof ev);
    if (!ev[0]) {
        fprintf(stderr, "SKIP: no evidence under evidence/kv-quant-sweep\n");
        skip();
    }
    tp_run r = compare(ev, "--md", md, "--svg", svg, NULL);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.out_len, 0); /* the Markdown went to the file */
    char *buf = NULL;
    size_t len = 0;
    kk_err e;
    assert_int_equal(kk_file_read_all(md, &buf, &len, &e), KK_OK);
    assert_non_null(strstr(buf, "### Verdicts"));
    free(buf);
    assert_int_equal(kk_file_read_all(svg, &buf, &len, &e), KK_OK);
    assert_true(len > 1000 && !strncmp(buf, "<?xml", 5));
    assert_non_null(strstr(buf + len - 8, "</svg>"));
    free(buf);
    DIR *d = opendir(g_tmp); /* no temporary file left behind */
    struct dirent *ent;
    while ((ent = readdir(d)))
        assert_null(strstr(ent->d_name, ".tmp."));
    closedir(d);
    tp_run_free(&r);

    if (system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: rsvg-convert not installed (apt-get install librsvg2-bin): "
                        "the SVG was not rendered\n");
        skip();
    }
    const char *conv[] = {"rsvg-convert", "-o", png, svg, NULL};
    r = run_argv(conv);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.err_len, 0); /* rsvg-convert warns on what it cannot draw */
    assert_int_equal(kk_file_read_all(png, &buf, &len, &e), KK_OK);
    assert_true(len > 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8));
    /* width 1000 px, big-endian in IHDR at byte 16 */
    assert_int_equal(((unsigned char)buf[16] << 24 | (unsigned char)buf[17] << 16 |
                      (unsigned char)buf[18] << 8 | (unsigned char)buf[19]), 1000);
    free(buf);
    tp_run_free(&r);
}

static void before_after_exits_0_without_a_significant_regression(void **s)
{
    (void)s;
    REQUIRE_BIN();
    tp_run r = compare("--before", FX("before.json"), "--after", FX("after_same.json"), NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "No significant regression at alpha = 0.05"));
    /* q4 recall 160 -> 156 of 200: worse, not significant */
    assert_non_null(strstr(r.out, "| `q4` | recall | 0.800"));
    assert_non_null(strstr(r.out, "z = -0.49 (n 200, 200) | 0.623 | worse"));
    tp_run_free(&r);
}

static void before_after_exits_1_on_a_recall_or_speed_regression(void **s)
{
    (void)s;
    REQUIRE_BIN();
    tp_run r = compare("--before", FX("before.json"), "--after", FX("after_recall_drop.json"),
                        NULL);
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "| `q4` | recall |"));
    assert_non_null(strstr(r.out, "**REGRESSION**: worse"));
    assert_non_null(strstr(r.err, "1 significant regression (alpha 0.05)"));
    tp_run_free(&r);
    /* z = -4.36 (p 1.3e-5): below alpha 1e-6 after Holm it is not significant */
    r = compare("--before", FX("before.json"), "--after", FX("after_recall_drop.json"),
                "--alpha", "1e-6", NULL);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    r = compare("--before", FX("before.json"), "--after", FX("after_slower.json"), NULL);
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "`f16` timings.decode_tok_per_s: 100.199 -> 80.219"));
    assert_non_null(strstr(r.out, "x0.801 (spread 0.6% / 0.6%)"));
    tp_run_free(&r);
    /* the other way round the change is an improvement: exit 0 */
    r = compare("--before", FX("after_slower.json"), "--after", FX("before.json"), NULL);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
}

static void bad_input_exits_2_naming_the_file_or_flag(void **s)
{
    (void)s;
    REQUIRE_BIN();
    struct { const char *args[6]; const char *msg; } cases[] = {
        {{FX("bad_recall.json")}, "bad_recall.json:46:15: at /arms/0/metrics/recall"},
        {{FX("dup_arm.json")}, "appears twice"},
        {{FX("truncated.json")}, "truncated.json:1:"},
        {{FX("absent.json")}, "absent.json"},
        {{FX("rd.json"), "--baseline", "nope"}, "at --baseline: --baseline 'nope'"},
        {{FX("rd.json"), "--distortion", "x"}, "allowed gaussian, k, v"},
        {{FX("rd.json"), "--md", "/nonexistent-dir/x.md"}, "/nonexistent-dir/x.md"},
        {{"--before", FX("before.json"), "--after", FX("truncated.json")}, "truncated.json"},
        {{"--before", FX("before.json"), "--after", FX("after_same.json"), "--alpha", "2"},
         "--alpha"},
        {{"tests/harness/data"}, "holds no *.json"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *const *a = cases[k].args;
        tp_run r = compare(a[0], a[1], a[2], a[3], a[4], a[5], NULL);
        if (r.code != 2 || !strstr(r.err, cases[k].msg))
            fail_msg("case %zu: exit %d, stderr: %s", k, r.code, r.err);
        tp_run_free(&r);
    }
}

static void usage_errors_exit_3(void **s)
{
    (void)s;
    REQUIRE_BIN();
    struct { const char *args[4]; } cases[] = {
        {{NULL}},
        {{"--before", FX("before.json")}},
        {{FX("rd.json"), "--bogus"}},
        {{FX("rd.json"), "--alpha", "0.1"}},
        {{FX("rd.json"), "--md"}},
        {{"--before", FX("before.json"), "--after", FX("rd.json")}}, /* fine: control below */
    };
    for (size_t k = 0; k + 1 < sizeof cases / sizeof cases[0]; k++) {
        const char *const *a = cases[k].args;
        tp_run r = compare(a[0], a[1], a[2], a[3], NULL);
        if (r.code != 3)
            fail_msg("case %zu: exit %d, stderr: %s", k, r.code, r.err);
        tp_run_free(&r);
    }
    tp_run r = compare("--before", FX("before.json"), "--after", FX("before.json"), "--svg",
                        "x.svg", NULL);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    r = compare("--help", NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "exit codes"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(committed_evidence_gets_table_front_and_verdicts),
        cmocka_unit_test(fixture_has_one_arm_per_verdict),
        cmocka_unit_test(md_and_svg_are_written_whole_and_the_svg_renders),
        cmocka_unit_test(before_after_exits_0_without_a_significant_regression),
        cmocka_unit_test(before_after_exits_1_on_a_recall_or_speed_regression),
        cmocka_unit_test(bad_input_exits_2_naming_the_file_or_flag),
        cmocka_unit_test(usage_errors_exit_3),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
