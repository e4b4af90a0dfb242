/* Preset loading: every refusal is located (file, line, col or the --set
 * flag), names the value found and what is allowed, and maps to exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kind.h"
#include "kk_file.h"
#include "kk_preset.h"
#include "preset.h"
#include "test_util.h"

/* A valid smoke preset; tests splice one change into it. */
#define HEAD "name: p\nkind: smoke\ndescription: \"test\"\n"
#define PARAMS "params:\n  samples: {type: int, default: 20, min: 20, max: 100}\n"
#define ARMS "arms:\n  - {name: full, codec: none}\n  - {name: masked, mask_needle: true}\n"
#define GATE "gate:\n  controls:\n    positive: {arm: full, metric: recall, op: \">=\", value: 0.99}\n" \
             "    negative: {arm: masked, metric: recall, op: \"<=\", value: 0.05}\n"

static kk_code parse(const char *text, preset **p, kk_err *e)
{
    return preset_parse(text, strlen(text), "p.yaml", "p", p, e);
}

/* Parse text expecting failure with code, at line:col (0: not checked),
 * with msg containing each of the NULL-terminated words. */
static void expect_err(const char *text, kk_code code, int line, int col, ...)
{
    preset *p = NULL;
    kk_err e;
    kk_code c = parse(text, &p, &e);
    if (c != code)
        fprintf(stderr, "got %d (%s) for:\n%s\n", c, e.msg, text);
    assert_int_equal(c, code);
    assert_null(p);
    assert_int_equal(kk_exit_code(c), KK_EXIT_INPUT);
    assert_string_equal(e.file, "p.yaml");
    if (line) {
        if (e.line != line || e.col != col)
            fprintf(stderr, "at %d:%d (%s) %s\n", e.line, e.col, e.where, e.msg);
        assert_int_equal(e.line, line);
        assert_int_equal(e.col, col);
    }
    va_list ap;
    va_start(ap, col);
    for (const char *w; (w = va_arg(ap, const char *));) {
        if (!strstr(e.msg, w))
            fprintf(stderr, "message '%s' lacks '%s'\n", e.msg, w);
        assert_non_null(strstr(e.msg, w));
    }
    va_end(ap);
}

static void a_valid_preset_should_load_with_defaults_filled(void **state)
{
    (void)state;
    preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(HEAD PARAMS ARMS GATE, &p, &e), KK_OK);
    assert_string_equal(p->kind->name, "smoke");
    assert_int_equal(preset_get_int(p, "samples"), 20);
    assert_int_equal(preset_find_param(p, "samples")->origin, PRESET_ORIGIN_PRESET);
    assert_int_equal(preset_find_param(p, "seed")->origin, PRESET_ORIGIN_KIND);
    assert_int_equal(p->n_arms, 2);
    assert_string_equal(preset_arm_field(p, &p->arms[1], "codec")->s, "none");
    assert_int_equal(preset_arm_field(p, &p->arms[1], "mask_needle")->i, 1);
    assert_int_equal(p->n_models, 1);
    assert_string_equal(p->models[0].param->name, "model");
    assert_non_null(p->src);
    assert_true(p->src->has_negative);
    assert_int_equal(strlen(p->sha256), 64);
    preset_free(p);
}

static void unknown_keys_should_be_refused_where_they_stand(void **state)
{
    (void)state;
    expect_err(HEAD "colour: red\n" ARMS GATE, KK_E_RANGE, 4, 1, "unknown key \"colour\"",
               "allowed: name, kind", NULL);
    expect_err(HEAD "params:\n  sample: {type: int, default: 20}\n" ARMS GATE, KK_E_RANGE, 5, 3,
               "unknown parameter \"sample\"", "samples", NULL);
    expect_err(HEAD "params:\n  samples: {type: int, default: 20, mxa: 3}\n" ARMS GATE, KK_E_RANGE,
               5, 37, "unknown key \"mxa\"", NULL);
    expect_err(HEAD "arms:\n  - {name: full, codek: none}\n" GATE, KK_E_RANGE, 5, 18,
               "unknown key \"codek\"", "codec, mask_needle", NULL);
}

static void duplicate_keys_should_be_refused(void **state)
{
    (void)state;
    expect_err(HEAD "name: q\n" ARMS GATE, KK_E_DUPLICATE, 4, 1, "duplicate key", NULL);
    expect_err(HEAD "arms:\n  - {name: full, codec: none, codec: f16}\n" GATE, KK_E_DUPLICATE, 0, 0,
               "duplicate key", NULL);
}

