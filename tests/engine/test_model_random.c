/* model_random with a copied vocabulary (engine/model_random.h,
 * model_random_set_vocab_from): every tokenizer.* key of the source GGUF
 * lands in the model byte for byte, in the source's order, and nothing
 * else does; the embedding has one row per token; the model and its
 * tokenizer load; output rows of tokens that are not normal are 0; a
 * source without tokenizer.ggml.tokens (or with tokens of another type) is
 * a located error. The source is a small gpt2 vocabulary written here with
 * the GGUF writer (the committed Qwen3 fixture is checked by
 * tests/engine/test_tokenizer_bpe.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "model_random.h"
#include "tokenizer.h"

#define N_TOK 300

/* A vocabulary-only gpt2 file: N_TOK tokens, some control / user-defined /
 * unused, among keys that must not be copied (general.*, a look-alike
 * prefix, a key after the tokenizer ones). */
static uint8_t *vocab_source(size_t *len, int with_tokens)
{
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    assert_non_null(w);
    static char text[N_TOK][32];
    const char *tok[N_TOK];
    int32_t type[N_TOK];
    float score[N_TOK];
    for (int i = 0; i < N_TOK; i++) {
        if (i < 94)
            snprintf(text[i], sizeof text[i], "%c", 33 + i); /* '!'..'~' */
        else if (i == 94)
            snprintf(text[i], sizeof text[i], "\xc4\xa0the"); /* U+0120 "the" */
        else
            snprintf(text[i], sizeof text[i], "t%d\xc3\xa9", i);
        tok[i] = text[i];
        type[i] = i >= 290 ? 5 : i >= 280 ? 4 : i >= 270 ? 3 : 1;
        score[i] = -(float)i;
    }
    snprintf(text[270], sizeof text[270], "<|endoftext|>");
    snprintf(text[280], sizeof text[280], "<think>");
    const char *merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he"};
    kk_code rc = KK_OK;
    rc |= gguf_writer_set_str(w, "general.architecture", "qwen3");
    rc |= gguf_writer_set_str(w, "general.name", "vocab source");
    rc |= gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    rc |= gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2");
    if (with_tokens == 1)
        rc |= gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, N_TOK);
    else if (with_tokens == 2) /* the wrong type */
        rc |= gguf_writer_set_arr_i32(w, "tokenizer.ggml.tokens", type, N_TOK);
    rc |= gguf_writer_set_u32(w, "tokenizerx.not_a_tokenizer_key", 7);
    rc |= gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", type, N_TOK);
    rc |= gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", score, N_TOK);
    rc |= gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 270);
    rc |= gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 270);
    rc |= gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    rc |= gguf_writer_set_i32(w, "tokenizer.ggml.custom_i32", -5);
    rc |= gguf_writer_set_str(w, "tokenizer.chat_template", "{{ messages }}\n\t\xe2\x9c\x85");
    rc |= gguf_writer_set_u32(w, "zz.after", 1);
    assert_int_equal(rc, KK_OK);
    uint8_t *buf = NULL;
    kk_err e;
    assert_int_equal(gguf_writer_to_buffer(w, &buf, len, &e), KK_OK);
    gguf_writer_free(w);
    return buf;
}

/* The bytes of key i (key, type, value) in a parsed buffer: up to the next
 * key, or for the last one up to the first tensor's info. */
static void kv_span(const gguf_file *f, const uint8_t *buf, uint64_t i, uint64_t *from,
                    uint64_t *to)
{
    *from = f->kv[i].file_offset;
    if (i + 1 < f->n_kv)
        *to = f->kv[i + 1].file_offset;
    else if (f->n_tensors > 0)
        *to = (uint64_t)((const uint8_t *)f->tensors[0].name.s - buf) - 8; /* u64 length */
    else
        fail_msg("kv_span: the last key of a file without tensors");
}

static int is_tok_key(const gguf_kv *kv)
{
    return kv->key.len >= 10 && !memcmp(kv->key.s, "tokenizer.", 10);
}

typedef struct built {
    uint8_t *src, *out;
    size_t src_len, out_len;
    gguf_file *fs, *fo;
} built;

static void build(built *b, int tied)
{
    memset(b, 0, sizeof *b);
    kk_err e;
    b->src = vocab_source(&b->src_len, 1);
    assert_int_equal(gguf_parse_buffer(&b->fs, b->src, b->src_len, "src.gguf", &e), KK_OK);
    model_random_cfg c;
    model_random_defaults(&c);
    c.arch = MODEL_ARCH_QWEN3;
    c.tied = tied;
    assert_int_equal(model_random_set_vocab_from(&c, b->fs, &e), KK_OK);
    assert_int_equal(c.n_vocab, N_TOK);
    assert_int_equal(model_random_to_buffer(&c, &b->out, &b->out_len, &e), KK_OK);
    assert_int_equal(gguf_parse_buffer(&b->fo, b->out, b->out_len, "out.gguf", &e), KK_OK);
}

static void built_free(built *b)
{
    gguf_close(b->fo);
    gguf_close(b->fs);
    free(b->out);
    free(b->src);
}

