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

/* ---- writer ------------------------------------------------------------- */

/* Re-serialize a parsed file through the writer: every kv via set_value,
 * every tensor from its view. */
static gguf_writer *rewrite(const gguf_file *f)
{
    gguf_writer *w = gguf_writer_init(f->version, GGUF_DEFAULT_ALIGNMENT);
    assert_non_null(w);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        char key[GGUF_MAX_KEY_LEN + 1];
        gguf_str_copy(f->kv[i].key, key, sizeof key);
        assert_int_equal(gguf_writer_set_value(w, key, &f->kv[i].value), KK_OK);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[256];
        gguf_str_copy(t->name, name, sizeof name);
        kk_err e;
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                t->n_bytes, &e), KK_OK);
    }
    return w;
}

/* A writer holding one key of every type (nested arrays too) and one tensor
 * of every dtype, with shapes of 1..4 dims. */
static gguf_writer *every_type_writer(uint32_t version, uint64_t alignment)
{
    gguf_writer *w = gguf_writer_init(version, alignment);
    assert_non_null(w);
    gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = GGUF_TYPE_UINT8; v.v.u = 200;
    assert_int_equal(gguf_writer_set_value(w, "t.u8", &v), KK_OK);
    v.type = GGUF_TYPE_INT8; v.v.i = -100;
    assert_int_equal(gguf_writer_set_value(w, "t.i8", &v), KK_OK);
    v.type = GGUF_TYPE_UINT16; v.v.u = 60000;
    assert_int_equal(gguf_writer_set_value(w, "t.u16", &v), KK_OK);
    v.type = GGUF_TYPE_INT16; v.v.i = -30000;
    assert_int_equal(gguf_writer_set_value(w, "t.i16", &v), KK_OK);
    assert_int_equal(gguf_writer_set_u32(w, "t.u32", 4000000000u), KK_OK);
    assert_int_equal(gguf_writer_set_i32(w, "t.i32", -2000000000), KK_OK);
    assert_int_equal(gguf_writer_set_f32(w, "t.f32", 0.1f), KK_OK);
    assert_int_equal(gguf_writer_set_bool(w, "t.bool", true), KK_OK);
    assert_int_equal(gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo"), KK_OK);
    assert_int_equal(gguf_writer_set_u64(w, "t.u64", 18000000000000000000ull), KK_OK);
    v.type = GGUF_TYPE_INT64; v.v.i = INT64_MIN;
    assert_int_equal(gguf_writer_set_value(w, "t.i64", &v), KK_OK);
    assert_int_equal(gguf_writer_set_f64(w, "t.f64", -1e300), KK_OK);
    const char *strs[] = {"a", "", "\xe6\x97\xa5\xe6\x9c\xac"};
    assert_int_equal(gguf_writer_set_arr_str(w, "t.arr_str", strs, 3), KK_OK);
    const float fs[] = {1.5f, -0.0f, 3e38f};
    assert_int_equal(gguf_writer_set_arr_f32(w, "t.arr_f32", fs, 3), KK_OK);
    const int32_t is[] = {-1, 0, INT32_MAX};
    assert_int_equal(gguf_writer_set_arr_i32(w, "t.arr_i32", is, 3), KK_OK);
    assert_int_equal(gguf_writer_set_arr_i32(w, "t.arr_empty", NULL, 0), KK_OK);
    /* Nested: [[u16 x2], [], [["x"], ["y", "z"]]] as array of arrays. */
    uint8_t raw16[] = {1, 0, 2, 0};
    gguf_value inner_s[3], inner_a[2], outer[3];
    memset(inner_s, 0, sizeof inner_s);
    memset(inner_a, 0, sizeof inner_a);
    memset(outer, 0, sizeof outer);
    const char *xyz = "xyz";
    for (int i = 0; i < 3; i++) {
        inner_s[i].type = GGUF_TYPE_STRING;
        inner_s[i].v.str.s = xyz + i;
        inner_s[i].v.str.len = 1;
    }
    inner_a[0].type = GGUF_TYPE_ARRAY;
    inner_a[0].v.arr.elem_type = GGUF_TYPE_STRING;
    inner_a[0].v.arr.n = 1;
    inner_a[0].v.arr.items = &inner_s[0];
    inner_a[1] = inner_a[0];
    inner_a[1].v.arr.n = 2;
    inner_a[1].v.arr.items = &inner_s[1];
    outer[0].type = GGUF_TYPE_ARRAY;
    outer[0].v.arr.elem_type = GGUF_TYPE_UINT16;
    outer[0].v.arr.n = 2;
    outer[0].v.arr.raw = raw16;
    outer[1].type = GGUF_TYPE_ARRAY;
    outer[1].v.arr.elem_type = GGUF_TYPE_BOOL;
    outer[2].type = GGUF_TYPE_ARRAY;
    outer[2].v.arr.elem_type = GGUF_TYPE_ARRAY;
    outer[2].v.arr.n = 2;
    outer[2].v.arr.items = inner_a;
    v.type = GGUF_TYPE_ARRAY;
    v.v.arr.elem_type = GGUF_TYPE_ARRAY;
    v.v.arr.n = 3;
    v.v.arr.items = outer;
    v.v.arr.raw = NULL;
    assert_int_equal(gguf_writer_set_value(w, "t.nested", &v), KK_OK);
    /* Tensors: every dtype; data from a fixed pattern. */
    static uint8_t data[4 * 64 * 3 * 2 * 2];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    struct { const char *name; dtype_t type; uint32_t n_dims; uint64_t ne[4]; } ts[] = {
        {"w.f32", DTYPE_F32, 1, {5, 1, 1, 1}},
        {"w.f16", DTYPE_F16, 2, {3, 7, 1, 1}},
        {"w.bf16", DTYPE_BF16, 3, {2, 3, 4, 1}},
        {"w.q8_0", DTYPE_Q8_0, 4, {64, 3, 2, 2}},
        {"w.q4_0", DTYPE_Q4_0, 2, {32, 5, 1, 1}},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        uint64_t nb = dtype_row_size(ts[i].type, ts[i].ne[0]) * ts[i].ne[1] * ts[i].ne[2] * ts[i].ne[3];
        assert_true(nb <= sizeof data);
        kk_err e;
        assert_int_equal(gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne,
                                                data, nb, &e), KK_OK);
    }
    return w;
}

