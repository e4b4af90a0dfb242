/* Tests of engine/model: hyperparameters from metadata (llama.cpp's keys and
 * defaults), tensor checks with located errors, and the random writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_random.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct loaded {
    uint8_t *buf;
    size_t len;
    gguf_file *f;
} loaded;

static void random_buffer(loaded *x, model_arch arch, bool tied)
{
    model_random_cfg c;
    model_random_defaults(&c);
    c.arch = arch;
    c.tied = tied;
    kk_err e;
    assert_int_equal(model_random_to_buffer(&c, &x->buf, &x->len, &e), KK_OK);
    assert_int_equal(gguf_parse_buffer(&x->f, x->buf, x->len, "random.gguf", &e), KK_OK);
}

static void loaded_close(loaded *x)
{
    gguf_close(x->f);
    free(x->buf);
    memset(x, 0, sizeof *x);
}

/* A copy of x without metadata key `drop` and tensor `drop_tensor` (either
 * may be NULL), with `set_str_key` = `set_str_val` when given, parsed as
 * "edited.gguf". */
static void rewrite(loaded *x, const char *drop, const char *drop_tensor,
                    const char *set_str_key, const char *set_str_val)
{
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    assert_non_null(w);
    kk_err e;
    for (uint64_t i = 0; i < x->f->n_kv; i++) {
        char key[256];
        gguf_str_copy(x->f->kv[i].key, key, sizeof key);
        if (drop && !strcmp(key, drop))
            continue;
        if (set_str_key && !strcmp(key, set_str_key))
            assert_int_equal(gguf_writer_set_str(w, key, set_str_val), KK_OK);
        else
            assert_int_equal(gguf_writer_set_value(w, key, &x->f->kv[i].value), KK_OK);
    }
    for (uint64_t i = 0; i < x->f->n_tensors; i++) {
        const gguf_tensor *t = &x->f->tensors[i];
        char name[256];
        gguf_str_copy(t->name, name, sizeof name);
        if (drop_tensor && !strcmp(name, drop_tensor))
            continue;
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                t->n_bytes, &e), KK_OK);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
    gguf_writer_free(w);
    loaded_close(x);
    x->buf = buf;
    x->len = len;
    assert_int_equal(gguf_parse_buffer(&x->f, buf, len, "edited.gguf", &e), KK_OK);
}

/* ---- fixtures ---------------------------------------------------------------- */

static void stories260k_should_load_with_llama_cpp_defaults_for_absent_keys(void **state)
{
    (void)state;
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
    gguf_file *f = NULL;
    model *m = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, path, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);
    const model_hparams *hp = &m->hp;
    assert_int_equal(hp->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(hp->n_layers, 5);
    assert_int_equal(hp->n_embd, 64);
    assert_int_equal(hp->n_heads, 8);
    assert_int_equal(hp->n_kv_heads, 4);
    assert_int_equal(hp->head_dim_k, 8);
    assert_int_equal(hp->head_dim_v, 8);
    assert_int_equal(hp->n_ff, 172);
    assert_int_equal(hp->n_vocab, 512);
    assert_int_equal(hp->n_rot, 8);
    assert_true(hp->rope_base == 10000.0f); /* no llama.rope.freq_base */
    assert_false(hp->rope_neox);
    assert_false(hp->qk_norm);
    assert_false(hp->tied_embeddings);
    assert_int_equal(m->bytes_dequantized, 0); /* F32: views into the map */
    model_free(m);
    gguf_close(f);
}

static void qwen3_wide_should_take_the_head_dim_from_key_length(void **state)
{
    (void)state;
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/rand-qwen3-wide.gguf");
    gguf_file *f = NULL;
    model *m = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, path, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);
    assert_int_equal(m->hp.arch, MODEL_ARCH_QWEN3);
    assert_int_equal(m->hp.head_dim_k, 64); /* not 128 / 4 */
    assert_int_equal(m->layers[0].wq.rows, 256);
    assert_true(m->hp.rope_neox && m->hp.qk_norm);
    assert_true(m->hp.rope_base == 1e6f);
    assert_non_null(m->layers[1].k_norm);
    model_free(m);
    gguf_close(f);
}

