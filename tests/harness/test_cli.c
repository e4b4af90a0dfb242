/* CLI tests of bin/kakeya's engine commands (generate, logits, model
 * random): one test per exit code at least, messages naming the file or
 * flag, and the outputs other tools parse. The binary is the one of this
 * build flavor (build/<flavor>/kakeya, found from this test's own path),
 * run with fork/exec. */
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

#include "forward.h"
#include "kk_file.h"
#include "model.h"
#include "ops.h"
#include "test_util.h"
#include "test_proc.h"

static char g_bin[2048];
static char g_tmp[64];
static char g_model[256]; /* a random model written once, in g_tmp */

/* Run g_bin with args (NULL-terminated); capture stdout and stderr. */
static tp_run run(const char *const *args)
{
    return tp_run_prog(NULL, g_bin, args);
}

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_cli") != 0)
        return -1;
    snprintf(g_model, sizeof g_model, "%s/random.gguf", g_tmp);
    return 0;
}

#define REQUIRE_BIN() TP_REQUIRE_PROGRAM(g_bin)

static void write_random_model(void)
{
    struct stat st;
    if (stat(g_model, &st) == 0)
        return;
    const char *a[] = {"model", "random", "-o", g_model, "--seed", "1", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
}


/* The --threads / --jobs bound a command's --help prints is the bound its
 * parser enforces: read "(LO..HI)" from the help text, then HI must pass
 * the parser and HI + 1 must be refused naming the flag and that range. */
static void help_should_print_the_thread_and_job_bounds_the_parser_enforces(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *cmds[][4] = {{"generate", "--help", NULL, "--threads"},
                             {"logits", "--help", NULL, "--threads"},
                             {"niah", "--help", NULL, "--threads"},
                             {"codec", "eval", "--help", "--threads"},
                             {"run", "--help", NULL, "--threads"},
                             {"run", "--help", NULL, "--jobs"}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *a[] = {cmds[i][0], cmds[i][1], cmds[i][2], NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 0);
        const char *flag = cmds[i][3];
        char key[32];
        snprintf(key, sizeof key, "  %s ", flag);
        const char *line = strstr(r.out, key);
        assert_non_null(line);
        const char *par = strchr(line, '(');
        long lo = 0, hi = 0;
        assert_non_null(par);
        assert_int_equal(sscanf(par, "(%ld..%ld)", &lo, &hi), 2);
        assert_int_equal(lo, 1);
        assert_true(hi >= 2);
        tp_run_free(&r);
        /* The parser: HI + 1 refused (exit 2) with the same range. */
        char over[32], range[64];
        snprintf(over, sizeof over, "%ld", hi + 1);
        snprintf(range, sizeof range, "allowed: %ld..%ld", lo, hi);
        const char *b[] = {"logits", "-m", g_model, "--tokens", "1", flag, over, NULL};
        const char *bj[] = {"run", "smoke", "--out", g_tmp, flag, over, NULL};
        tp_run q = run(strcmp(cmds[i][0], "run") ? b : bj);
        assert_int_equal(q.code, 2);
        assert_non_null(strstr(q.err, flag));
        assert_non_null(strstr(q.err, range));
        tp_run_free(&q);
    }
}


/* Values that are missing or empty are named as such: a long flag where a
 * value belongs is a usage error (exit 3, it used to be read as the value),
 * an empty --out is refused (it used to mean the repository's evidence/),
 * an empty model path says so and names its flag. A prompt may still start
 * with "--". */
static void missing_and_empty_values_should_be_named(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    static const struct {
        const char *args[10];
        int code;
        const char *want;
    } cases[] = {
        {{"run", "smoke", "--jobs", "--out", "/tmp/kk_never", NULL}, 3,
         "--jobs needs a value (found the flag --out)"},
        {{"run", "smoke", "--out", "", NULL}, 2, "--out: the folder is empty"},
        {{"generate", "-m", "", "-p", "hi", "-n", "1", NULL}, 2, "at -m: the model path is empty"},
        {{"logits", "-m", "", "--tokens", "1", NULL}, 2, "at -m: the model path is empty"},
        {{"codec", "eval", "--codec", "q8_0", "--data", "kv:", NULL}, 2, "'kv:' names no model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tp_run r = run(cases[i].args);
        if (r.code != cases[i].code || !strstr(r.err, cases[i].want))
            fail_msg("%s %s: exit %d, stderr %s", cases[i].args[0], cases[i].args[2], r.code,
                     r.err);
        tp_run_free(&r);
    }
    const char *p[] = {"generate", "-m", g_model, "-p", "--hello", "-n", "1", NULL};
    tp_run r = run(p);
    assert_int_not_equal(r.code, 3);
    assert_null(strstr(r.err, "needs a value"));
    tp_run_free(&r);
}

/* ---- exit code 0 ----------------------------------------------------------- */

static void help_should_exit_0_for_every_engine_command(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *cmds[][3] = {{"generate", "--help", NULL}, {"logits", "--help", NULL},
                             {"model", "random", "--help"}};
    for (size_t i = 0; i < 3; i++) {
        const char *a[] = {cmds[i][0], cmds[i][1], cmds[i][2], NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "usage: kakeya"));
        tp_run_free(&r);
    }
}

static void model_random_then_generate_json_should_exit_0_and_be_deterministic(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *a[] = {"generate", "-m", g_model, "-p", "Once upon a time", "-n", "32",
                       "--json", NULL};
    tp_run r1 = run(a), r2 = run(a);
    assert_int_equal(r1.code, 0);
    assert_int_equal(r2.code, 0);
    cJSON *j1 = cJSON_Parse(r1.out), *j2 = cJSON_Parse(r2.out);
    assert_non_null(j1);
    assert_non_null(j2);
    const char *keys[] = {"prompt_ids", "ids", "text", "prefill_s", "decode_s"};
    for (size_t i = 0; i < 5; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(j1, keys[i]));
    const cJSON *ids1 = cJSON_GetObjectItemCaseSensitive(j1, "ids");
    assert_int_equal(cJSON_GetArraySize(ids1), 32); /* no EOS in random models */
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j1, "prompt_ids"), 0)
                         ->valueint, 1); /* BOS, as the GGUF says */
    char *s1 = cJSON_PrintUnformatted(ids1);
    char *s2 = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j2, "ids"));
    assert_string_equal(s1, s2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j1, "text")->valuestring,
                        cJSON_GetObjectItemCaseSensitive(j2, "text")->valuestring);
    assert_non_null(strstr(r1.err, "tok/s"));
    free(s1);
    free(s2);
    cJSON_Delete(j1);
    cJSON_Delete(j2);
    tp_run_free(&r1);
    tp_run_free(&r2);
}