static void writer_round_trip_should_keep_every_value_and_tensor_byte_identical(void **state)
{
    (void)state;
    uint32_t versions[] = {3, 2, 3};
    uint64_t aligns[] = {32, 32, 64};
    for (int k = 0; k < 3; k++) {
        gguf_writer *w = every_type_writer(versions[k], aligns[k]);
        uint8_t *buf;
        size_t len;
        kk_err e;
        assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
        gguf_file *f;
        kk_code c = gguf_parse_buffer(&f, buf, len, "every-type", &e);
        if (c)
            kk_err_print(stderr, "round trip", &e);
        assert_int_equal(c, KK_OK);
        assert_int_equal(f->version, versions[k]);
        assert_int_equal(f->alignment, aligns[k]);
        assert_int_equal(f->n_tensors, 5);
        /* Spot values. */
        assert_int_equal(gguf_get(f, "t.u8")->v.u, 200);
        assert_int_equal(gguf_get(f, "t.i8")->v.i, -100);
        assert_int_equal(gguf_get(f, "t.i16")->v.i, -30000);
        assert_int_equal(gguf_get(f, "t.i64")->v.i, INT64_MIN);
        assert_true(gguf_get(f, "t.u64")->v.u == 18000000000000000000ull);
        assert_true(gguf_get(f, "t.f64")->v.f == -1e300);
        float x;
        assert_int_equal(gguf_get_f32(f, "t.f32", &x, &e), KK_OK);
        assert_true(x == 0.1f);
        uint32_t u;
        assert_int_equal(gguf_get_u32(f, "t.i32", &u, &e), KK_E_RANGE);
        assert_int_equal(gguf_get_u32(f, "t.u64", &u, &e), KK_E_RANGE);
        assert_int_equal(gguf_get_u32(f, "t.u16", &u, &e), KK_OK);
        assert_int_equal(u, 60000);
        const gguf_value *n = gguf_get(f, "t.nested");
        assert_int_equal(n->v.arr.n, 3);
        assert_int_equal(n->v.arr.items[0].v.arr.elem_type, GGUF_TYPE_UINT16);
        assert_int_equal(n->v.arr.items[1].v.arr.n, 0);
        assert_true(str_is(n->v.arr.items[2].v.arr.items[1].v.arr.items[1].v.str, "z"));
        assert_int_equal(gguf_arr_i32(gguf_get(f, "t.arr_i32"), 2), INT32_MAX);
        assert_true(gguf_arr_f32(gguf_get(f, "t.arr_f32"), 2) == 3e38f);
        /* Byte identity: writing the parsed file again gives the same bytes. */
        gguf_writer *w2 = gguf_writer_init(f->version, GGUF_DEFAULT_ALIGNMENT);
        for (uint64_t i = 0; i < f->n_kv; i++) {
            char key[256];
            gguf_str_copy(f->kv[i].key, key, sizeof key);
            assert_int_equal(gguf_writer_set_value(w2, key, &f->kv[i].value), KK_OK);
        }
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            const gguf_tensor *t = &f->tensors[i];
            char name[256];
            gguf_str_copy(t->name, name, sizeof name);
            assert_int_equal(gguf_writer_add_tensor(w2, name, t->type, t->n_dims, t->ne, t->data,
                                                    t->n_bytes, &e), KK_OK);
        }
        uint8_t *buf2;
        size_t len2;
        assert_int_equal(gguf_writer_to_buffer(w2, &buf2, &len2, &e), KK_OK);
        assert_int_equal(len2, len);
        assert_memory_equal(buf2, buf, len);
        gguf_close(f);
        gguf_writer_free(w);
        gguf_writer_free(w2);
        free(buf);
        free(buf2);
    }
}