static void wrong_types_should_name_the_value_and_the_type_allowed(void **state)
{
    (void)state;
    expect_err(HEAD "params:\n  samples: {type: int, default: \"20\"}\n" ARMS GATE, KK_E_TYPE, 5, 33,
               "found a string \"20\"", "allowed: an integer", NULL);
    expect_err(HEAD "params:\n  samples: {type: float, default: 20}\n" ARMS GATE, KK_E_RANGE, 5, 19,
               "found \"float\"", "allowed: \"int\"", NULL);
    expect_err(HEAD "params:\n  depths: {type: list, of: float, default: 0.5}\n" ARMS GATE,
               KK_E_TYPE, 5, 44, "found \"0.5\"", "a list of", NULL);
    expect_err(HEAD "arms:\n  - {name: full, mask_needle: yes}\n" GATE, KK_E_TYPE, 5, 31,
               "found a boolean \"yes\"", "true or false", NULL);
    expect_err(HEAD "arms:\n  - {name: 12}\n" GATE, KK_E_TYPE, 5, 12, "found \"12\"", NULL);
    expect_err(HEAD "arms: {name: full}\n" GATE, KK_E_TYPE, 4, 7, "found a map", "allowed: a list",
               NULL);
}

static void values_out_of_range_should_be_refused_with_the_bounds(void **state)
{
    (void)state;
    expect_err(HEAD "params:\n  samples: {type: int, default: 5, min: 20}\n" ARMS GATE, KK_E_RANGE,
               5, 33, "found \"5\"", "20..", NULL);
    /* A declaration may narrow the kind's bounds, never widen them. */
    expect_err(HEAD "params:\n  samples: {type: int, default: 20, max: 1000000000}\n" ARMS GATE,
               KK_E_RANGE, 5, 42, "found \"1000000000\"", "the kind's limits", NULL);
    expect_err(HEAD "params:\n  depths: {type: list, of: float, default: [0.5, 1.5]}\n" ARMS GATE,
               KK_E_RANGE, 5, 50, "found \"1.5\"", "0..1", NULL);
    expect_err(HEAD "arms:\n  - {name: full, codec: \"q9_0\"}\n" GATE, KK_E_RANGE, 5, 25,
               "found \"q9_0\"", "allowed: none or a codec spec", NULL);
    expect_err(HEAD "kind: smok\n" ARMS GATE, KK_E_DUPLICATE, 0, 0, NULL);
    expect_err("name: p\nkind: smok\ndescription: x\n" ARMS GATE, KK_E_RANGE, 2, 7, "found \"smok\"",
               "smoke, niah, kv_quant, engine_bench", NULL);
    expect_err("name: other\nkind: smoke\ndescription: x\n" ARMS GATE, KK_E_RANGE, 1, 7,
               "found \"other\"", "its file name", NULL);
    expect_err(HEAD "arms:\n  - {name: full}\n  - {name: full}\n" GATE, KK_E_DUPLICATE, 6, 12,
               "arm name \"full\" again", NULL);
}

static void the_gate_block_should_be_checked_by_the_gates_reader_and_against_the_arms(void **state)
{
    (void)state;
    expect_err(HEAD ARMS "gate:\n  controls:\n    positive: {arm: full, metric: recall, op: \"=>\", "
               "value: 0.99}\n", KK_E_RANGE, 0, 0, "=>", NULL);
    expect_err(HEAD ARMS "gate:\n  controls:\n    positive: {arm: fulll, metric: recall, op: \">=\", "
               "value: 0.99}\n", KK_E_RANGE, 9, 15, "arm \"fulll\"", NULL);
    expect_err(HEAD ARMS, KK_E_MISSING, 1, 1, "missing key 'gate'", NULL);
}

static void anchors_aliases_and_tags_should_be_refused(void **state)
{
    (void)state;
    expect_err(HEAD "params:\n  samples: &s {type: int, default: 20}\n" ARMS GATE, KK_E_FORMAT, 0, 0,
               "anchor", NULL);
    expect_err(HEAD "x: &a 1\ny: *a\n" ARMS GATE, KK_E_FORMAT, 0, 0, "anchor", NULL);
    expect_err(HEAD "params:\n  samples: {type: int, default: !!int 20}\n" ARMS GATE, KK_E_FORMAT, 0, 0,
               "tag", NULL);
}

