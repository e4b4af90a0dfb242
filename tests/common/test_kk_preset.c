/* Tests of common/kk_yaml and common/kk_preset: the preset file reader the
 * gate and the harness share (the `gate:` block, the top level, the YAML
 * limits, the scalar classifier). Every kind of malformed preset gives its
 * error code, a 1-based line:col, the key path and the value found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_preset.h"
#include "kk_yaml.h"
#include "kk_file.h"

#define HEAD "name: p\nkind: niah\n"

static kk_code parse(const char *text, kk_preset **p, kk_err *e)
{
    kk_err_clear(e);
    return kk_preset_parse(text, strlen(text), "p.yaml", "p", 0, p, e);
}

static void a_full_gate_block_should_parse_into_its_fields(void **state)
{
    (void)state;
    const char *t = HEAD
        "description: ignored by the gate\n"
        "params: {ctx: {type: int, default: 8}}\n"
        "gate:\n"
        "  baseline: affine-4\n"
        "  min_samples: {recall: 30, timing: 7}\n"
        "  thresholds:\n"
        "    - {arm: q8_0, metric: recall, op: \">=\", value: 0.95}\n"
        "    - {arm: q8_0, metric: recall, delta_to: identity, op: \">=\", value: -0.05}\n"
        "    - {arm: q8_0, metric: timings.tok_per_s, ratio_to: ar, op: '>', value: 1.0}\n"
        "    - {arm: e8-4, metric: recall, ci: lo95, op: \">=\", value: 0.8, note: why}\n"
        "  controls:\n"
        "    positive: {arm: identity, metric: recall, op: \">=\", value: 0.99}\n"
        "    negative: {arm: masked, metric: recall, ci: hi95, op: \"<=\", value: 0.05}\n"
        "  relax:\n"
        "    - {rule: NOISY, reason: \"shared CI machine\"}\n";
    kk_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(t, &p, &e), KK_OK);
    assert_string_equal(p->name, "p");
    assert_string_equal(p->kind, "niah");
    assert_string_equal(p->baseline, "affine-4");
    assert_int_equal(p->min_samples_recall, 30);
    assert_int_equal(p->min_samples_timing, 7);
    assert_int_equal(p->n_thresholds, 4);
    assert_int_equal(p->thresholds[0].form, KK_PRESET_FORM_VALUE);
    assert_int_equal(p->thresholds[0].op, KK_PRESET_OP_GE);
    assert_string_equal(p->thresholds[0].value, "0.95");
    assert_int_equal(p->thresholds[1].form, KK_PRESET_FORM_DELTA);
    assert_string_equal(p->thresholds[1].other, "identity");
    assert_string_equal(p->thresholds[1].value, "-0.05");
    assert_int_equal(p->thresholds[2].form, KK_PRESET_FORM_RATIO);
    assert_int_equal(p->thresholds[2].op, KK_PRESET_OP_GT);
    assert_string_equal(p->thresholds[2].metric, "timings.tok_per_s");
    assert_int_equal(p->thresholds[3].form, KK_PRESET_FORM_CI_LO);
    assert_string_equal(p->thresholds[3].note, "why");
    assert_int_equal(p->thresholds[3].line, 12);
    assert_int_equal(p->thresholds[3].col, 7);
    assert_true(p->has_positive && p->has_negative);
    assert_int_equal(p->n_negative, 1);
    assert_int_equal(p->negative[0].form, KK_PRESET_FORM_CI_HI);
    assert_int_equal(p->negative[0].op, KK_PRESET_OP_LE);
    assert_int_equal(p->n_relax, 1);
    assert_string_equal(p->relax[0].rule, "NOISY");
    assert_string_equal(p->relax[0].reason, "shared CI machine");
    assert_non_null(kk_preset_relax_find(p, "NOISY"));
    assert_null(kk_preset_relax_find(p, "LIVENESS"));
    assert_int_equal(strlen(p->sha256), 64);
    kk_preset_free(p);
}

static void defaults_should_apply_when_min_samples_is_absent(void **state)
{
    (void)state;
    kk_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(HEAD "gate: {}\n", &p, &e), KK_OK);
    assert_int_equal(p->min_samples_recall, KK_PRESET_MIN_SAMPLES_RECALL_DEFAULT);
    assert_int_equal(p->min_samples_timing, KK_PRESET_MIN_SAMPLES_TIMING_DEFAULT);
    assert_int_equal(p->n_thresholds, 0);
    assert_false(p->has_positive || p->has_negative);
    assert_true(p->restore_min_mass == KK_PRESET_RESTORE_MIN_MASS_DEFAULT);
    assert_false(p->has_restore_min_mass);
    kk_preset_free(p);
    /* controls.negative as a list: each arm must lose */
    assert_int_equal(parse(HEAD "gate:\n  controls:\n    negative:\n"
                                "      - {arm: masked, metric: recall, op: \"<=\", value: 0.05}\n"
                                "      - {arm: corrupt, metric: recall, op: \"<=\", value: 0.5}\n",
                           &p, &e), KK_OK);
    assert_true(p->has_negative);
    assert_int_equal(p->n_negative, 2);
    assert_string_equal(p->negative[1].arm, "corrupt");
    kk_preset_free(p);
    assert_int_not_equal(parse(HEAD "gate:\n  controls:\n    negative: []\n", &p, &e), KK_OK);
    assert_string_equal(e.where, "gate.controls.negative");
    assert_int_not_equal(parse(HEAD "gate:\n  controls:\n    negative:\n      - {arm: a}\n", &p,
                               &e), KK_OK);
    assert_non_null(strstr(e.where, "gate.controls.negative[0]"));
    assert_int_equal(parse(HEAD "gate: {restore_min_mass: 0.25}\n", &p, &e), KK_OK);
    assert_true(p->restore_min_mass == 0.25 && p->has_restore_min_mass);
    kk_preset_free(p);
}