static void logits_should_print_floats_that_read_back_exactly(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const int32_t ids[4] = {1, 300, 301, 17};
    const char *a[] = {"logits", "-m", g_model, "--tokens", "1,300,301,17", "--threads", "1",
                       NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    cJSON *j = cJSON_Parse(r.out);
    assert_non_null(j);
    const int V = cJSON_GetObjectItemCaseSensitive(j, "n_vocab")->valueint;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "logits");
    assert_int_equal(cJSON_GetArraySize(rows), 4);
    /* the same forward in this process, one BLAS thread as the command */
    gguf_file *f = NULL;
    model *m = NULL;
    kv_cache *kv = NULL;
    fwd_state *st = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, g_model, &e), KK_OK);
    assert_int_equal(model_load(&m, f, &e), KK_OK);
    assert_int_equal(V, m->hp.n_vocab);
    const kv_config cfg = {m->hp.n_layers, m->hp.n_kv_heads, m->hp.head_dim_k,
                           m->hp.head_dim_v, 4, 0};
    assert_int_equal(kv_full_init(&kv, &cfg, &e), KK_OK);
    assert_int_equal(fwd_init(&st, m, 4, 4, &e), KK_OK);
    ops_set_threads(1);
    float *want = malloc((size_t)(4 * V) * sizeof(float));
    assert_int_equal(fwd_run(st, kv, ids, NULL, 4, FWD_LOGITS_ALL, want, NULL, &e), KK_OK);
    int t = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows) {
        assert_int_equal(cJSON_GetArraySize(row), V);
        int k = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, row) {
            /* %.9g -> double -> float is the float printed */
            assert_true((float)x->valuedouble == want[t * V + k]);
            k++;
        }
        t++;
    }
    free(want);
    fwd_free(st);
    kv_free(kv);
    model_free(m);
    gguf_close(f);
    cJSON_Delete(j);
    tp_run_free(&r);
}

