/* Tests of engine/gguf: the fixture models, lookups and getters, the writer's
 * round trip. Corrupt files are in test_gguf_corrupt.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtype.h"
#include "gguf.h"
#include "test_util.h"

#define MODELS "models/"

static gguf_file *open_fixture(const char *rel)
{
    char path[2048];
    if (!tu_fixture(path, sizeof path, rel)) {
        fprintf(stderr, "SKIP: fixture %s not found (set KAKEYA_FIXTURES)\n", path);
        return NULL;
    }
    gguf_file *f = NULL;
    kk_err e;
    kk_err_clear(&e);
    kk_code c = gguf_open(&f, path, &e);
    if (c)
        kk_err_print(stderr, "open_fixture", &e);
    assert_int_equal(c, KK_OK);
    return f;
}

static int str_is(gguf_str s, const char *z)
{
    return s.len == strlen(z) && memcmp(s.s, z, s.len) == 0;
}

/* Each fixture: the counts, alignment, and every tensor inside the file. */
static void check_fixture(const char *rel, uint64_t n_kv, uint64_t n_tensors, const char *arch)
{
    char path[2048];
    if (!tu_fixture(path, sizeof path, rel)) {
        fprintf(stderr, "SKIP: fixture %s not found (set KAKEYA_FIXTURES)\n", path);
        skip();
    }
    gguf_file *f = open_fixture(rel);
    assert_non_null(f);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, n_kv);
    assert_int_equal(f->n_tensors, n_tensors);
    assert_int_equal(f->alignment, 32);
    assert_int_equal(f->data_offset % 32, 0);
    gguf_str s;
    kk_err e;
    assert_int_equal(gguf_get_str(f, "general.architecture", &s, &e), KK_OK);
    assert_true(str_is(s, arch));
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        assert_true(t->data >= f->map.data + f->data_offset);
        assert_true(t->data + t->n_bytes <= f->map.data + f->map.size);
        assert_int_equal(t->n_bytes, dtype_row_size(t->type, t->ne[0]) * t->ne[1] * t->ne[2] * t->ne[3]);
        char name[256];
        gguf_str_copy(t->name, name, sizeof name);
        assert_int_equal(gguf_find_tensor(f, name), (int64_t)i);
        assert_ptr_equal(gguf_get_tensor(f, name), t);
    }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        char key[256];
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        assert_int_equal(gguf_find_key(f, key), (int64_t)i);
    }
    gguf_close(f);
}

static void fixture_stories260K_should_open_with_all_tensors_in_bounds(void **state)
{
    (void)state;
    check_fixture(MODELS "stories260K.gguf", 19, 48, "llama");
}

static void fixture_stories260K_q8_0_should_open_with_all_tensors_in_bounds(void **state)
{
    (void)state;
    check_fixture(MODELS "stories260K-q8_0.gguf", 21, 48, "llama");
}

static void fixture_rand_qwen3_a_should_open_with_all_tensors_in_bounds(void **state)
{
    (void)state;
    check_fixture(MODELS "rand-qwen3-a.gguf", 21, 25, "qwen3");
}

static void fixture_rand_qwen3_wide_should_open_with_all_tensors_in_bounds(void **state)
{
    (void)state;
    check_fixture(MODELS "rand-qwen3-wide.gguf", 21, 25, "qwen3");
}

