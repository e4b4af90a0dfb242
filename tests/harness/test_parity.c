/* Agreement with llama.cpp on the shared fixture models
 * (../shared/fixtures/models/README.md): teacher-forced greedy ids and
 * logits of the *.ref.json files. Lives in tests/harness because it reads
 * the references with cJSON, which only the harness group links. Skips
 * with a message when the fixtures are absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kk_file.h"
#include "model.h"
#include "sample.h"
#include "test_util.h"
#include "tokenizer.h"

/* F32 weights and K/V: the README's float64 engine agrees to 1e-5, and
 * asks a correct F32 engine for 1e-3 (float rounding over 5 layers,
 * orders of magnitude below that). */
#define PARITY_F32_TOL 1e-3

/* Q8_0 weights, OPS_ACT_F32: llama.cpp quantizes activations to 8 bits
 * inside its Q8_0 products, this mode keeps them F32 (weights dequantized
 * exactly). The README
 * measured such an engine at up to 0.22 and 62-64/64 greedy ids
 * teacher-forced; we measured 0.205 and 0.222 (once, park) with 64/64 and
 * 62/64. The bound leaves 35% above the largest measured difference; an
 * error in the dequantization itself (a wrong scale, a shifted block)
 * moves logits by whole units. */
#define PARITY_Q8_0_TOL 0.3
#define PARITY_Q8_0_MIN_AGREE 62
/* Where ids differ, the two candidates must be a near-tie in our logits:
 * within twice the logit tolerance (both may move by PARITY_Q8_0_TOL). */
#define PARITY_Q8_0_MAX_TIE_MARGIN (2 * PARITY_Q8_0_TOL)

typedef struct parity_result {
    double max_diff;        /* over logits_first_steps */
    int agree, n;           /* teacher-forced greedy ids */
    double min_margin;      /* where ids differ: our top logit minus our logit
                               of the reference's id, smallest */
    double max_margin;      /* largest of those (must stay a near-tie) */
} parity_result;

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    kk_err e;
    if (kk_file_read_all(path, &text, &len, &e) != KK_OK)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    return j;
}

static int32_t *json_ids(const cJSON *arr, size_t *n)
{
    *n = (size_t)cJSON_GetArraySize(arr);
    int32_t *ids = malloc((*n ? *n : 1) * sizeof *ids);
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) ids[i++] = (int32_t)it->valuedouble;
    return ids;
}

/* Run one case teacher-forced: prompt + reference greedy ids in one call,
 * logits of every position. */
static void run_case(const model *m, const tok *t, const cJSON *c, parity_result *r)
{
    size_t np, ng;
    int32_t *prompt = json_ids(cJSON_GetObjectItemCaseSensitive(c, "prompt_tokens"), &np);
    int32_t *greedy = json_ids(cJSON_GetObjectItemCaseSensitive(c, "greedy"), &ng);
    const cJSON *prompt_text = cJSON_GetObjectItemCaseSensitive(c, "prompt");
    /* our tokenizer gives the reference's prompt tokens */
    int32_t *ours = NULL;
    size_t n_ours = 0;
    kk_err e;
    assert_int_equal(tok_encode(t, prompt_text->valuestring, strlen(prompt_text->valuestring),
                                true, &ours, &n_ours, &e), KK_OK);
    assert_int_equal(n_ours, np);
    assert_memory_equal(ours, prompt, np * sizeof(int32_t));
    free(ours);

    const int64_t n = (int64_t)(np + ng), V = m->hp.n_vocab;
    int32_t *all = malloc((size_t)n * sizeof *all);
    memcpy(all, prompt, np * sizeof *all);
    memcpy(all + np, greedy, ng * sizeof *all);
    float *logits = malloc((size_t)(n * V) * sizeof(float));
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, n, 0};
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    assert_int_equal(kv_full_init(&kv, &cfg, &e), KK_OK);
    assert_int_equal(fwd_init(&st, m, 32, n, &e), KK_OK);
    assert_int_equal(fwd_run(st, kv, all, NULL, n, FWD_LOGITS_ALL, logits, NULL, &e), KK_OK);

    memset(r, 0, sizeof *r);
    r->min_margin = INFINITY;
    r->n = (int)ng;
    for (size_t i = 0; i < ng; i++) {
        const float *row = logits + (int64_t)(np - 1 + i) * V;
        int32_t top[2];
        float val[2];
        sample_top_k(row, V, 2, top, val);
        if (top[0] == greedy[i]) {
            r->agree++;
        } else {
            const double margin = (double)val[0] - (double)row[greedy[i]];
            r->min_margin = fmin(r->min_margin, margin);
            r->max_margin = fmax(r->max_margin, margin);
        }
    }
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(c, "logits_first_steps");
    int s = 0;
    const cJSON *step;
    cJSON_ArrayForEach(step, steps) {
        assert_int_equal(cJSON_GetArraySize(step), V);
        const float *row = logits + (int64_t)(np - 1 + (size_t)s) * V;
        int64_t j = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, step) {
            const double d = fabs((double)row[j++] - x->valuedouble);
            r->max_diff = fmax(r->max_diff, d);
        }
        s++;
    }
    fwd_free(st);
    kv_free(kv);
    free(logits);
    free(all);
    free(prompt);
    free(greedy);
}