static void stories260k_generate_should_print_the_reference_text(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char gpath[2048], rpath[2048];
    TU_REQUIRE_FIXTURE(gpath, "models/stories260K.gguf");
    TU_REQUIRE_FIXTURE(rpath, "models/stories260K.ref.json");
    char *text = NULL;
    size_t len = 0;
    kk_err e;
    assert_int_equal(kk_file_read_all(rpath, &text, &len, &e), KK_OK);
    cJSON *ref = cJSON_Parse(text);
    free(text);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ref, "cases"), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring, "once-kvf32");
    const char *hex = cJSON_GetObjectItemCaseSensitive(c, "greedy_bytes_hex")->valuestring;
    const size_t n = strlen(hex) / 2;
    char *want = malloc(n + 2);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        sscanf(hex + 2 * i, "%2x", &b);
        want[i] = (char)b;
    }
    want[n] = '\n'; /* the command ends the text with one newline */
    want[n + 1] = '\0';
    const char *a[] = {"generate", "-m", gpath, "-p", "Once upon a time", "-n", "64", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.out_len, n + 1);
    assert_memory_equal(r.out, want, n + 1);
    tp_run_free(&r);
    /* --tokens: the reference's prompt ids verbatim give the same text */
    const char *b[] = {"generate", "-m", gpath, "--tokens", "1,403,407,261,378", "-n", "64", NULL};
    r = run(b);
    assert_int_equal(r.code, 0);
    assert_memory_equal(r.out, want, n + 1);
    tp_run_free(&r);
    free(want);
    cJSON_Delete(ref);
}

static void stories260k_q8_0_generate_should_print_the_reference_text(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char gpath[2048], rpath[2048];
    TU_REQUIRE_FIXTURE(gpath, "models/stories260K-q8_0.gguf");
    TU_REQUIRE_FIXTURE(rpath, "models/stories260K-q8_0.ref.json");
    char *text = NULL;
    size_t len = 0;
    kk_err e;
    assert_int_equal(kk_file_read_all(rpath, &text, &len, &e), KK_OK);
    cJSON *ref = cJSON_Parse(text);
    free(text);
    const cJSON *c;
    int ran = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ref, "cases")) {
        const char *hex = cJSON_GetObjectItemCaseSensitive(c, "greedy_bytes_hex")->valuestring;
        const size_t n = strlen(hex) / 2;
        char *want = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            unsigned b;
            sscanf(hex + 2 * i, "%2x", &b);
            want[i] = (char)b;
        }
        want[n] = '\n';
        /* the default --act ggml rounds activations as llama.cpp does */
        const char *a[] = {"generate", "-m", gpath, "-p",
                           cJSON_GetObjectItemCaseSensitive(c, "prompt")->valuestring, "-n", "64",
                           NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 0);
        assert_int_equal(r.out_len, n + 1);
        assert_memory_equal(r.out, want, n + 1);
        tp_run_free(&r);
        free(want);
        ran++;
    }
    assert_int_equal(ran, 2);
    cJSON_Delete(ref);
}

/* ---- exit code 2 ---------------------------------------------------------------- */