/* The fixtures were written by llama.cpp's gguf writer, whose layout is the
 * canonical one ours produces (kvs then infos in order, packed offsets, every
 * tensor padded): re-writing them from their parsed contents must give the
 * original file byte for byte. */
static void writer_should_reproduce_each_fixture_byte_for_byte(void **state)
{
    (void)state;
    const char *names[] = {"stories260K.gguf", "stories260K-q8_0.gguf", "rand-qwen3-a.gguf",
                           "rand-qwen3-wide.gguf"};
    int n_done = 0;
    for (int k = 0; k < 4; k++) {
        char rel[256], path[2048];
        snprintf(rel, sizeof rel, MODELS "%s", names[k]);
        if (!tu_fixture(path, sizeof path, rel))
            continue;
        gguf_file *f = open_fixture(rel);
        gguf_writer *w = rewrite(f);
        uint8_t *buf;
        size_t len;
        kk_err e;
        assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
        assert_int_equal(len, f->map.size);
        assert_memory_equal(buf, f->map.data, len);
        free(buf);
        gguf_writer_free(w);
        gguf_close(f);
        n_done++;
    }
    if (!n_done) {
        fprintf(stderr, "SKIP: no model fixtures found (set KAKEYA_FIXTURES)\n");
        skip();
    }
}