/* Every case of `ref` whose kv_cache is `kv_type`, checked by `check`. */
static void run_fixture(const char *gguf_rel, const char *ref_rel, const char *kv_type,
                        ops_act act, void (*check)(const char *name, const parity_result *r))
{
    char gpath[2048], rpath[2048];
    TU_REQUIRE_FIXTURE(gpath, gguf_rel);
    TU_REQUIRE_FIXTURE(rpath, ref_rel);
    gguf_file *f = NULL;
    model *m = NULL;
    tok *t = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, gpath, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);
    model_set_act(m, act);
    assert_int_equal(tok_init_from_gguf(&t, f, &e), KK_OK);
    cJSON *ref = read_json(rpath);
    assert_non_null(ref);
    int ran = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ref, "cases")) {
        const cJSON *kv = cJSON_GetObjectItemCaseSensitive(c, "kv_cache");
        if (!cJSON_IsString(kv) || strcmp(kv->valuestring, kv_type) != 0)
            continue;
        parity_result r;
        run_case(m, t, c, &r);
        char name[160];
        snprintf(name, sizeof name, "%s %s%s",
                 strrchr(gguf_rel, '/') ? strrchr(gguf_rel, '/') + 1 : gguf_rel,
                 cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring,
                 act == OPS_ACT_GGML ? " (act ggml)" : "");
        fprintf(stderr, "parity %-34s max|dlogit| %.3g  greedy %d/%d", name, r.max_diff,
                r.agree, r.n);
        if (r.agree < r.n)
            fprintf(stderr, "  where ids differ, our top logit - the reference id's: %.4g..%.4g", r.min_margin,
                    r.max_margin);
        fputc('\n', stderr);
        check(name, &r);
        ran++;
    }
    assert_true(ran > 0);
    cJSON_Delete(ref);
    tok_free(t);
    model_free(m);
    gguf_close(f);
}

static void check_f32(const char *name, const parity_result *r)
{
    (void)name;
    assert_true(r->max_diff <= PARITY_F32_TOL);
    assert_int_equal(r->agree, r->n);
}

static void check_q8_0(const char *name, const parity_result *r)
{
    (void)name;
    assert_true(r->max_diff <= PARITY_Q8_0_TOL);
    assert_true(r->agree >= PARITY_Q8_0_MIN_AGREE);
    if (r->agree < r->n)
        assert_true(r->max_margin <= PARITY_Q8_0_MAX_TIE_MARGIN);
}

static void stories260k_should_agree_with_llama_cpp_within_1e_3(void **state)
{
    (void)state;
    run_fixture("models/stories260K.gguf", "models/stories260K.ref.json", "f32", OPS_ACT_F32,
                check_f32);
}

static void rand_qwen3_a_should_agree_with_llama_cpp_within_1e_3(void **state)
{
    (void)state;
    run_fixture("models/rand-qwen3-a.gguf", "models/rand-qwen3-a.ref.json", "f32", OPS_ACT_F32,
                check_f32);
}

static void rand_qwen3_wide_should_agree_with_llama_cpp_within_1e_3(void **state)
{
    (void)state;
    run_fixture("models/rand-qwen3-wide.gguf", "models/rand-qwen3-wide.ref.json", "f32",
                OPS_ACT_F32, check_f32);
}

static void stories260k_q8_0_should_agree_within_the_activation_quantization_gap(void **state)
{
    (void)state;
    run_fixture("models/stories260K-q8_0.gguf", "models/stories260K-q8_0.ref.json", "f32",
                OPS_ACT_F32, check_q8_0);
}

/* With activations rounded as llama.cpp rounds them (OPS_ACT_GGML: Q8_0
 * blocks for Q8_0 weights, F16 for the F16 ffn_down), the arithmetic is
 * llama.cpp's up to float summation order: measured 5.8e-6 and 6.6e-6,
 * 64/64, so the F32 bound applies. */
static void check_q8_0_ggml(const char *name, const parity_result *r)
{
    check_f32(name, r);
}

static void stories260k_q8_0_with_ggml_activations_should_agree_within_1e_3(void **state)
{
    (void)state;
    run_fixture("models/stories260K-q8_0.gguf", "models/stories260K-q8_0.ref.json", "f32",
                OPS_ACT_GGML, check_q8_0_ggml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stories260k_should_agree_with_llama_cpp_within_1e_3),
        cmocka_unit_test(rand_qwen3_a_should_agree_with_llama_cpp_within_1e_3),
        cmocka_unit_test(rand_qwen3_wide_should_agree_with_llama_cpp_within_1e_3),
        cmocka_unit_test(stories260k_q8_0_should_agree_within_the_activation_quantization_gap),
        cmocka_unit_test(stories260k_q8_0_with_ggml_activations_should_agree_within_1e_3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