/* One malformed preset per row: the code, where it is (1-based), the key
 * path, and a piece of the message (the value found or what is allowed). */
typedef struct bad_case {
    const char *text;
    kk_code code;
    int line, col;
    const char *where;
    const char *msg_part;
} bad_case;

static const bad_case BAD[] = {
    /* YAML syntax */
    {HEAD "gate: [a\n", KK_E_FORMAT, 4, 1, "gate", "invalid YAML"},
    {"---\nname: a\n---\nname: b\n", KK_E_FORMAT, 3, 1, "", "second YAML document"},
    /* anchors, aliases, tags: refused everywhere, also in harness keys */
    {HEAD "params: &p {a: 1}\ngate: {}\n", KK_E_FORMAT, 3, 9, "", "anchor '&p'"},
    {HEAD "params: *p\ngate: {}\n", KK_E_FORMAT, 3, 9, "", "alias '*p'"},
    {HEAD "gate: {baseline: !!str x}\n", KK_E_FORMAT, 3, 18, "gate", "tag '"},
    {"%TAG ! tag:x,2000:\n---\nname: p\n", KK_E_FORMAT, 1, 1, "", "%TAG"},
    /* duplicate keys, anywhere */
    {HEAD "name: q\ngate: {}\n", KK_E_DUPLICATE, 3, 1, "", "duplicate key name (first at line 1)"},
    {HEAD "params: {a: 1, a: 2}\ngate: {}\n", KK_E_DUPLICATE, 3, 16, "params", "duplicate key a"},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, arm: b, metric: m, op: '>=', value: 1}\n",
     KK_E_DUPLICATE, 5, 16, "gate.thresholds[0]", "duplicate key arm"},
    {HEAD "gate: {? [a]: 1}\n", KK_E_FORMAT, 3, 10, "gate", "key must be a scalar"},
    /* unknown keys */
    {HEAD "gate:\n  thresholdz: []\n", KK_E_RANGE, 4, 3, "gate.thresholdz",
     "allowed: baseline, min_samples, restore_min_mass, thresholds, controls, relax"},
    {HEAD "gate:\n  restore_min_mass: 1.5\n", KK_E_RANGE, 4, 21, "gate.restore_min_mass",
     "expected a number in [0, 1], found 1.5"},
    {HEAD "gate:\n  restore_min_mass: \"0.5\"\n", KK_E_TYPE, 4, 21, "gate.restore_min_mass",
     "expected a number in JSON form"},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, op: '>=', value: 1, vaule: 2}\n",
     KK_E_RANGE, 5, 47, "gate.thresholds[0].vaule", "unknown key 'vaule'"},
    {HEAD "gate:\n  controls: {neutral: {}}\n", KK_E_RANGE, 4, 14, "gate.controls.neutral",
     "allowed: positive, negative"},
    /* wrong types */
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, op: '>=', value: \"0.95\"}\n",
     KK_E_TYPE, 5, 44, "gate.thresholds[0].value", "found a string \"0.95\""},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, op: '>=', value: .5}\n",
     KK_E_TYPE, 5, 44, "gate.thresholds[0].value", "YAML-only form"},
    {HEAD "gate:\n  thresholds:\n    - {arm: 1, metric: m, op: '>=', value: 1}\n",
     KK_E_TYPE, 5, 13, "gate.thresholds[0].arm", "quote it"},
    {HEAD "gate:\n  thresholds:\n    - {arm: yes, metric: m, op: '>=', value: 1}\n",
     KK_E_TYPE, 5, 13, "gate.thresholds[0].arm", "a boolean \"yes\""},
    /* YAML 1.1 reads y and n as booleans too (one classifier for all) */
    {HEAD "gate:\n  thresholds:\n    - {arm: y, metric: m, op: '>=', value: 1}\n",
     KK_E_TYPE, 5, 13, "gate.thresholds[0].arm", "a boolean \"y\""},
    {HEAD "gate:\n  min_samples: {recall: \"20\"}\n", KK_E_TYPE, 4, 25, "gate.min_samples.recall",
     "found a string \"20\""},
    {"name: p\nkind: 'a/b'\ngate: {}\n", KK_E_RANGE, 2, 7, "kind", "allowed: a name"},
    {HEAD "gate:\n  thresholds: {arm: a}\n", KK_E_TYPE, 4, 15, "gate.thresholds",
     "expected a list, found a map"},
    {HEAD "gate: [1]\n", KK_E_TYPE, 3, 7, "gate", "expected a map"},
    {"- a\n- b\n", KK_E_TYPE, 1, 1, "", "found a list; allowed: a map"},
    {HEAD "gate:\n  min_samples: {recall: 2.5}\n", KK_E_TYPE, 4, 25, "gate.min_samples.recall",
     "expected an integer"},
    /* values out of range */
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, op: '=>', value: 1}\n",
     KK_E_RANGE, 5, 31, "gate.thresholds[0].op", "allowed: >=, <=, >, <, =="},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, ci: lo90, op: '>=', value: 1}\n",
     KK_E_RANGE, 5, 31, "gate.thresholds[0].ci", "allowed: lo95, hi95"},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, delta_to: b, ratio_to: c, op: '>=', value: 1}\n",
     KK_E_RANGE, 5, 7, "gate.thresholds[0]", "at most one"},
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: cfg.x, op: '>=', value: 1}\n",
     KK_E_RANGE, 5, 24, "gate.thresholds[0].metric", "timings."},
    {HEAD "gate:\n  thresholds:\n    - {arm: 'a/b', metric: m, op: '>=', value: 1}\n",
     KK_E_RANGE, 5, 13, "gate.thresholds[0].arm", "allowed: letters"},
    {HEAD "gate:\n  min_samples: {recall: 0}\n", KK_E_RANGE, 4, 25, "gate.min_samples.recall",
     "found 0"},
    {"name: other\nkind: niah\ngate: {}\n", KK_E_RANGE, 1, 7, "name", "allowed: \"p\""},
    /* missing keys */
    {HEAD "gate:\n  thresholds:\n    - {arm: a, metric: m, value: 1}\n", KK_E_MISSING, 5, 7,
     "gate.thresholds[0]", "missing key 'op'"},
    {"name: p\ngate: {}\n", KK_E_MISSING, 1, 1, "", "missing key 'kind'; required: name, kind, gate"},
    {HEAD "params: {}\n", KK_E_MISSING, 1, 1, "", "'gate'"},
    {"", KK_E_MISSING, 0, 0, "", "empty preset"},
    /* relax: a written reason, a known relaxable rule, once */
    {HEAD "gate:\n  relax:\n    - {rule: NOISY}\n", KK_E_MISSING, 5, 7, "gate.relax[0]",
     "written reason"},
    {HEAD "gate:\n  relax:\n    - {rule: NOISY, reason: \"  \"}\n", KK_E_RANGE, 5, 29,
     "gate.relax[0].reason", "blank reason"},
    {HEAD "gate:\n  relax:\n    - {rule: NOSY, reason: r}\n", KK_E_RANGE, 5, 14,
     "gate.relax[0].rule", "allowed: LIVENESS"},
    {HEAD "gate:\n  relax:\n    - {rule: LEGACY_SCHEMA, reason: r}\n", KK_E_RANGE, 5, 14,
     "gate.relax[0].rule", "cannot be relaxed"},
    {HEAD "gate:\n  relax:\n    - {rule: NOISY, reason: r}\n    - {rule: NOISY, reason: s}\n",
     KK_E_DUPLICATE, 6, 14, "gate.relax[1].rule", "relaxed twice"},
};

