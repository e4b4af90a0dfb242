/* The engine_bench kind (harness/run_engine_bench.c) and the bench model
 * generator (bench/lib/bench_model.c): the shipped preset validates, its
 * checks refuse what they must with a location, a missing llama.cpp driver
 * is refused with a message naming the path and how to build it, and a
 * tiny run of kakeya's arms (bench:tiny, a few MB; never the 134M model
 * here) writes evidence the schema accepts, with the scalar control arm
 * marked by the level its child actually ran. No timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_model.h"
#include "kind.h"
#include "kk_file.h"
#include "preset.h"
#include "run_engine_bench.h"
#include "test_proc.h"
#include "test_util.h"

static char g_bin[PATH_MAX], g_gate[PATH_MAX], g_root[PATH_MAX], g_tmp[PATH_MAX];

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kk_eb") != 0)
        return -1;
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    /* Bench models of this test go to its own folder, never the user's cache. */
    char cache[PATH_MAX + 16];
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    return setenv("KAKEYA_CACHE", cache, 1);
}

static preset *load_shipped(void)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/presets", g_root);
    preset *p = NULL;
    kk_err e;
    if (preset_load(dir, "engine-bench", &p, &e) != KK_OK)
        fprintf(stderr, "%s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
    assert_non_null(p);
    return p;
}

static void the_shipped_preset_should_validate_with_twelve_cells_and_a_scalar_control(void **state)
{
    (void)state;
    preset *p = load_shipped();
    assert_string_equal(p->kind->name, "engine_bench");
    assert_true(p->kind->available);
    assert_int_equal(p->n_arms, 13);
    int scalar = 0, llama = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        const char *isa = preset_arm_field(p, &p->arms[a], "isa")->s;
        const char *eng = preset_arm_field(p, &p->arms[a], "engine")->s;
        scalar += !strcmp(isa, "scalar");
        llama += !strcmp(eng, "llama.cpp");
        if (!strcmp(isa, "scalar"))
            assert_string_equal(eng, "kakeya");
    }
    assert_int_equal(scalar, 1);
    assert_int_equal(llama, 6);
    assert_true(p->src->has_positive && p->src->has_negative);
    preset_free(p);
}

static kk_code parse_text(const char *text, kk_err *e)
{
    preset *p = NULL;
    kk_code c = preset_parse(text, strlen(text), "p.yaml", "p", &p, e);
    preset_free(p);
    return c;
}

static void a_scalar_llama_cpp_arm_and_a_foreign_model_should_be_refused_with_a_location(void **state)
{
    (void)state;
    kk_err e;
    kk_code c = parse_text("name: p\nkind: engine_bench\ndescription: x\narms:\n"
                           "  - {name: a, engine: kakeya}\n"
                           "  - {name: b, engine: llama.cpp, isa: scalar}\n"
                           "gate:\n  thresholds: []\n", &e);
    assert_int_equal(c, KK_E_RANGE);
    assert_non_null(strstr(e.msg, "isa \"scalar\" on a llama.cpp arm"));
    assert_string_equal(e.where, "arms[1].isa");
    assert_int_equal(e.line, 6);
    c = parse_text("name: p\nkind: engine_bench\ndescription: x\n"
                   "params:\n  model: {type: string, default: \"synth:niah\"}\n"
                   "arms:\n  - {name: a, engine: kakeya}\ngate:\n  thresholds: []\n", &e);
    assert_int_equal(c, KK_E_RANGE);
    assert_non_null(strstr(e.msg, "allowed: bench:llama134m, bench:tiny"));
    assert_string_equal(e.where, "model");
}

static void a_missing_llama_cpp_driver_should_be_refused_naming_the_path_and_the_make_target(
    void **state)
{
    (void)state;
    char path[PATH_MAX + 64];
    kk_err e;
    assert_int_equal(run_engine_bench_driver(g_tmp, path, sizeof path, &e), KK_E_MISSING);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/build/bench/llamacpp_bench", g_tmp);
    assert_string_equal(path, want);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, "make bench-driver"));
    assert_non_null(strstr(e.msg, "make refengine"));
    assert_non_null(strstr(e.msg, "--set engines=kakeya"));
}