/* F16 and Q8_0 matrices are read as stored by the matmul kernels (no F32
 * copy: peak memory stays near the file's size). */
static void q8_0_weights_should_be_read_in_place(void **state)
{
    (void)state;
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K-q8_0.gguf");
    gguf_file *f = NULL;
    model *m = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, path, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);
    assert_int_equal(m->layers[0].wq.type, DTYPE_Q8_0);
    assert_int_equal(m->layers[0].ffn_down.type, DTYPE_F16);
    assert_null(m->layers[0].wq.f32);
    assert_null(m->layers[0].ffn_down.f32);
    assert_true(m->bytes_dequantized == 0);
    float row[64];
    model_embed(m, 511, row);
    assert_true(isfinite(row[63]));
    model_free(m);
    gguf_close(f);
}

/* ---- metadata and tensors ------------------------------------------------------- */

static void random_models_should_load_with_the_shapes_they_were_written_with(void **state)
{
    (void)state;
    loaded x;
    random_buffer(&x, MODEL_ARCH_QWEN3, true);
    model *m = NULL;
    kk_err e;
    assert_int_equal(model_load(&m, x.f, &e), KK_OK);
    model_random_cfg c;
    model_random_defaults(&c);
    assert_int_equal(m->hp.n_layers, c.n_layers);
    assert_int_equal(m->hp.n_embd, c.n_embd);
    assert_int_equal(m->hp.head_dim_k, c.head_dim);
    assert_int_equal(m->hp.n_vocab, c.n_vocab);
    assert_true(m->hp.tied_embeddings);
    assert_ptr_equal(m->output.f32, m->tok_embd.f32);
    assert_true(model_n_params(m) > 0);
    model_free(m);
    loaded_close(&x);
}

static void random_models_should_be_byte_identical_for_a_seed(void **state)
{
    (void)state;
    model_random_cfg c;
    model_random_defaults(&c);
    uint8_t *a, *b;
    size_t la, lb;
    assert_int_equal(model_random_to_buffer(&c, &a, &la, NULL), KK_OK);
    assert_int_equal(model_random_to_buffer(&c, &b, &lb, NULL), KK_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    c.seed = 2;
    free(b);
    assert_int_equal(model_random_to_buffer(&c, &b, &lb, NULL), KK_OK);
    assert_int_equal(la, lb);
    assert_memory_not_equal(a, b, la);
    free(a);
    free(b);
}

static void random_config_errors_should_name_the_field_not_a_flag(void **state)
{
    (void)state;
    model_random_cfg c;
    model_random_defaults(&c);
    c.n_kv_heads = 3; /* does not divide 4 */
    kk_err e;
    assert_int_equal(model_random_check(&c, &e), KK_E_RANGE);
    assert_string_equal(e.where, "n_kv_heads");
    assert_string_equal(e.msg, "n_kv_heads: 3 is out of range (allowed: 1..4, and dividing n_heads)");
    model_random_defaults(&c);
    c.n_vocab = 100;
    assert_int_equal(model_random_check(&c, &e), KK_E_RANGE);
    assert_string_equal(e.where, "n_vocab");
    assert_null(strstr(e.msg, "--"));
}

static void a_missing_required_key_should_be_located(void **state)
{
    (void)state;
    loaded x;
    random_buffer(&x, MODEL_ARCH_LLAMA, false);
    rewrite(&x, "llama.block_count", NULL, NULL, NULL);
    model *m = NULL;
    kk_err e;
    assert_int_equal(model_load(&m, x.f, &e), KK_E_MISSING);
    assert_null(m);
    assert_string_equal(e.where, "llama.block_count");
    assert_string_equal(e.file, "edited.gguf");
    loaded_close(&x);
}

static void absent_optional_keys_should_take_llama_cpp_defaults(void **state)
{
    (void)state;
    loaded x;
    random_buffer(&x, MODEL_ARCH_LLAMA, false);
    rewrite(&x, "llama.rope.freq_base", NULL, NULL, NULL);
    rewrite(&x, "llama.attention.key_length", NULL, NULL, NULL);
    rewrite(&x, "llama.attention.value_length", NULL, NULL, NULL);
    rewrite(&x, "llama.rope.dimension_count", NULL, NULL, NULL);
    rewrite(&x, "llama.attention.head_count_kv", "blk.0.attn_k.weight", NULL, NULL);
    model *m = NULL;
    kk_err e;
    /* head_count_kv now defaults to head_count (4): blk.0.attn_k must be
     * 64 x 64, and it is gone: the error names it. */
    assert_int_equal(model_load(&m, x.f, &e), KK_E_MISSING);
    assert_string_equal(e.where, "blk.0.attn_k.weight");
    loaded_close(&x);

    random_buffer(&x, MODEL_ARCH_LLAMA, false);
    rewrite(&x, "llama.rope.freq_base", NULL, NULL, NULL);
    rewrite(&x, "llama.rope.dimension_count", NULL, NULL, NULL);
    assert_int_equal(model_load(&m, x.f, &e), KK_OK);
    assert_true(m->hp.rope_base == 10000.0f);
    assert_int_equal(m->hp.n_rot, m->hp.head_dim_k);
    model_free(m);
    loaded_close(&x);
}

static void an_unknown_architecture_should_be_refused_by_name(void **state)
{
    (void)state;
    loaded x;
    random_buffer(&x, MODEL_ARCH_LLAMA, false);
    rewrite(&x, NULL, NULL, "general.architecture", "gpt2");
    model *m = NULL;
    kk_err e;
    assert_int_equal(model_load(&m, x.f, &e), KK_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "gpt2"));
    assert_string_equal(e.where, "general.architecture");
    loaded_close(&x);
}