static void a_missing_model_file_should_exit_2_naming_it(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *a[] = {"generate", "-m", "/nonexistent/m.gguf", "--tokens", "1", "-n", "1", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/m.gguf"));
    tp_run_free(&r);
    const char *b[] = {"logits", "-m", "/nonexistent/m.gguf", "--tokens", "1", NULL};
    r = run(b);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/m.gguf"));
    tp_run_free(&r);
}

static void a_truncated_model_file_should_exit_2_naming_it(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    char *data = NULL;
    size_t len = 0;
    kk_err e;
    assert_int_equal(kk_file_read_all(g_model, &data, &len, &e), KK_OK);
    char trunc[128];
    snprintf(trunc, sizeof trunc, "%s/trunc.gguf", g_tmp);
    assert_int_equal(kk_file_write_atomic(trunc, data, len / 2, &e), KK_OK);
    free(data);
    const char *a[] = {"generate", "-m", trunc, "--tokens", "1", "-n", "1", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "trunc.gguf"));
    tp_run_free(&r);
}

static void bad_token_ids_should_exit_2_naming_the_flag_and_value(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *a[] = {"generate", "-m", g_model, "--tokens", "1,x", "-n", "1", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--tokens"));
    assert_non_null(strstr(r.err, "1,x"));
    tp_run_free(&r);
    const char *b[] = {"logits", "-m", g_model, "--tokens", "1,512", NULL}; /* vocab 512 */
    r = run(b);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "512"));
    tp_run_free(&r);
    const char *c[] = {"logits", "-m", g_model, "--tokens", "1", "--act", "int8", NULL};
    r = run(c);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--act"));
    assert_non_null(strstr(r.err, "int8"));
    tp_run_free(&r);
}

static void generating_past_the_context_should_exit_2_naming_n(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *a[] = {"generate", "-m", g_model, "--tokens", "1", "-n", "5000", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "-n"));
    assert_non_null(strstr(r.err, "context_length 2048"));
    tp_run_free(&r);
}

static void bad_model_random_values_should_exit_2_naming_the_flag(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128];
    snprintf(out, sizeof out, "%s/qwen.gguf", g_tmp);
    const char *a[] = {"model", "random", "-o", out, "--vocab", "10", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--vocab"));
    tp_run_free(&r);
    /* The engine names its fields (n_kv_heads, n_heads); the CLI its flags. */
    const char *kvh[] = {"model", "random", "-o", out, "--kv-heads", "3", NULL};
    r = run(kvh);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--kv-heads: 3 is out of range (allowed: 1..4, and dividing --heads)"));
    assert_null(strstr(r.err, "n_kv_heads"));
    assert_null(strstr(r.err, "n_heads"));
    tp_run_free(&r);
    const char *b[] = {"model", "random", "-o", out, "--arch", "gpt2", NULL};
    r = run(b);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "gpt2"));
    tp_run_free(&r);
    const char *c[] = {"model", "random", "-o", out, "--arch", "qwen3", "--head-dim", "32",
                       NULL};
    r = run(c);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    /* sliding layers are gemma3's: a llama file with a window is refused by flag */
    const char *w[] = {"model", "random", "-o", out, "--sliding-window", "8", NULL};
    r = run(w);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--sliding-window"));
    assert_non_null(strstr(r.err, "only gemma3"));
    tp_run_free(&r);
    /* a gemma3 file with sliding layers generates from text */
    const char *g[] = {"model", "random", "-o", out, "--arch", "gemma3", "--layers", "6",
                       "--sliding-window", "4", NULL};
    r = run(g);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
    const char *gen[] = {"generate", "-m", out, "-p", "hello world", "-n", "40", "--json", NULL};
    r = run(gen);
    assert_int_equal(r.code, 0);
    const char *ids = strstr(r.out, "\"ids\": [");
    assert_non_null(ids);
    char full_ids[4096];
    snprintf(full_ids, sizeof full_ids, "%.*s", (int)(strchr(ids, ']') - ids), ids);
    tp_run_free(&r);
    /* s5: the sliding layers as rings of their window (4 here, past after
     * the 40 tokens): the same ids, since those layers never look further;
     * spec on that cache too */
    const char *s5[] = {"generate", "-m", out, "-p", "hello world", "-n", "40", "--json",
                        "--policy", "s5", NULL};
    r = run(s5);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, full_ids));
    tp_run_free(&r);
    const char *sp[] = {"spec", "-m", out, "-p", "hello world", "-n", "40", "--json",
                        "--policy", "s5", "--drafter", "ngram:n=1", "--block", "4", NULL};
    r = run(sp);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, full_ids));
    tp_run_free(&r);
    /* s5 on a model without sliding layers, and with an F16 cache: refused */
    write_random_model();
    const char *nos5[] = {"generate", "-m", g_model, "--tokens", "1", "-n", "2", "--policy", "s5",
                          NULL};
    r = run(nos5);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--policy"));
    tp_run_free(&r);
    const char *f16[] = {"generate", "-m", g_model, "--tokens", "1", "-n", "2", "--policy", "s5",
                         "--kv-cache", "f16", NULL};
    r = run(f16);
    assert_int_equal(r.code, 3);
    tp_run_free(&r);
}