static void nesting_deeper_than_32_should_be_refused_on_the_event_stream(void **state)
{
    (void)state;
    char buf[400];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", HEAD "x: ");
    for (int i = 0; i < 40; i++)
        buf[o++] = '[';
    for (int i = 0; i < 40; i++)
        buf[o++] = ']';
    buf[o++] = '\n';
    buf[o] = 0;
    expect_err(buf, KK_E_LIMIT, 4, 35, "32", NULL);
}

static void files_over_64_kib_should_be_refused_before_parsing(void **state)
{
    (void)state;
    char dir[] = "/tmp/kk_preset_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/big.yaml", dir);
    size_t n = 70000;
    char *b = malloc(n);
    memset(b, '#', n);
    b[n - 1] = '\n';
    kk_err e;
    assert_int_equal(kk_file_write_atomic(path, b, n, &e), KK_OK);
    free(b);
    preset *p = NULL;
    kk_code c = preset_load(dir, "big", &p, &e);
    assert_int_equal(c, KK_E_LIMIT);
    assert_int_equal(kk_exit_code(c), KK_EXIT_INPUT);
    assert_non_null(strstr(e.msg, "70000"));
    assert_non_null(strstr(e.msg, "65536"));
    assert_non_null(strstr(e.file, "big.yaml"));
    unlink(path);
    /* a name that is not a plain stem never reaches the file system */
    assert_int_equal(preset_load(dir, "../etc/passwd", &p, &e), KK_E_RANGE);
    assert_int_equal(preset_load(dir, "absent", &p, &e), KK_E_MISSING);
    rmdir(dir);
}

static void env_placeholders_should_be_refused_where_none_is_declared(void **state)
{
    (void)state;
    expect_err(HEAD "params:\n  model: {type: string, default: \"${ENV:HOME}/m.gguf\"}\n" ARMS GATE,
               KK_E_RANGE, 5, 34, "placeholder \"${ENV:HOME}\"", "allowed here: none", NULL);
    expect_err(HEAD "params:\n  model: {type: string, default: \"${ENV:HOME}\", env: [MODELS]}\n"
               ARMS GATE, KK_E_RANGE, 5, 34, "allowed here: ${ENV:MODELS}", NULL);
    expect_err(HEAD "params:\n  seed: {type: int, default: 1, env: [X]}\n" ARMS GATE, KK_E_RANGE, 5,
               38, "takes no ${ENV:VAR}", NULL);
    expect_err(HEAD "arms:\n  - {name: full, codec: \"${ENV:CODEC}\"}\n" GATE, KK_E_RANGE, 0, 0, NULL);
    expect_err(HEAD "description2: \"${ENV:X}\"\n" ARMS GATE, KK_E_RANGE, 0, 0, NULL);
    /* declared: loads, and expands from the environment */
    preset *p = NULL;
    kk_err e;
    const char *ok = HEAD "params:\n  model: {type: string, default: \"${ENV:KK_TEST_M}/x\", "
                          "env: [KK_TEST_M]}\n" ARMS GATE;
    assert_int_equal(parse(ok, &p, &e), KK_OK);
    char *s = NULL;
    unsetenv("KK_TEST_M");
    assert_int_equal(preset_expand_env(preset_find_param(p, "model"), 0, &s, &e), KK_E_MISSING);
    assert_non_null(strstr(e.msg, "KK_TEST_M"));
    setenv("KK_TEST_M", "/models", 1);
    assert_int_equal(preset_expand_env(preset_find_param(p, "model"), 0, &s, &e), KK_OK);
    assert_string_equal(s, "/models/x");
    free(s);
    preset_free(p);
}