static void the_prompt_should_be_bench_engines_ids_and_names_should_be_stable(void **state)
{
    (void)state;
    /* bench/bench_engine.c's prompt: LCG from seed 14, ids 259..31999. */
    int32_t ids[4];
    bench_model_prompt(ids, 4, 32000);
    assert_int_equal(ids[0], 21521);
    assert_int_equal(ids[1], 1633);
    assert_int_equal(ids[2], 29720);
    assert_int_equal(ids[3], 8467);
    char p[256];
    assert_int_equal(bench_model_path(p, sizeof p, "/c", "llama134m", DTYPE_Q8_0, NULL), KK_OK);
    assert_string_equal(p, "/c/bench-llama134m-s14-q8_0.gguf");
    kk_err e;
    assert_int_equal(bench_model_path(p, sizeof p, "/c", "huge", DTYPE_F32, &e), KK_E_RANGE);
    /* the synthetic copy models: a synth_cfg, not a model_random_cfg */
    assert_int_equal(bench_model_path(p, sizeof p, "/c", "copy134m", DTYPE_Q8_0, NULL), KK_OK);
    assert_string_equal(p, "/c/bench-copy134m-s14-q8_0.gguf");
    synth_cfg sc;
    assert_true(bench_model_is_synth("copy") && !bench_model_is_synth("tiny"));
    assert_int_equal(bench_model_synth_shape("copy134m", &sc, &e), KK_OK);
    assert_int_equal(sc.mode, SYNTH_MODE_COPY);
    assert_true(sc.ballast_scale > 0.0f);
    /* as many parameters as llama134m: embeddings, 2 layers, output */
    const int64_t d = sc.n_embd, ff = sc.n_ff, v = SYNTH_N_VOCAB;
    const int64_t attn = (int64_t)sc.n_heads * sc.head_dim;
    const int64_t params = 2 * v * d + d + 2 * (4 * d * attn + 3 * d * ff + 2 * d);
    assert_true(params > 133000000 && params < 135000000);
    assert_int_equal(bench_model_synth_shape("llama134m", &sc, &e), KK_E_RANGE);
    assert_int_equal(bench_model_path(p, sizeof p, "/c", "tiny", DTYPE_BF16, &e), KK_E_RANGE);
}

static void a_bench_model_on_disk_should_be_reused_never_rewritten(void **state)
{
    (void)state;
    char dir[PATH_MAX + 16], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/reuse", g_tmp);
    assert_int_equal(kk_mkdir_p(dir, NULL), KK_OK);
    assert_int_equal(bench_model_path(path, sizeof path, dir, "tiny", DTYPE_F16, NULL), KK_OK);
    assert_int_equal(kk_file_write_atomic(path, "placeholder", 11, NULL), KK_OK);
    char got[PATH_MAX + 64];
    int written = -1;
    kk_err e;
    assert_int_equal(bench_model_ensure(dir, "tiny", DTYPE_F16, got, sizeof got, &written, &e),
                     KK_OK);
    assert_string_equal(got, path);
    assert_int_equal(written, 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(path, &data, &len, NULL), KK_OK);
    assert_int_equal(len, 11);
    free(data);
    /* Absent: written, F32 first, then converted (F16 rows of 2 bytes). */
    assert_int_equal(bench_model_ensure(dir, "tiny", DTYPE_Q8_0, got, sizeof got, &written, &e),
                     KK_OK);
    assert_int_equal(written, 1);
    char f32[PATH_MAX + 64];
    assert_int_equal(bench_model_path(f32, sizeof f32, dir, "tiny", DTYPE_F32, NULL), KK_OK);
    assert_int_equal(access(f32, R_OK), 0);
    assert_int_equal(access(got, R_OK), 0);
}

static int find_json(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json")) {
            snprintf(buf, cap, "%s/%s", dir, e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(v);
    return v;
}

/* `kakeya run engine-bench` on bench:tiny, kakeya's q8_0 1-thread cell,
 * into out; @return the parsed evidence. */
static cJSON *tiny_run(const char *out, const char *jobs)
{
    const char *args[] = {"run", "engine-bench", "--set", "model=bench:tiny", "--set",
                          "types=q8_0", "--set", "threads=1", "--set", "engines=kakeya",
                          "--jobs", jobs, "--out", out, "--quiet", NULL};
    TP_REQUIRE_PROGRAM(g_bin);
    tp_run r = tp_run_prog(NULL, g_bin, args);
    if (r.code != 0)
        fprintf(stderr, "%s", r.err);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    char dir[PATH_MAX + 32], file[PATH_MAX + 320];
    snprintf(dir, sizeof dir, "%s/engine-bench", out);
    assert_true(find_json(dir, file, sizeof file));
    const char *vargs[] = {"validate", "--schema", "", file, NULL};
    char schema[PATH_MAX + 64];
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    vargs[2] = schema;
    TP_REQUIRE_PROGRAM(g_gate);
    r = tp_run_prog(NULL, g_gate, vargs);
    if (r.code != 0)
        fprintf(stderr, "%s%s", r.out, r.err);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(file, &text, &len, NULL), KK_OK);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    assert_non_null(doc);
    return doc;
}