static void a_bad_matmul_isa_variable_should_exit_2_naming_it_and_the_allowed_values(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *a[] = {"generate", "-m", g_model, "--tokens", "1", "-n", "2", NULL};
    setenv("KAKEYA_MATMUL_ISA", "sse9", 1);
    tp_run r = run(a);
    unsetenv("KAKEYA_MATMUL_ISA");
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "KAKEYA_MATMUL_ISA"));
    assert_non_null(strstr(r.err, "\"sse9\""));
    assert_non_null(strstr(r.err, "scalar, avx2, avx512"));
    tp_run_free(&r);
    /* Allowed values and an empty one run. */
    static const char *const ok[] = {"scalar", "avx2", "avx512", ""};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        setenv("KAKEYA_MATMUL_ISA", ok[i], 1);
        r = run(a);
        unsetenv("KAKEYA_MATMUL_ISA");
        assert_int_equal(r.code, 0);
        tp_run_free(&r);
    }
}

/* ---- exit code 3 ------------------------------------------------------------------- */

static void unknown_flags_and_missing_arguments_should_exit_3(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *cases[][8] = {
        {"generate", "-m", "x.gguf", "--tokens", "1", "-n", "1", "--frobnicate"},
        {"generate", "-m", "x.gguf", "-n", "1", NULL},              /* no prompt */
        {"generate", "-m", "x.gguf", "-p", "a", "--tokens", "1", "-n"}, /* -n without value */
        {"logits", "--tokens", "1", NULL},                          /* no -m */
        {"logits", "-m", "x.gguf", "--tokens", "1", "--bogus", NULL},
        {"model", "random", NULL},                                  /* no -o */
        {"model", "random", "-o", "x.gguf", "--nope", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *a[9] = {0};
        for (int k = 0; k < 8 && cases[i][k]; k++)
            a[k] = cases[i][k];
        tp_run r = run(a);
        if (r.code != 3)
            fprintf(stderr, "case %zu: exit %d, stderr: %s\n", i, r.code, r.err);
        assert_int_equal(r.code, 3);
        tp_run_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_should_exit_0_for_every_engine_command),
        cmocka_unit_test(help_should_print_the_thread_and_job_bounds_the_parser_enforces),
        cmocka_unit_test(missing_and_empty_values_should_be_named),
        cmocka_unit_test(model_random_then_generate_json_should_exit_0_and_be_deterministic),
        cmocka_unit_test(logits_should_print_floats_that_read_back_exactly),
        cmocka_unit_test(stories260k_generate_should_print_the_reference_text),
        cmocka_unit_test(stories260k_q8_0_generate_should_print_the_reference_text),
        cmocka_unit_test(a_missing_model_file_should_exit_2_naming_it),
        cmocka_unit_test(a_truncated_model_file_should_exit_2_naming_it),
        cmocka_unit_test(bad_token_ids_should_exit_2_naming_the_flag_and_value),
        cmocka_unit_test(generating_past_the_context_should_exit_2_naming_n),
        cmocka_unit_test(bad_model_random_values_should_exit_2_naming_the_flag),
        cmocka_unit_test(a_bad_matmul_isa_variable_should_exit_2_naming_it_and_the_allowed_values),
        cmocka_unit_test(unknown_flags_and_missing_arguments_should_exit_3),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
