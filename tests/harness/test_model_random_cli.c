/* `kakeya model random --vocab-from FILE` (harness/cmd_model_random.c): the
 * file written is the library's (model_random_set_vocab_from) byte for
 * byte; a file without tokenizer.ggml.tokens exits 2 naming the file and
 * the key; --vocab with --vocab-from exits 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kk_file.h"
#include "model_random.h"
#include "test_proc.h"

static char g_bin[PATH_MAX], g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp,
                        "kk_model_random_cli");
}

/* A gpt2 vocabulary of 300 tokens ("t0".."t299"), with or without its
 * token list. */
static void write_vocab(const char *path, int with_tokens)
{
    gguf_writer *w = gguf_writer_init(3, GGUF_DEFAULT_ALIGNMENT);
    assert_non_null(w);
    static char text[300][16]; /* room for any int: -O1 checks snprintf */
    const char *tok[300];
    for (int i = 0; i < 300; i++) {
        snprintf(text[i], sizeof text[i], "t%d", i);
        tok[i] = text[i];
    }
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "qwen3"), KK_OK);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), KK_OK);
    if (with_tokens)
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, 300), KK_OK);
    kk_err e;
    assert_int_equal(gguf_writer_write(w, path, &e), KK_OK);
    gguf_writer_free(w);
}

static void vocab_from_should_write_the_librarys_bytes(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char src[PATH_MAX + 32], out[PATH_MAX + 32];
    snprintf(src, sizeof src, "%s/vocab.gguf", g_tmp);
    snprintf(out, sizeof out, "%s/model.gguf", g_tmp);
    write_vocab(src, 1);
    const char *a[] = {"model", "random", "-o", out, "--arch", "qwen3", "--vocab-from", src,
                       "--tied", NULL};
    tp_run r = tp_run_prog(NULL, g_bin, a);
    if (r.code != 0)
        fail_msg("exit %d: %s", r.code, r.err);
    assert_non_null(strstr(r.err, "vocab 300"));
    tp_run_free(&r);
    gguf_file *f = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, src, &e), KK_OK);
    model_random_cfg c;
    model_random_defaults(&c);
    c.arch = MODEL_ARCH_QWEN3;
    c.tied = true;
    assert_int_equal(model_random_set_vocab_from(&c, f, &e), KK_OK);
    uint8_t *want = NULL;
    size_t want_len = 0;
    assert_int_equal(model_random_to_buffer(&c, &want, &want_len, &e), KK_OK);
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(kk_file_read_all(out, &got, &got_len, &e), KK_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);
    gguf_close(f);
}

static void a_file_without_tokens_should_exit_2_naming_the_file_and_the_key(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char src[PATH_MAX + 32], out[PATH_MAX + 32];
    snprintf(src, sizeof src, "%s/notokens.gguf", g_tmp);
    snprintf(out, sizeof out, "%s/never.gguf", g_tmp);
    write_vocab(src, 0);
    const char *a[] = {"model", "random", "-o", out, "--vocab-from", src, NULL};
    tp_run r = tp_run_prog(NULL, g_bin, a);
    if (r.code != 2)
        fail_msg("exit %d, stderr \"%s\"", r.code, r.err);
    assert_non_null(strstr(r.err, "notokens.gguf"));
    assert_non_null(strstr(r.err, "tokenizer.ggml.tokens"));
    assert_int_equal(access(out, F_OK), -1);
    tp_run_free(&r);
}

static void vocab_and_vocab_from_together_should_exit_3(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char src[PATH_MAX + 32], out[PATH_MAX + 32];
    snprintf(src, sizeof src, "%s/vocab2.gguf", g_tmp);
    snprintf(out, sizeof out, "%s/never2.gguf", g_tmp);
    write_vocab(src, 1);
    const char *a[] = {"model", "random", "-o", out, "--vocab", "300", "--vocab-from", src, NULL};
    tp_run r = tp_run_prog(NULL, g_bin, a);
    if (r.code != 3)
        fail_msg("exit %d, stderr \"%s\"", r.code, r.err);
    assert_non_null(strstr(r.err, "--vocab-from"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vocab_from_should_write_the_librarys_bytes),
        cmocka_unit_test(a_file_without_tokens_should_exit_2_naming_the_file_and_the_key),
        cmocka_unit_test(vocab_and_vocab_from_together_should_exit_3),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
