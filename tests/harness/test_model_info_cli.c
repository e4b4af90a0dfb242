/* CLI tests of `kakeya model info`: the text and JSON reports on the fixture
 * models (sha256, parameter counts, shapes outermost first) and one test per
 * exit code. Runs build/<flavor>/kakeya (found from this test's own path)
 * with fork/exec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_file.h"
#include "sha256.h"
#include "test_util.h"
#include "test_proc.h"

static char g_bin[2048];
static char g_tmp[64];

/* Run g_bin with args (NULL-terminated); capture stdout and stderr. */
static tp_run run(const char *const *args)
{
    return tp_run_prog(NULL, g_bin, args);
}

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_info");
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static void info_should_print_arch_params_shapes_and_sha256(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
    char hex[65], line[128];
    kk_err e;
    assert_int_equal(sha256_file_hex(path, hex, &e), KK_OK);
    tp_run r = run((const char *const[]){"model", "info", path, NULL});
    assert_int_equal(r.code, 0);
    snprintf(line, sizeof line, "sha256        %s\n", hex);
    assert_non_null(strstr(r.out, line));
    assert_non_null(strstr(r.out, "architecture  llama\n"));
    assert_non_null(strstr(r.out, "version 3, alignment 32, 19 keys, 48 tensors"));
    assert_non_null(strstr(r.out, "parameters    292800 (f32 292800)"));
    assert_non_null(strstr(r.out, "size          1185376 bytes"));
    /* token_embd is ne = {64, 512}: outermost first it is [512, 64]. */
    const char *t = strstr(r.out, "token_embd.weight");
    assert_non_null(t);
    assert_non_null(strstr(t, "[512, 64]"));
    assert_non_null(strstr(r.out, "layer_norm_rms_epsilon   1e-05"));
    /* the tokenizer: model, pre-tokenizer, special ids with their text */
    assert_non_null(strstr(r.out, "tokenizer     llama (pre-tokenizer (none)), bos 1 '<s>', "
                                  "eos 2 '</s>', unk 0 '<unk>', add_bos true (absent: llama.cpp's default)\n"));
    assert_non_null(strstr(r.out, "special       2 control, 0 user-defined: <s> </s>\n"));
    tp_run_free(&r);
}

static void info_json_should_hold_the_same_report(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K-q8_0.gguf");
    tp_run r = run((const char *const[]){"model", "info", "--json", path, NULL});
    assert_int_equal(r.code, 0);
    cJSON *o = cJSON_Parse(r.out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "architecture")->valuestring, "llama");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(o, "tokenizer");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(tk, "model")->valuestring, "llama");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(tk, "pre")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(tk, "eos_id")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(tk, "control")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "gguf_version")->valueint, 3);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(o, "size_bytes")->valuedouble, 379168);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(o, "sha256")->valuestring), 64);
    assert_int_equal(strncmp(cJSON_GetObjectItemCaseSensitive(o, "sha256")->valuestring,
                             "ff8701a45da28293", 16), 0);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(o, "params_by_type");
    /* 5 ffn_down kept F16: 5 x 172 x 64. */
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(by, "f16")->valuedouble, 55040);
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "tensors");
    assert_int_equal(cJSON_GetArraySize(ts), 48);
    double sum = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, ts) sum += cJSON_GetObjectItemCaseSensitive(t, "n_elements")->valuedouble;
    assert_true(sum == cJSON_GetObjectItemCaseSensitive(o, "n_params")->valuedouble);
    const cJSON *hp = cJSON_GetObjectItemCaseSensitive(o, "hyperparameters");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(hp, "block_count")->valueint, 5);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(hp, "feed_forward_length")->valueint, 172);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    assert_true(cJSON_GetObjectItemCaseSensitive(md, "tokenizer.ggml.padding_token_id")->valuedouble ==
                4294967295.0);
    cJSON_Delete(o);
    tp_run_free(&r);
}

static void info_should_exit_3_on_usage_errors_and_0_on_help(void **state)
{
    (void)state;
    REQUIRE_BIN();
    tp_run r = run((const char *const[]){"model", "info", NULL});
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "missing FILE"));
    tp_run_free(&r);
    r = run((const char *const[]){"model", "info", "--frobnicate", "x.gguf", NULL});
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "--frobnicate"));
    tp_run_free(&r);
    r = run((const char *const[]){"model", "info", "a.gguf", "b.gguf", NULL});
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
    r = run((const char *const[]){"model", "info", "--help", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: kakeya model info"));
    tp_run_free(&r);
}

static void info_should_exit_2_naming_the_file_and_offset_of_bad_input(void **state)
{
    (void)state;
    REQUIRE_BIN();
    tp_run r = run((const char *const[]){"model", "info", "/nonexistent/m.gguf", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/m.gguf"));
    tp_run_free(&r);
    /* The fixture cut inside its vocabulary. */
    char path[2048], trunc[128];
    TU_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
    char *data;
    size_t len;
    kk_err e;
    assert_int_equal(kk_file_read_all(path, &data, &len, &e), KK_OK);
    snprintf(trunc, sizeof trunc, "%s/trunc.gguf", g_tmp);
    assert_int_equal(kk_file_write_atomic(trunc, data, 5000, &e), KK_OK);
    free(data);
    r = run((const char *const[]){"model", "info", trunc, NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "trunc.gguf"));
    assert_non_null(strstr(r.err, "at tokenizer.ggml.tokens["));
    assert_non_null(strstr(r.err, "truncated"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(info_should_print_arch_params_shapes_and_sha256),
        cmocka_unit_test(info_json_should_hold_the_same_report),
        cmocka_unit_test(info_should_exit_3_on_usage_errors_and_0_on_help),
        cmocka_unit_test(info_should_exit_2_naming_the_file_and_offset_of_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