static void getters_should_read_stories260K_hyperparameters(void **state)
{
    (void)state;
    char path[2048];
    TU_REQUIRE_FIXTURE(path, MODELS "stories260K.gguf");
    gguf_file *f = open_fixture(MODELS "stories260K.gguf");
    kk_err e;
    uint32_t u;
    uint64_t u64;
    float x;
    assert_int_equal(gguf_get_u32(f, "llama.embedding_length", &u, &e), KK_OK);
    assert_int_equal(u, 64);
    assert_int_equal(gguf_get_u64(f, "llama.block_count", &u64, &e), KK_OK);
    assert_int_equal(u64, 5);
    assert_int_equal(gguf_get_u32(f, "llama.feed_forward_length", &u, &e), KK_OK);
    assert_int_equal(u, 172);
    /* 0xFFFFFFFF ("none" for llama.cpp) reads back as is. */
    assert_int_equal(gguf_get_u32(f, "tokenizer.ggml.padding_token_id", &u, &e), KK_OK);
    assert_int_equal(u, 0xFFFFFFFFu);
    assert_int_equal(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &x, &e), KK_OK);
    assert_true(x == 1e-5f);
    /* Absent, wrong type: located errors. */
    assert_int_equal(gguf_get_f32(f, "llama.rope.freq_base", &x, &e), KK_E_MISSING);
    assert_string_equal(e.where, "llama.rope.freq_base");
    assert_non_null(strstr(e.file, "stories260K.gguf"));
    assert_int_equal(gguf_get_u32(f, "general.architecture", &u, &e), KK_E_TYPE);
    assert_string_equal(e.where, "general.architecture");
    assert_true(e.offset > 0);
    bool b;
    assert_int_equal(gguf_get_bool(f, "llama.block_count", &b, &e), KK_E_TYPE);
    gguf_str s;
    assert_int_equal(gguf_get_str(f, "llama.block_count", &s, &e), KK_E_TYPE);
    /* Arrays: the vocabulary. */
    const gguf_value *tok = gguf_get(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->type, GGUF_TYPE_ARRAY);
    assert_int_equal(tok->v.arr.elem_type, GGUF_TYPE_STRING);
    assert_int_equal(tok->v.arr.n, 512);
    assert_true(str_is(tok->v.arr.items[1].v.str, "<s>"));
    const gguf_value *sc = gguf_get(f, "tokenizer.ggml.scores");
    assert_int_equal(sc->v.arr.elem_type, GGUF_TYPE_FLOAT32);
    assert_true(isfinite(gguf_arr_f32(sc, 511)));
    assert_true(gguf_arr_f32(sc, 512) == 0.0f); /* out of range: 0 */
    const gguf_value *tt = gguf_get(f, "tokenizer.ggml.token_type");
    assert_int_equal(tt->v.arr.elem_type, GGUF_TYPE_INT32);
    assert_int_equal(gguf_arr_i32(tt, 0), 2); /* <unk>: UNKNOWN */
    assert_int_equal(gguf_arr_i32(tt, 1), 3); /* <s>: CONTROL */
    assert_null(gguf_get(f, "no.such.key"));
    assert_int_equal(gguf_find_key(f, "no.such.key"), -1);
    assert_int_equal(gguf_find_tensor(f, "no.such.tensor"), -1);
    assert_null(gguf_get_tensor(f, "no.such.tensor"));
    const gguf_tensor *emb = gguf_get_tensor(f, "token_embd.weight");
    assert_non_null(emb);
    assert_int_equal(emb->n_dims, 2);
    assert_int_equal(emb->ne[0], 64);
    assert_int_equal(emb->ne[1], 512);
    assert_int_equal(emb->type, DTYPE_F32);
    gguf_close(f);
}

/* The Q8_0 file was made by llama.cpp's quantizer (quantize_row_q8_0_ref per
 * row) from the F32 file: re-quantizing the F32 weights must give the same
 * bytes, and the F16 ffn_down tensors the same halves (RNE). */