static void each_malformed_preset_should_fail_with_a_located_error(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        kk_preset *p = NULL;
        kk_err e;
        kk_code rc = parse(BAD[i].text, &p, &e);
        if (rc != BAD[i].code || e.line != BAD[i].line || e.col != BAD[i].col ||
            strcmp(e.where, BAD[i].where) != 0 || !strstr(e.msg, BAD[i].msg_part)) {
            fprintf(stderr, "case %zu: got code %d at %d:%d where '%s': %s\n", i, rc,
                    e.line, e.col, e.where, e.msg);
            bad++;
        }
        assert_null(p);
        assert_string_equal(e.file, "p.yaml");
    }
    assert_int_equal(bad, 0);
}

static void a_preset_over_64_kib_should_be_refused_before_parsing(void **state)
{
    (void)state;
    size_t n = KK_YAML_MAX_BYTES + 1;
    char *t = malloc(n + 1);
    memset(t, '#', n);
    t[n] = '\0';
    kk_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_preset_parse(t, n, "big.yaml", NULL, 0, &p, &e), KK_E_LIMIT);
    assert_string_equal(e.file, "big.yaml");
    assert_non_null(strstr(e.msg, "65537 bytes"));
    /* Exactly 64 KiB of comment is allowed (and is an empty preset). */
    assert_int_equal(kk_preset_parse(t, n - 1, "big.yaml", NULL, 0, &p, &e), KK_E_MISSING);
    free(t);
}

