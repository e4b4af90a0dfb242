/* Tests of gate/gate_yaml and gate/gate_preset: the preset `gate:` block
 * reader. Every kind of malformed preset gives its error code, a 1-based
 * line:col, the key path and the value found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_preset.h"
#include "gate_yaml.h"
#include "kk_file.h"

#define HEAD "name: p\nkind: niah\n"

static kk_code parse(const char *text, gate_preset **p, kk_err *e)
{
    kk_err_clear(e);
    return gate_preset_parse(text, strlen(text), "p.yaml", "p", p, e);
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
    gate_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(t, &p, &e), KK_OK);
    assert_string_equal(p->name, "p");
    assert_string_equal(p->kind, "niah");
    assert_string_equal(p->baseline, "affine-4");
    assert_int_equal(p->min_samples_recall, 30);
    assert_int_equal(p->min_samples_timing, 7);
    assert_int_equal(p->n_thresholds, 4);
    assert_int_equal(p->thresholds[0].form, GATE_FORM_VALUE);
    assert_int_equal(p->thresholds[0].op, GATE_OP_GE);
    assert_string_equal(p->thresholds[0].value, "0.95");
    assert_int_equal(p->thresholds[1].form, GATE_FORM_DELTA);
    assert_string_equal(p->thresholds[1].other, "identity");
    assert_string_equal(p->thresholds[1].value, "-0.05");
    assert_int_equal(p->thresholds[2].form, GATE_FORM_RATIO);
    assert_int_equal(p->thresholds[2].op, GATE_OP_GT);
    assert_string_equal(p->thresholds[2].metric, "timings.tok_per_s");
    assert_int_equal(p->thresholds[3].form, GATE_FORM_CI_LO);
    assert_string_equal(p->thresholds[3].note, "why");
    assert_int_equal(p->thresholds[3].line, 12);
    assert_int_equal(p->thresholds[3].col, 7);
    assert_true(p->has_positive && p->has_negative);
    assert_int_equal(p->negative.form, GATE_FORM_CI_HI);
    assert_int_equal(p->negative.op, GATE_OP_LE);
    assert_int_equal(p->n_relax, 1);
    assert_string_equal(p->relax[0].rule, "NOISY");
    assert_string_equal(p->relax[0].reason, "shared CI machine");
    assert_non_null(gate_preset_relax_find(p, "NOISY"));
    assert_null(gate_preset_relax_find(p, "LIVENESS"));
    assert_int_equal(strlen(p->sha256), 64);
    gate_preset_free(p);
}

static void defaults_should_apply_when_min_samples_is_absent(void **state)
{
    (void)state;
    gate_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(HEAD "gate: {}\n", &p, &e), KK_OK);
    assert_int_equal(p->min_samples_recall, GATE_MIN_SAMPLES_RECALL_DEFAULT);
    assert_int_equal(p->min_samples_timing, GATE_MIN_SAMPLES_TIMING_DEFAULT);
    assert_int_equal(p->n_thresholds, 0);
    assert_false(p->has_positive || p->has_negative);
    gate_preset_free(p);
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
     "allowed: baseline, min_samples, thresholds, controls, relax"},
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
    {HEAD "gate:\n  thresholds: {arm: a}\n", KK_E_TYPE, 4, 15, "gate.thresholds",
     "expected a list, found a map"},
    {HEAD "gate: [1]\n", KK_E_TYPE, 3, 7, "gate", "expected a map"},
    {"- a\n- b\n", KK_E_TYPE, 1, 1, "", "expected a map, found a list"},
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
    {"name: p\ngate: {}\n", KK_E_MISSING, 1, 1, "", "missing top-level key 'kind'"},
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
        gate_preset *p = NULL;
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
    size_t n = GATE_YAML_MAX_BYTES + 1;
    char *t = malloc(n + 1);
    memset(t, '#', n);
    t[n] = '\0';
    gate_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(gate_preset_parse(t, n, "big.yaml", NULL, &p, &e), KK_E_LIMIT);
    assert_string_equal(e.file, "big.yaml");
    assert_non_null(strstr(e.msg, "65537 bytes"));
    /* Exactly 64 KiB of comment is allowed (and is an empty preset). */
    assert_int_equal(gate_preset_parse(t, n - 1, "big.yaml", NULL, &p, &e), KK_E_MISSING);
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
    gate_preset *p = NULL;
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
    gate_preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(t, &p, &e), KK_E_FORMAT);
    assert_true(e.offset >= 0);
}

static void load_should_find_presets_by_name_and_refuse_paths(void **state)
{
    (void)state;
    gate_preset *p = NULL;
    kk_err e;
    kk_err_clear(&e);
    char root[1024], dir[1200];
    assert_int_equal(kk_repo_root(root, sizeof root, &e), KK_OK);
    snprintf(dir, sizeof dir, "%s/tests/gate/data/presets", root);
    assert_int_equal(gate_preset_load(dir, "../x", &p, &e), KK_E_RANGE);
    assert_int_equal(gate_preset_load(dir, "nope", &p, &e), KK_E_IO);
    assert_non_null(strstr(e.file, "nope.yaml"));
    assert_int_equal(gate_preset_load(dir, "gt-good", &p, &e), KK_OK);
    assert_int_equal(p->n_thresholds, 5);
    gate_preset_free(p);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
