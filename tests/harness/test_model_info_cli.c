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
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kk_file.h"
#include "sha256.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

typedef struct run_out {
    int code;
    char *out, *err;
    size_t out_len, err_len;
} run_out;

static void run_free(run_out *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Run g_bin with args (NULL-terminated); capture stdout and stderr. */
static run_out run(const char *const *args)
{
    char outp[128], errp[128];
    snprintf(outp, sizeof outp, "%s/stdout", g_tmp);
    snprintf(errp, sizeof errp, "%s/stderr", g_tmp);
    const char *argv[16];
    int n = 0;
    argv[n++] = g_bin;
    while (args[n - 1] && n < 15) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    assert_true(waitpid(pid, &status, 0) == pid);
    run_out r = {0};
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    kk_err e;
    assert_int_equal(kk_file_read_all(outp, &r.out, &r.out_len, &e), KK_OK);
    assert_int_equal(kk_file_read_all(errp, &r.err, &r.err_len, &e), KK_OK);
    return r;
}

static int setup(void **state)
{
    (void)state;
    /* build/<flavor>/tests/harness/test_model_info_cli -> build/<flavor>/kakeya */
    char self[1800];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(g_bin, sizeof g_bin, "%s/../../kakeya", dirname(self));
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kakeya_info_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"stdout", "stderr", "trunc.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", g_tmp, names[i]);
        unlink(p);
    }
    rmdir(g_tmp);
    return 0;
}

#define REQUIRE_BIN()                                                         \
    do {                                                                      \
        struct stat st_;                                                      \
        if (stat(g_bin, &st_) != 0) {                                         \
            fprintf(stderr, "SKIP: %s not built (make bin/kakeya)\n", g_bin); \
            skip();                                                           \
        }                                                                     \
    } while (0)

static void info_should_print_arch_params_shapes_and_sha256(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K.gguf");
    char hex[65], line[128];
    kk_err e;
    assert_int_equal(sha256_file_hex(path, hex, &e), KK_OK);
    run_out r = run((const char *const[]){"model", "info", path, NULL});
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
    run_free(&r);
}

static void info_json_should_hold_the_same_report(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char path[2048];
    TU_REQUIRE_FIXTURE(path, "models/stories260K-q8_0.gguf");
    run_out r = run((const char *const[]){"model", "info", "--json", path, NULL});
    assert_int_equal(r.code, 0);
    cJSON *o = cJSON_Parse(r.out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "architecture")->valuestring, "llama");
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
    run_free(&r);
}

static void info_should_exit_3_on_usage_errors_and_0_on_help(void **state)
{
    (void)state;
    REQUIRE_BIN();
    run_out r = run((const char *const[]){"model", "info", NULL});
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "missing FILE"));
    run_free(&r);
    r = run((const char *const[]){"model", "info", "--frobnicate", "x.gguf", NULL});
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "--frobnicate"));
    run_free(&r);
    r = run((const char *const[]){"model", "info", "a.gguf", "b.gguf", NULL});
    assert_int_equal(r.code, 3);
    run_free(&r);
    r = run((const char *const[]){"model", "info", "--help", NULL});
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: kakeya model info"));
    run_free(&r);
}

static void info_should_exit_2_naming_the_file_and_offset_of_bad_input(void **state)
{
    (void)state;
    REQUIRE_BIN();
    run_out r = run((const char *const[]){"model", "info", "/nonexistent/m.gguf", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/m.gguf"));
    run_free(&r);
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
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(info_should_print_arch_params_shapes_and_sha256),
        cmocka_unit_test(info_json_should_hold_the_same_report),
        cmocka_unit_test(info_should_exit_3_on_usage_errors_and_0_on_help),
        cmocka_unit_test(info_should_exit_2_naming_the_file_and_offset_of_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