static void nesting_deeper_than_32_should_stop_at_the_33rd_level(void **state)
{
    (void)state;
    /* The top-level map is level 1, so the 32nd '[' opens level 33. A huge
     * stream of '[' is refused there, without reading the rest. */
    char t[4096];
    size_t at = (size_t)snprintf(t, sizeof t, HEAD "gate: ");
    for (int i = 0; i < 2000; i++)
        t[at++] = '[';
    t[at] = '\0';
    kk_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(t, &p, &e), KK_E_LIMIT);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.col, 7 + 31);
    assert_non_null(strstr(e.msg, "deeper than 32"));
    /* 32 levels are fine for the reader (the gate block then has the wrong
     * type, which is a different error). */
    at = (size_t)snprintf(t, sizeof t, HEAD "gate: ");
    for (int i = 0; i < 31; i++)
        t[at++] = '[';
    for (int i = 0; i < 31; i++)
        t[at++] = ']';
    t[at++] = '\n';
    t[at] = '\0';
    assert_int_equal(parse(t, &p, &e), KK_E_TYPE);
}

static void invalid_utf8_should_be_a_format_error_with_an_offset(void **state)
{
    (void)state;
    const char t[] = HEAD "gate: {baseline: \"a\xff\"}\n";
    kk_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(t, &p, &e), KK_E_FORMAT);
    assert_true(e.offset >= 0);
}

static void load_should_find_presets_by_name_and_refuse_paths(void **state)
{
    (void)state;
    kk_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    char root[1024], dir[1200];
    assert_int_equal(kk_repo_root(root, sizeof root, &e), KK_OK);
    snprintf(dir, sizeof dir, "%s/tests/gate/data/presets", root);
    assert_int_equal(kk_preset_load(dir, "../x", 0, &p, &e), KK_E_RANGE);
    assert_int_equal(kk_preset_load(dir, "nope", 0, &p, &e), KK_E_IO);
    assert_non_null(strstr(e.file, "nope.yaml"));
    assert_int_equal(kk_preset_load(dir, "gt-good", 0, &p, &e), KK_OK);
    assert_int_equal(p->n_thresholds, 5);
    kk_preset_free(p);
}

/* The gate's preset reader (kk_preset_load): a preset symlink that leaves
 * the presets folder is refused before anything is read (a file elsewhere
 * is never parsed, so never quoted in an error); one inside still loads; a
 * FIFO is refused by type at once instead of blocking the read. */