static void set_overrides_should_be_typed_and_bounded_and_name_the_flag(void **state)
{
    (void)state;
    preset *p = NULL;
    kk_err e;
    assert_int_equal(parse(HEAD PARAMS ARMS GATE, &p, &e), KK_OK);
    assert_int_equal(preset_set(p, "samples=50", &e), KK_OK);
    assert_int_equal(preset_get_int(p, "samples"), 50);
    assert_int_equal(preset_find_param(p, "samples")->origin, PRESET_ORIGIN_SET);
    assert_int_equal(preset_set(p, "ctx=128,256", &e), KK_OK);
    assert_int_equal(preset_find_param(p, "ctx")->v.n, 2);
    struct {
        const char *set;
        kk_code code;
        const char *where, *word;
    } cases[] = {
        {"samples=10", KK_E_RANGE, "--set samples", "20..100"},
        {"samples=1e3", KK_E_TYPE, "--set samples", "an integer"},
        {"samples=abc", KK_E_TYPE, "--set samples", "found a string \"abc\""},
        {"sample=30", KK_E_RANGE, "--set sample", "unknown parameter \"sample\""},
        {"samples", KK_E_FORMAT, "--set", "NAME=VALUE"},
        {"depths=0.5,2", KK_E_RANGE, "--set depths", "found \"2\""},
        {"ctx=1,2,3,4,5", KK_E_RANGE, "--set ctx", "found 5 items"},
        {"model=${ENV:HOME}", KK_E_RANGE, "--set model", "placeholder"},
        {"seed=-1", KK_E_RANGE, "--set seed", "found \"-1\""},
        {"seed=99999999999999999999", KK_E_RANGE, "--set seed", "allowed"},
        {"model=synth:nope", KK_E_RANGE, "model", "synthetic mode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kk_code c = preset_set(p, cases[i].set, &e);
        if (c != cases[i].code || strcmp(e.where, cases[i].where) || !strstr(e.msg, cases[i].word))
            fprintf(stderr, "%s: %d at '%s': %s\n", cases[i].set, c, e.where, e.msg);
        assert_int_equal(c, cases[i].code);
        assert_int_equal(kk_exit_code(c), KK_EXIT_INPUT);
        assert_string_equal(e.where, cases[i].where);
        assert_non_null(strstr(e.msg, cases[i].word));
    }
    preset_free(p);
}

static void every_shipped_preset_should_validate(void **state)
{
    (void)state;
    char root[1024], dir[1100];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        skip();
    snprintf(dir, sizeof dir, "%s/presets", root);
    const char *names[] = {"smoke", "kv-quant-sweep", "niah-baseline"};
    for (size_t i = 0; i < 3; i++) {
        preset *p = NULL;
        kk_err e;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.yaml", dir, names[i]);
        if (access(path, R_OK) != 0)
            continue;
        kk_code c = preset_load(dir, names[i], &p, &e);
        if (c != KK_OK)
            kk_err_print(stderr, "preset", &e);
        assert_int_equal(c, KK_OK);
        assert_true(p->src->has_positive && p->src->has_negative);
        preset_free(p);
    }
}

static void every_kind_default_should_satisfy_its_own_bounds(void **state)
{
    (void)state;
    for (size_t k = 0; k < kind_count(); k++) {
        char text[600];
        snprintf(text, sizeof text, "name: p\nkind: %s\ndescription: x\narms:\n  - {name: a%s}\n"
                 "gate:\n  thresholds: []\n", kind_at(k)->name,
                 !strcmp(kind_at(k)->name, "engine_bench") ? ", engine: kakeya"
                 : !strcmp(kind_at(k)->name, "codec_gpu")  ? ", codec: q8_0"
                                                           : "");
        preset *p = NULL;
        kk_err e;
        kk_code c = parse(text, &p, &e);
        if (c != KK_OK)
            fprintf(stderr, "kind %s: %s\n", kind_at(k)->name, e.msg);
        assert_int_equal(c, KK_OK);
        preset_free(p);
    }
}

/* The gate (kk_preset_parse without KK_PRESET_FULL, as kakeya-gate loads
 * presets) and the harness (preset_parse) type every scalar through the
 * same classifier: a text one takes as a name, an integer or a number, the
 * other does too. Before they shared it, the gate read `arm: y` as the
 * name "y" while the harness read `name: y` as a boolean. */
static void the_gate_and_the_harness_should_type_scalars_alike(void **state)
{
    (void)state;
    static const char *const S[] = {"12", "\"12\"", "yes", "y", "n", "Y", "'y'", "q8_0", "~",
                                    "0.5", ".5", "-3", "1_000", "off", "\"on\""};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        char g[512], h[512];
        kk_err eg, eh;
        kk_preset *gp = NULL;
        preset *hp = NULL;
        /* a name: an arm */
        snprintf(g, sizeof g, "name: p\nkind: smoke\ngate:\n  thresholds:\n"
                 "    - {arm: %s, metric: recall, op: '>=', value: 0.5}\n", S[i]);
        snprintf(h, sizeof h, HEAD "arms:\n  - {name: %s}\n" "gate: {}\n", S[i]);
        kk_err_clear(&eg);
        kk_code cg = kk_preset_parse(g, strlen(g), "p.yaml", "p", 0, &gp, &eg);
        kk_code ch = parse(h, &hp, &eh);
        if (cg != ch)
            fprintf(stderr, "name %s: gate %d (%s), harness %d (%s)\n", S[i], cg, eg.msg, ch,
                    eh.msg);
        assert_int_equal(cg, ch);
        kk_preset_free(gp);
        preset_free(hp);
        /* an integer: min_samples / an int parameter */
        snprintf(g, sizeof g, "name: p\nkind: smoke\ngate:\n  min_samples: {timing: %s}\n", S[i]);
        snprintf(h, sizeof h, HEAD "params:\n  seed: {type: int, default: %s}\n" ARMS GATE, S[i]);
        kk_err_clear(&eg);
        cg = kk_preset_parse(g, strlen(g), "p.yaml", "p", 0, &gp, &eg);
        ch = parse(h, &hp, &eh);
        /* The bounds differ (1..1000000 and the seed's): compare the type. */
        if ((cg == KK_E_TYPE) != (ch == KK_E_TYPE))
            fprintf(stderr, "int %s: gate %d (%s), harness %d (%s)\n", S[i], cg, eg.msg, ch,
                    eh.msg);
        assert_int_equal(cg == KK_E_TYPE, ch == KK_E_TYPE);
        kk_preset_free(gp);
        preset_free(hp);
    }
    /* value: 12 / "12" / yes in the gate block: one reader, one verdict. */
    static const struct {
        const char *v;
        kk_code want;
    } V[] = {{"12", KK_OK}, {"\"12\"", KK_E_TYPE}, {"yes", KK_E_TYPE}, {"1e-3", KK_OK}};
    for (size_t i = 0; i < sizeof V / sizeof V[0]; i++) {
        char g[512], h[512];
        kk_err eg, eh;
        kk_preset *gp = NULL;
        preset *hp = NULL;
        snprintf(g, sizeof g, "name: p\nkind: smoke\ngate:\n  thresholds:\n"
                 "    - {arm: full, metric: recall, op: '>=', value: %s}\n", V[i].v);
        snprintf(h, sizeof h, HEAD ARMS "gate:\n  thresholds:\n"
                 "    - {arm: full, metric: recall, op: '>=', value: %s}\n", V[i].v);
        kk_err_clear(&eg);
        assert_int_equal(kk_preset_parse(g, strlen(g), "p.yaml", "p", 0, &gp, &eg), V[i].want);
        assert_int_equal(parse(h, &hp, &eh), V[i].want);
        if (V[i].want != KK_OK) {
            assert_string_equal(eg.where, eh.where);
            assert_string_equal(eg.msg, eh.msg);
            assert_int_equal(eg.col, eh.col);
        }
        kk_preset_free(gp);
        preset_free(hp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_preset_should_load_with_defaults_filled),
        cmocka_unit_test(unknown_keys_should_be_refused_where_they_stand),
        cmocka_unit_test(duplicate_keys_should_be_refused),
        cmocka_unit_test(wrong_types_should_name_the_value_and_the_type_allowed),
        cmocka_unit_test(values_out_of_range_should_be_refused_with_the_bounds),
        cmocka_unit_test(the_gate_block_should_be_checked_by_the_gates_reader_and_against_the_arms),
        cmocka_unit_test(anchors_aliases_and_tags_should_be_refused),
        cmocka_unit_test(nesting_deeper_than_32_should_be_refused_on_the_event_stream),
        cmocka_unit_test(files_over_64_kib_should_be_refused_before_parsing),
        cmocka_unit_test(env_placeholders_should_be_refused_where_none_is_declared),
        cmocka_unit_test(set_overrides_should_be_typed_and_bounded_and_name_the_flag),
        cmocka_unit_test(every_shipped_preset_should_validate),
        cmocka_unit_test(every_kind_default_should_satisfy_its_own_bounds),
        cmocka_unit_test(the_gate_and_the_harness_should_type_scalars_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