static void a_tiny_kakeya_run_should_write_schema_valid_evidence_with_the_control_marked(
    void **state)
{
    (void)state;
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/ev1", g_tmp);
    cJSON *doc = tiny_run(out, "2");
    /* Timed processes run one at a time whatever --jobs asked. */
    assert_int_equal((int)get(get(doc, "provenance"), "jobs")->valuedouble, 1);
    const cJSON *arms = get(doc, "arms");
    assert_int_equal(cJSON_GetArraySize(arms), 2);
    const cJSON *a;
    int seen_scalar = 0;
    cJSON_ArrayForEach(a, arms) {
        const char *name = get(a, "name")->valuestring;
        const int scalar = strstr(name, "scalar") != NULL;
        seen_scalar += scalar;
        assert_string_equal(get(get(a, "config"), "isa")->valuestring, scalar ? "scalar" : "best");
        /* The level the child reported running, not the configuration. */
        const char *ran = get(get(get(a, "signals"), "engine"), "isa")->valuestring;
        if (scalar)
            assert_string_equal(ran, "scalar");
        else
            assert_true(strlen(ran) > 0);
        const cJSON *tm = get(a, "timings");
        assert_string_equal(get(tm, "scope")->valuestring, "prefill+decode+verify");
        assert_int_equal(cJSON_GetArraySize(get(tm, "repeats")), 5);
        assert_int_equal((int)get(tm, "tokens_decoded")->valuedouble, RUN_EB_DECODE);
        const cJSON *rep;
        cJSON_ArrayForEach(rep, get(tm, "repeats")) {
            assert_true(get(rep, "decode_tok_per_s")->valuedouble > 0);
            assert_true(get(rep, "verify8_per_decode_step")->valuedouble > 0);
            /* the first-token process ran (kakeya generate, exec'd) and
             * its speed is the inverse of its time */
            const double ttft = get(rep, "ttft_s")->valuedouble;
            assert_true(ttft > 0);
            assert_true(fabs(get(rep, "first_tokens_per_s")->valuedouble * ttft - 1.0) < 1e-9);
        }
        const cJSON *mem = get(get(a, "signals"), "memory");
        assert_true(get(mem, "peak_rss")->valuedouble > 0);
        assert_string_equal(get(mem, "peak_rss_unit")->valuestring, "bytes");
        assert_int_equal(cJSON_GetArraySize(get(get(a, "signals"), "fallbacks_taken")), 0);
        /* metrics: deterministic only, no wall clock */
        const cJSON *m = get(a, "metrics"), *k;
        cJSON_ArrayForEach(k, m) {
            assert_null(strstr(k->string, "_s"));
            assert_null(strstr(k->string, "per_s"));
        }
        assert_true(get(m, "n_params")->valuedouble > 4e6);
        assert_int_equal((int)get(m, "tokens_prefill")->valuedouble, RUN_EB_PROMPT);
    }
    assert_int_equal(seen_scalar, 1);
    const cJSON *mo = cJSON_GetArrayItem(get(doc, "models"), 0);
    assert_false(cJSON_IsTrue(get(mo, "trained")));
    assert_non_null(strstr(get(mo, "source")->valuestring, "bench-tiny-s14-q8_0.gguf"));
    /* metrics are the same in a second run (model, protocol and preset fix them) */
    char out2[PATH_MAX + 16];
    snprintf(out2, sizeof out2, "%s/ev2", g_tmp);
    cJSON *doc2 = tiny_run(out2, "1");
    for (int i = 0; i < 2; i++) {
        char *m1 = cJSON_PrintUnformatted(get(cJSON_GetArrayItem(get(doc, "arms"), i), "metrics"));
        char *m2 = cJSON_PrintUnformatted(get(cJSON_GetArrayItem(get(doc2, "arms"), i), "metrics"));
        assert_string_equal(m1, m2);
        free(m1);
        free(m2);
    }
    cJSON_Delete(doc);
    cJSON_Delete(doc2);
}

static void a_selection_that_leaves_no_arm_should_be_exit_2(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    const char *args[] = {"run", "engine-bench", "--set", "model=bench:tiny", "--set",
                          "types=f32", "--set", "engines=kakeya", "--set", "threads=1",
                          "--shard", "2/2", "--out", g_tmp, "--quiet", NULL};
    /* shard 2 of the f32/1t/kakeya selection holds no arm (kakeya-f32-1t is arm 0) */
    tp_run r = tp_run_prog(NULL, g_bin, args);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "no arm of preset engine-bench"));
    tp_run_free(&r);
    const char *bad[] = {"run", "engine-bench", "--set", "model=bench:huge", "--out", g_tmp,
                         "--quiet", NULL};
    r = tp_run_prog(NULL, g_bin, bad);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "bench:llama134m, bench:tiny"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_shipped_preset_should_validate_with_twelve_cells_and_a_scalar_control),
        cmocka_unit_test(a_scalar_llama_cpp_arm_and_a_foreign_model_should_be_refused_with_a_location),
        cmocka_unit_test(a_missing_llama_cpp_driver_should_be_refused_naming_the_path_and_the_make_target),
        cmocka_unit_test(the_prompt_should_be_bench_engines_ids_and_names_should_be_stable),
        cmocka_unit_test(a_bench_model_on_disk_should_be_reused_never_rewritten),
        cmocka_unit_test(a_tiny_kakeya_run_should_write_schema_valid_evidence_with_the_control_marked),
        cmocka_unit_test(a_selection_that_leaves_no_arm_should_be_exit_2),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