static void load_should_refuse_symlinks_out_of_the_folder_and_fifos(void **state)
{
    (void)state;
    kk_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    char root[1024], good[1200], tmp[] = "/tmp/kk_preset_sym_XXXXXX";
    char secret[64], link[64], inside[64], fifo[64], copy[64];
    assert_int_equal(kk_repo_root(root, sizeof root, &e), KK_OK);
    snprintf(good, sizeof good, "%s/tests/gate/data/presets/gt-good.yaml", root);
    assert_non_null(mkdtemp(tmp));
    snprintf(secret, sizeof secret, "%s.secret", tmp);
    FILE *f = fopen(secret, "w");
    assert_non_null(f);
    fputs("ghp_supersecret123token\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/leak.yaml", tmp);
    assert_int_equal(symlink(secret, link), 0);
    assert_int_equal(kk_preset_load(tmp, "leak", 0, &p, &e), KK_E_RANGE);
    assert_null(p);
    assert_non_null(strstr(e.file, "leak.yaml"));
    assert_non_null(strstr(e.msg, "symlink"));
    assert_null(strstr(e.msg, "supersecret"));
    /* a symlink to a file inside the folder reads as the file */
    char *b = NULL;
    size_t n = 0;
    assert_int_equal(kk_file_read_all(good, &b, &n, NULL), KK_OK);
    snprintf(copy, sizeof copy, "%s/real.yaml", tmp);
    f = fopen(copy, "w");
    assert_non_null(f);
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    snprintf(inside, sizeof inside, "%s/gt-good.yaml", tmp);
    assert_int_equal(symlink("real.yaml", inside), 0);
    assert_int_equal(kk_preset_load(tmp, "gt-good", 0, &p, &e), KK_OK);
    kk_preset_free(p);
    p = NULL;
    /* a FIFO is KK_E_TYPE at once; alarm() turns a blocked open into a
     * failed test instead of a hung suite */
    snprintf(fifo, sizeof fifo, "%s/pipe.yaml", tmp);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(10);
    kk_code rc = kk_preset_load(tmp, "pipe", 0, &p, &e);
    alarm(0);
    assert_int_equal(rc, KK_E_TYPE);
    assert_non_null(strstr(e.file, "pipe.yaml"));
    assert_non_null(strstr(e.msg, "FIFO"));
    unlink(fifo);
    unlink(inside);
    unlink(copy);
    unlink(link);
    unlink(secret);
    rmdir(tmp);
}

/* The one scalar classifier: every reader of preset files types scalars
 * through it, so `12`, `"12"`, `yes` and `y` read alike everywhere. */
static void the_classifier_should_type_each_scalar_form(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int plain;
        kk_yaml_sclass want;
    } C[] = {
        {"12", 1, KK_YAML_SC_INT},       {"-3", 1, KK_YAML_SC_INT},
        {"0", 1, KK_YAML_SC_INT},        {"12", 0, KK_YAML_SC_STRING},
        {"0.5", 1, KK_YAML_SC_NUMBER},   {"1e-3", 1, KK_YAML_SC_NUMBER},
        {"-0.05", 1, KK_YAML_SC_NUMBER}, {".5", 1, KK_YAML_SC_OTHER_NUM},
        {"+1", 1, KK_YAML_SC_OTHER_NUM}, {"01", 1, KK_YAML_SC_OTHER_NUM},
        {"1_000", 1, KK_YAML_SC_OTHER_NUM}, {"0x1f", 1, KK_YAML_SC_OTHER_NUM},
        {"-.inf", 1, KK_YAML_SC_OTHER_NUM}, {".NaN", 1, KK_YAML_SC_OTHER_NUM},
        {"yes", 1, KK_YAML_SC_BOOL},     {"y", 1, KK_YAML_SC_BOOL},
        {"N", 1, KK_YAML_SC_BOOL},       {"off", 1, KK_YAML_SC_BOOL},
        {"yes", 0, KK_YAML_SC_STRING},   {"~", 1, KK_YAML_SC_NULL},
        {"", 1, KK_YAML_SC_NULL},        {"Null", 1, KK_YAML_SC_NULL},
        {"", 0, KK_YAML_SC_STRING},      {"q8_0", 1, KK_YAML_SC_STRING},
        {"1e", 1, KK_YAML_SC_STRING},    {"1.2.3", 1, KK_YAML_SC_STRING},
        {"yess", 1, KK_YAML_SC_STRING},  {"-", 1, KK_YAML_SC_STRING},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        kk_yaml_sclass got = kk_yaml_classify(C[i].s, strlen(C[i].s), C[i].plain);
        if (got != C[i].want)
            fprintf(stderr, "'%s' (plain %d): got %d, want %d\n", C[i].s, C[i].plain, got,
                    C[i].want);
        assert_int_equal(got, C[i].want);
    }
}