static void vocab_from_should_copy_every_tokenizer_key_byte_for_byte_and_nothing_else(void **state)
{
    (void)state;
    built b;
    build(&b, 1);
    /* The tokenizer keys of the output, in order, are the source's. */
    uint64_t j = 0, n_src = 0;
    for (uint64_t i = 0; i < b.fs->n_kv; i++) {
        if (!is_tok_key(&b.fs->kv[i]))
            continue;
        n_src++;
        while (j < b.fo->n_kv && !is_tok_key(&b.fo->kv[j]))
            j++;
        assert_true(j < b.fo->n_kv);
        uint64_t s0, s1, o0, o1;
        kv_span(b.fs, b.src, i, &s0, &s1);
        kv_span(b.fo, b.out, j, &o0, &o1);
        if (s1 - s0 != o1 - o0 || memcmp(b.src + s0, b.out + o0, (size_t)(s1 - s0)) != 0)
            fail_msg("key %.*s: %llu bytes in the source, %llu (or other bytes) in the model",
                     (int)b.fs->kv[i].key.len, b.fs->kv[i].key.s,
                     (unsigned long long)(s1 - s0), (unsigned long long)(o1 - o0));
        j++;
    }
    assert_int_equal(n_src, 11);
    uint64_t n_out = 0;
    for (uint64_t i = 0; i < b.fo->n_kv; i++)
        n_out += is_tok_key(&b.fo->kv[i]);
    assert_int_equal(n_out, n_src);
    assert_int_equal(gguf_find_key(b.fo, "tokenizerx.not_a_tokenizer_key"), -1);
    assert_int_equal(gguf_find_key(b.fo, "zz.after"), -1);
    gguf_str name;
    assert_int_equal(gguf_get_str(b.fo, "general.name", &name, NULL), KK_OK);
    assert_int_equal(name.len, strlen("kakeya-random-qwen3-seed1"));
    /* The embedding has one row per token. */
    const gguf_tensor *emb = gguf_get_tensor(b.fo, "token_embd.weight");
    assert_non_null(emb);
    assert_int_equal(emb->ne[1], N_TOK);
    built_free(&b);
}

static void a_model_with_a_copied_vocabulary_should_load_with_its_tokenizer(void **state)
{
    (void)state;
    built b;
    build(&b, 0);
    kk_err e;
    model *m = NULL;
    assert_int_equal(model_load(&m, b.fo, &e), KK_OK);
    assert_int_equal(m->hp.n_vocab, N_TOK);
    tok *t = NULL;
    assert_int_equal(tok_init_from_gguf(&t, b.fo, &e), KK_OK);
    assert_int_equal(tok_n_vocab(t), N_TOK);
    assert_int_equal(tok_eos(t), 270);
    assert_false(tok_add_bos(t));
    char piece[16];
    assert_int_equal(tok_piece(t, 94, piece, sizeof piece), 4);
    assert_memory_equal(piece, " the", 4);
    /* output.weight: rows of control, user-defined and unused tokens are 0,
     * the others are not. */
    const gguf_tensor *out = gguf_get_tensor(b.fo, "output.weight");
    assert_non_null(out);
    assert_int_equal(out->type, DTYPE_F32);
    const int64_t d = (int64_t)out->ne[0];
    for (int64_t r = 0; r < N_TOK; r++) {
        float row[256];
        assert_true(d <= 256);
        memcpy(row, out->data + (size_t)(r * d) * sizeof(float), (size_t)d * sizeof(float));
        int nonzero = 0;
        for (int64_t k = 0; k < d; k++)
            nonzero |= row[k] != 0.0f;
        if (nonzero != (r < 270))
            fail_msg("output row %lld: %s", (long long)r, nonzero ? "not zero" : "zero");
    }
    tok_free(t);
    model_free(m);
    built_free(&b);
}

static void a_source_without_tokens_should_be_a_located_error(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *src = vocab_source(&len, k == 0 ? 0 : 2);
        gguf_file *f = NULL;
        kk_err e;
        assert_int_equal(gguf_parse_buffer(&f, src, len, "novocab.gguf", &e), KK_OK);
        model_random_cfg c;
        model_random_defaults(&c);
        kk_err_clear(&e);
        assert_int_equal(model_random_set_vocab_from(&c, f, &e), k == 0 ? KK_E_MISSING : KK_E_TYPE);
        assert_string_equal(e.file, "novocab.gguf");
        assert_string_equal(e.where, "tokenizer.ggml.tokens");
        if (k == 1) {
            assert_true(e.offset > 0);
            assert_non_null(strstr(e.msg, "int32"));
        }
        assert_null(c.vocab_from);
        assert_int_equal(c.n_vocab, 512); /* untouched */
        gguf_close(f);
        free(src);
    }
}

static void n_vocab_should_stay_the_copied_token_count(void **state)
{
    (void)state;
    size_t len;
    uint8_t *src = vocab_source(&len, 1);
    gguf_file *f = NULL;
    kk_err e;
    assert_int_equal(gguf_parse_buffer(&f, src, len, "src.gguf", &e), KK_OK);
    model_random_cfg c;
    model_random_defaults(&c);
    assert_int_equal(model_random_set_vocab_from(&c, f, &e), KK_OK);
    assert_int_equal(model_random_check(&c, &e), KK_OK);
    c.n_vocab = 512;
    assert_int_equal(model_random_check(&c, &e), KK_E_RANGE);
    assert_string_equal(e.where, "n_vocab");
    gguf_close(f);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vocab_from_should_copy_every_tokenizer_key_byte_for_byte_and_nothing_else),
        cmocka_unit_test(a_model_with_a_copied_vocabulary_should_load_with_its_tokenizer),
        cmocka_unit_test(a_source_without_tokens_should_be_a_located_error),
        cmocka_unit_test(n_vocab_should_stay_the_copied_token_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