static void q8_0_fixture_should_match_requantized_f32_fixture_bit_exactly(void **state)
{
    (void)state;
    char p1[2048], p2[2048];
    TU_REQUIRE_FIXTURE(p1, MODELS "stories260K.gguf");
    TU_REQUIRE_FIXTURE(p2, MODELS "stories260K-q8_0.gguf");
    gguf_file *f32 = open_fixture(MODELS "stories260K.gguf");
    gguf_file *q8 = open_fixture(MODELS "stories260K-q8_0.gguf");
    int n_q8 = 0, n_f16 = 0;
    for (uint64_t i = 0; i < q8->n_tensors; i++) {
        const gguf_tensor *tq = &q8->tensors[i];
        char name[256];
        gguf_str_copy(tq->name, name, sizeof name);
        const gguf_tensor *tf = gguf_get_tensor(f32, name);
        assert_non_null(tf);
        assert_int_equal(tf->type, DTYPE_F32);
        assert_int_equal(tf->n_elements, tq->n_elements);
        float *x = malloc(tf->n_bytes);
        memcpy(x, tf->data, tf->n_bytes);
        uint8_t *mine = malloc(tq->n_bytes);
        if (tq->type == DTYPE_Q8_0) {
            for (uint64_t r = 0; r < tq->n_elements / tq->ne[0]; r++)
                dtype_quantize_row_q8_0_ref(x + r * tq->ne[0],
                                            (dtype_block_q8_0 *)(mine + r * dtype_row_size(DTYPE_Q8_0, tq->ne[0])),
                                            tq->ne[0]);
            n_q8++;
        } else if (tq->type == DTYPE_F16) {
            for (uint64_t k = 0; k < tq->n_elements; k++) {
                uint16_t h = dtype_f32_to_f16(x[k]);
                memcpy(mine + 2 * k, &h, 2);
            }
            n_f16++;
        } else {
            assert_int_equal(tq->type, DTYPE_F32);
            memcpy(mine, x, tq->n_bytes);
        }
        assert_memory_equal(mine, tq->data, tq->n_bytes);
        /* And dequantized rows stay near the originals: |err| <= d/2 from
         * rounding plus 127 * |d - f16(d)| <= 127 * d * 2^-11 from the F16
         * scale, so 0.6 * d with d = amax / 127 per block. */
        if (tq->type == DTYPE_Q8_0) {
            float *y = malloc(tq->ne[0] * sizeof(float));
            size_t rs = dtype_row_size(DTYPE_Q8_0, tq->ne[0]);
            for (uint64_t r = 0; r < tq->n_elements / tq->ne[0]; r++) {
                dtype_to_f32_row(DTYPE_Q8_0, tq->data + r * rs, y, tq->ne[0]);
                for (uint64_t b = 0; b < tq->ne[0] / 32; b++) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++)
                        amax = fmaxf(amax, fabsf(x[r * tq->ne[0] + b * 32 + j]));
                    for (int j = 0; j < 32; j++)
                        assert_true(fabsf(y[b * 32 + j] - x[r * tq->ne[0] + b * 32 + j]) <=
                                    0.6f * amax / 127);
                }
            }
            free(y);
        }
        free(x);
        free(mine);
    }
    assert_int_equal(n_f16, 5);
    assert_true(n_q8 > 0);
    gguf_close(f32);
    gguf_close(q8);
}

static void open_should_report_a_missing_file_as_io_error(void **state)
{
    (void)state;
    gguf_file *f = (gguf_file *)1;
    kk_err e;
    assert_int_equal(gguf_open(&f, "/nonexistent/x.gguf", &e), KK_E_IO);
    assert_null(f);
    assert_string_equal(e.file, "/nonexistent/x.gguf");
    gguf_close(NULL);
}

static void utf8_check_should_reject_overlongs_surrogates_and_truncation(void **state)
{
    (void)state;
    assert_int_equal(gguf_utf8_check("abc", 3), 3);
    assert_int_equal(gguf_utf8_check("\xc3\xa9", 2), 2);          /* e acute */
    assert_int_equal(gguf_utf8_check("\xf0\x9f\x98\x80", 4), 4);  /* emoji */
    assert_int_equal(gguf_utf8_check("a\xff", 2), 1);
    assert_int_equal(gguf_utf8_check("\xc0\xaf", 2), 0);          /* overlong '/' */
    assert_int_equal(gguf_utf8_check("\xed\xa0\x80", 3), 0);      /* surrogate */
    assert_int_equal(gguf_utf8_check("\xf4\x90\x80\x80", 4), 0);  /* > U+10FFFF */
    assert_int_equal(gguf_utf8_check("x\xe2\x82", 3), 1);         /* cut short */
    assert_int_equal(gguf_utf8_check("\x80", 1), 0);              /* lone continuation */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixture_stories260K_should_open_with_all_tensors_in_bounds),
        cmocka_unit_test(fixture_stories260K_q8_0_should_open_with_all_tensors_in_bounds),
        cmocka_unit_test(fixture_rand_qwen3_a_should_open_with_all_tensors_in_bounds),
        cmocka_unit_test(fixture_rand_qwen3_wide_should_open_with_all_tensors_in_bounds),
        cmocka_unit_test(getters_should_read_stories260K_hyperparameters),
        cmocka_unit_test(q8_0_fixture_should_match_requantized_f32_fixture_bit_exactly),
        cmocka_unit_test(open_should_report_a_missing_file_as_io_error),
        cmocka_unit_test(utf8_check_should_reject_overlongs_surrogates_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
