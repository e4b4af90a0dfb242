/* CLI tests of the tokenizer's special ids (engine/tokenizer.c, printed by
 * harness/cmd_generate.c): `tokenizer.ggml.bos_token_id`, `eos_token_id`
 * and `unknown_token_id` as llama.cpp reads them (llama-vocab.cpp): an id
 * at or past the vocabulary keeps the default, and kakeya generate says so
 * on stderr naming the key and the value; a value that is not UINT32 is a
 * located error, exit 2. The models are model_random's, with the key
 * rewritten through the GGUF writer. */
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
#include "model_random.h"
#include "test_proc.h"

static char g_bin[PATH_MAX], g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp,
                        "kk_special_ids");
}

/* model_random's model with `key` set to a UINT32 (is_u32) or an INT32. */
static void write_model(const char *path, const char *key, int is_u32, int64_t v)
{
    model_random_cfg c;
    model_random_defaults(&c);
    gguf_writer *w = NULL;
    kk_err e;
    assert_int_equal(model_random_build(&c, &w, &e), KK_OK);
    if (is_u32)
        assert_int_equal(gguf_writer_set_u32(w, key, (uint32_t)v), KK_OK);
    else
        assert_int_equal(gguf_writer_set_i32(w, key, (int32_t)v), KK_OK);
    assert_int_equal(gguf_writer_write(w, path, &e), KK_OK);
    gguf_writer_free(w);
}

static tp_run generate(const char *path)
{
    const char *a[] = {"generate", "-m", path, "-p", "the", "-n", "1", NULL};
    return tp_run_prog(NULL, g_bin, a);
}

static void a_special_id_outside_the_vocabulary_should_keep_the_default_and_warn(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    static const char *const keys[] = {"tokenizer.ggml.bos_token_id",
                                       "tokenizer.ggml.eos_token_id",
                                       "tokenizer.ggml.unknown_token_id"};
    static const uint32_t values[] = {0xFFFFFFFFu, 512u, 70000u};
    for (size_t k = 0; k < 3; k++) {
        char path[PATH_MAX + 32], want[160];
        snprintf(path, sizeof path, "%s/m%zu.gguf", g_tmp, k);
        write_model(path, keys[k], 1, values[k]);
        tp_run r = generate(path);
        if (r.code != 0)
            fail_msg("%s: exit %d: %s", keys[k], r.code, r.err);
        snprintf(want, sizeof want, "%s = %u", keys[k], (unsigned)values[k]);
        if (!strstr(r.err, "warning") || !strstr(r.err, want))
            fail_msg("%s: no warning naming \"%s\" on stderr: \"%s\"", keys[k], want, r.err);
        tp_run_free(&r);
    }
    /* An id inside the vocabulary: nothing to say. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/ok.gguf", g_tmp);
    write_model(path, "tokenizer.ggml.bos_token_id", 1, 1);
    tp_run r = generate(path);
    assert_int_equal(r.code, 0);
    assert_null(strstr(r.err, "warning"));
    tp_run_free(&r);
}

static void a_special_id_that_is_not_uint32_should_exit_2_naming_the_key(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/i32.gguf", g_tmp);
    write_model(path, "tokenizer.ggml.eos_token_id", 0, -1);
    tp_run r = generate(path);
    if (r.code != 2)
        fail_msg("exit %d, stderr \"%s\"", r.code, r.err);
    assert_non_null(strstr(r.err, "i32.gguf"));
    assert_non_null(strstr(r.err, "tokenizer.ggml.eos_token_id"));
    assert_non_null(strstr(r.err, "int32"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_special_id_outside_the_vocabulary_should_keep_the_default_and_warn),
        cmocka_unit_test(a_special_id_that_is_not_uint32_should_exit_2_naming_the_key),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