/* KK_PRESET_FULL is the harness's reading: unknown top-level keys are
 * refused and description and arms are required; without it (the gate's)
 * they are left alone, but the tree is there either way. */
static void the_full_reading_should_check_the_whole_top_level(void **state)
{
    (void)state;
    const char *t = HEAD "description: d\ncolour: red\narms: [{name: a}]\ngate: {}\n";
    kk_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_preset_parse(t, strlen(t), "p.yaml", "p", 0, &p, &e), KK_OK);
    assert_null(p->description);
    assert_non_null(p->arms);
    assert_int_equal(p->arms->kind, KK_YAML_SEQ);
    assert_int_equal(p->arms->line, 5);
    assert_null(p->params);
    kk_preset_free(p);
    assert_int_equal(kk_preset_parse(t, strlen(t), "p.yaml", "p", KK_PRESET_FULL, &p, &e),
                     KK_E_RANGE);
    assert_null(p);
    assert_int_equal(e.line, 4);
    assert_int_equal(e.col, 1);
    assert_non_null(strstr(e.msg, "unknown key \"colour\""));
    t = HEAD "gate: {}\n";
    assert_int_equal(kk_preset_parse(t, strlen(t), "p.yaml", "p", KK_PRESET_FULL, &p, &e),
                     KK_E_MISSING);
    assert_non_null(strstr(e.msg, "missing key 'description'"));
    t = HEAD "description: 12\narms: []\ngate: {}\n";
    assert_int_equal(kk_preset_parse(t, strlen(t), "p.yaml", "p", KK_PRESET_FULL, &p, &e),
                     KK_E_TYPE);
    assert_string_equal(e.where, "description");
    t = HEAD "description: \"a preset\"\nparams: {n: {type: int, default: 12}}\n"
             "arms: []\ngate: {}\n";
    assert_int_equal(kk_preset_parse(t, strlen(t), "p.yaml", "p", KK_PRESET_FULL, &p, &e), KK_OK);
    assert_string_equal(p->description, "a preset");
    const kk_yaml_node *d = kk_yaml_get(kk_yaml_get(p->params, "n"), "default");
    assert_non_null(d);
    assert_int_equal(kk_yaml_node_class(d), KK_YAML_SC_INT);
    assert_int_equal(d->line, 4);
    kk_preset_free(p);
}

/* The gate's rule codes are the words relax accepts. */
static void rule_codes_should_be_found_by_code(void **state)
{
    (void)state;
    assert_non_null(kk_preset_rule_find("NOISY"));
    assert_true(kk_preset_rule_find("NOISY")->relaxable);
    assert_false(kk_preset_rule_find("LEGACY_SCHEMA")->relaxable);
    assert_null(kk_preset_rule_find("NOSY"));
    assert_null(kk_preset_rule_at(kk_preset_rule_count()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_gate_block_should_parse_into_its_fields),
        cmocka_unit_test(defaults_should_apply_when_min_samples_is_absent),
        cmocka_unit_test(each_malformed_preset_should_fail_with_a_located_error),
        cmocka_unit_test(a_preset_over_64_kib_should_be_refused_before_parsing),
        cmocka_unit_test(nesting_deeper_than_32_should_stop_at_the_33rd_level),
        cmocka_unit_test(invalid_utf8_should_be_a_format_error_with_an_offset),
        cmocka_unit_test(load_should_find_presets_by_name_and_refuse_paths),
        cmocka_unit_test(load_should_refuse_symlinks_out_of_the_folder_and_fifos),
        cmocka_unit_test(the_classifier_should_type_each_scalar_form),
        cmocka_unit_test(the_full_reading_should_check_the_whole_top_level),
        cmocka_unit_test(rule_codes_should_be_found_by_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