static void writer_write_should_create_a_file_that_opens(void **state)
{
    (void)state;
    char path[] = "/tmp/kk_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gguf_writer *w = every_type_writer(0, 0);
    kk_err e;
    assert_int_equal(gguf_writer_write(w, path, &e), KK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(&f, path, &e), KK_OK);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->map.size % 32, 0);
    const gguf_tensor *t = gguf_get_tensor(f, "w.q4_0");
    assert_non_null(t);
    assert_int_equal(t->n_bytes, 5 * 18);
    gguf_close(f);
    gguf_writer_free(w);
    unlink(path);
}

static void writer_should_refuse_what_the_reader_would_reject(void **state)
{
    (void)state;
    assert_null(gguf_writer_init(1, 32));
    assert_null(gguf_writer_init(3, 48));
    assert_null(gguf_writer_init(3, (uint64_t)GGUF_MAX_ALIGNMENT * 2));
    gguf_writer *w = gguf_writer_init(3, 32);
    kk_err e;
    uint64_t ne[4] = {32, 2, 1, 1};
    static uint8_t d[4096];
    assert_int_equal(gguf_writer_set_str(w, "bad.utf8", "a\xff"), KK_E_FORMAT);
    assert_int_equal(gguf_writer_set_u32(w, "", 1), KK_E_FORMAT);
    assert_int_equal(gguf_writer_set_u32(w, "bad\xc0\xaf", 1), KK_E_FORMAT);
    assert_int_equal(gguf_writer_set_u64(w, "general.alignment", 64), KK_E_TYPE);
    assert_int_equal(gguf_writer_set_u32(w, "general.alignment", 24), KK_E_RANGE);
    assert_int_equal(gguf_writer_set_u32(w, "general.alignment", 1u << 31), KK_E_RANGE);
    assert_int_equal(gguf_writer_add_tensor(w, "a", DTYPE_Q8_0, 2, ne, d, 68, &e), KK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "a", DTYPE_Q8_0, 2, ne, d, 68, &e), KK_E_DUPLICATE);
    assert_string_equal(e.where, "a");
    assert_int_equal(gguf_writer_add_tensor(w, "b", DTYPE_Q8_0, 2, ne, d, 67, &e), KK_E_RANGE);
    ne[0] = 31;
    assert_int_equal(gguf_writer_add_tensor(w, "c", DTYPE_Q8_0, 2, ne, d, 68, &e), KK_E_RANGE);
    assert_int_equal(gguf_writer_add_tensor(w, "c", DTYPE_F32, 0, ne, d, 0, &e), KK_E_RANGE);
    assert_int_equal(gguf_writer_add_tensor(w, "c", DTYPE_F32, 5, ne, d, 0, &e), KK_E_RANGE);
    assert_int_equal(gguf_writer_add_tensor(w, "c", (dtype_t)12, 2, ne, d, 0, &e), KK_E_UNSUPPORTED);
    /* Replacing a key keeps its place; setting alignment changes padding. */
    assert_int_equal(gguf_writer_set_u32(w, "k", 1), KK_OK);
    assert_int_equal(gguf_writer_set_u32(w, "general.alignment", 128), KK_OK);
    assert_int_equal(gguf_writer_set_str(w, "k", "two"), KK_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
    gguf_file *f;
    assert_int_equal(gguf_parse_buffer(&f, buf, len, "w", &e), KK_OK);
    assert_int_equal(f->n_kv, 2);
    assert_true(str_is(f->kv[0].key, "k"));
    assert_int_equal(f->kv[0].value.type, GGUF_TYPE_STRING);
    assert_int_equal(f->alignment, 128);
    assert_int_equal(f->data_offset % 128, 0);
    gguf_close(f);
    free(buf);
    gguf_writer_free(w);
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
        cmocka_unit_test(writer_round_trip_should_keep_every_value_and_tensor_byte_identical),
        cmocka_unit_test(writer_should_reproduce_each_fixture_byte_for_byte),
        cmocka_unit_test(writer_write_should_create_a_file_that_opens),
        cmocka_unit_test(writer_should_refuse_what_the_reader_would_reject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