static void a_tensor_with_the_wrong_shape_should_be_located(void **state)
{
    (void)state;
    loaded x;
    random_buffer(&x, MODEL_ARCH_LLAMA, false);
    /* head_dim 16 written; claiming 32 makes every q/k/v shape wrong */
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    for (uint64_t i = 0; i < x.f->n_kv; i++) {
        char key[256];
        gguf_str_copy(x.f->kv[i].key, key, sizeof key);
        if (!strcmp(key, "llama.attention.key_length"))
            assert_int_equal(gguf_writer_set_u32(w, key, 32), KK_OK);
        else
            assert_int_equal(gguf_writer_set_value(w, key, &x.f->kv[i].value), KK_OK);
    }
    kk_err e;
    for (uint64_t i = 0; i < x.f->n_tensors; i++) {
        const gguf_tensor *t = &x.f->tensors[i];
        char name[256];
        gguf_str_copy(t->name, name, sizeof name);
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                t->n_bytes, &e), KK_OK);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(gguf_writer_to_buffer(w, &buf, &len, &e), KK_OK);
    gguf_writer_free(w);
    gguf_file *f = NULL;
    assert_int_equal(gguf_parse_buffer(&f, buf, len, "shape.gguf", &e), KK_OK);
    model *m = NULL;
    assert_int_equal(model_load(&m, f, &e), KK_E_FORMAT);
    assert_string_equal(e.where, "blk.0.attn_q.weight");
    assert_non_null(strstr(e.msg, "expected [64, 128]"));
    gguf_close(f);
    free(buf);
    loaded_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stories260k_should_load_with_llama_cpp_defaults_for_absent_keys),
        cmocka_unit_test(qwen3_wide_should_take_the_head_dim_from_key_length),
        cmocka_unit_test(q8_0_weights_should_be_read_in_place),
        cmocka_unit_test(random_models_should_load_with_the_shapes_they_were_written_with),
        cmocka_unit_test(random_models_should_be_byte_identical_for_a_seed),
        cmocka_unit_test(random_config_errors_should_name_the_field_not_a_flag),
        cmocka_unit_test(a_missing_required_key_should_be_located),
        cmocka_unit_test(absent_optional_keys_should_take_llama_cpp_defaults),
        cmocka_unit_test(an_unknown_architecture_should_be_refused_by_name),
        cmocka_unit_test(a_tensor_with_the_wrong_shape_should_be_located),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
