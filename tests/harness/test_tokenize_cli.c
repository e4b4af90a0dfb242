/* CLI tests of `kakeya tokenize`: its ids are the engine's tok_encode_ex
 * (BOS as the file says, special texts parsed), --no-bos and
 * --no-parse-special change exactly that, --json and --pieces carry the
 * same ids and pieces, a vocabulary-only file works, and bad input and
 * usage exit 2 and 3 naming what is wrong. */
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

#include "gguf.h"
#include "test_proc.h"
#include "test_util.h"
#include "tokenizer.h"

static char g_bin[2048];
static char g_tmp[64];
static char g_model[256];

static tp_run run(const char *const *args) { return tp_run_prog(NULL, g_bin, args); }

static int setup(void **state)
{
    if (tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp, "kakeya_tok") != 0)
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
    const char *a[] = {"model", "random", "-o", g_model, "--seed", "3", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    tp_run_free(&r);
}

/* The engine's ids for text, as a comma-separated line. */
static char *engine_ids(const char *path, const char *text, bool bos, bool parse)
{
    gguf_file *f = NULL;
    tok *t = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&f, path, &e), KK_OK);
    assert_int_equal(tok_init_from_gguf(&t, f, &e), KK_OK);
    int32_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(tok_encode_ex(t, text, strlen(text), bos && tok_add_bos(t), parse, &ids, &n,
                                   &e),
                     KK_OK);
    char *out = malloc(12 * n + 2);
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += (size_t)sprintf(out + w, "%s%d", i ? "," : "", (int)ids[i]);
    out[w++] = '\n';
    out[w] = '\0';
    free(ids);
    tok_free(t);
    gguf_close(f);
    return out;
}

static void tokenize_should_print_the_engine_ids(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *text = "the cat sat</s> on the mat";
    const struct {
        const char *flags[3];
        bool bos, parse;
    } cases[] = {{{NULL}, true, true},
                 {{"--no-bos", NULL}, false, true},
                 {{"--no-parse-special", NULL}, true, false},
                 {{"--no-bos", "--no-parse-special", NULL}, false, false}};
    char *prev = NULL;
    for (size_t k = 0; k < 4; k++) {
        const char *a[8] = {"tokenize", "-m", g_model, "-p", text};
        size_t n = 5;
        for (size_t j = 0; cases[k].flags[j]; j++)
            a[n++] = cases[k].flags[j];
        a[n] = NULL;
        tp_run r = run(a);
        assert_int_equal(r.code, 0);
        char *want = engine_ids(g_model, text, cases[k].bos, cases[k].parse);
        assert_string_equal(r.out, want);
        /* each flag changes the output */
        if (prev)
            assert_string_not_equal(prev, want);
        free(prev);
        prev = want;
        tp_run_free(&r);
    }
    free(prev);
}

static void json_and_pieces_should_carry_the_same_tokens(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *text = "the cat\tsat";
    const char *a[] = {"tokenize", "-m", g_model, "-p", text, "--json", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    cJSON *o = cJSON_Parse(r.out);
    assert_non_null(o);
    const cJSON *ids = cJSON_GetObjectItem(o, "ids"), *pieces = cJSON_GetObjectItem(o, "pieces");
    const int n = cJSON_GetArraySize(ids);
    assert_int_equal(cJSON_GetObjectItem(o, "n_tokens")->valuedouble, n);
    assert_int_equal(cJSON_GetArraySize(pieces), n);
    char *want = engine_ids(g_model, text, true, true);
    char got[512] = "", joined[512] = "";
    for (int i = 0; i < n; i++) {
        size_t w = strlen(got);
        snprintf(got + w, sizeof got - w, "%s%d", i ? "," : "", cJSON_GetArrayItem(ids, i)->valueint);
        const cJSON *p = cJSON_GetArrayItem(pieces, i);
        assert_true(cJSON_IsString(p));
        strncat(joined, p->valuestring, sizeof joined - strlen(joined) - 1);
    }
    strcat(got, "\n");
    assert_string_equal(got, want);
    assert_string_equal(joined, " the cat\tsat"); /* BOS prints nothing */
    free(want);
    cJSON_Delete(o);
    tp_run_free(&r);

    const char *b[] = {"tokenize", "-m", g_model, "-p", text, "--pieces", NULL};
    r = run(b);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "\\t")); /* the tab, escaped */
    assert_int_equal(strncmp(r.out, "1\t\n", 3), 0); /* BOS: id 1, no piece */
    tp_run_free(&r);
}

/* A vocabulary-only byte-level BPE file (no tensors): a pre-tokenizer we
 * build encodes; another is refused naming the key's value. */
static void write_bpe_vocab(const char *path, const char *pre)
{
    static const char *const texts[] = {"a", "b", "ab", "\xc4\xa0", "\xc4\xa0" "ab"};
    static const char *const merges[] = {"a b", "\xc4\xa0 ab"};
    gguf_writer *w = gguf_writer_init(3, 32);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), KK_OK);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), KK_OK);
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", texts, 5), KK_OK);
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 2), KK_OK);
    kk_err e;
    assert_int_equal(gguf_writer_write(w, path, &e), KK_OK);
    gguf_writer_free(w);
}

static void a_bpe_vocabulary_should_encode_or_be_refused_by_name(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char path[300];
    snprintf(path, sizeof path, "%s/qwen2.gguf", g_tmp);
    write_bpe_vocab(path, "qwen2");
    const char *a[] = {"tokenize", "-m", path, "-p", "ab ab", NULL};
    tp_run r = run(a);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "2,4\n");
    tp_run_free(&r);

    snprintf(path, sizeof path, "%s/deepseek.gguf", g_tmp);
    write_bpe_vocab(path, "deepseek-llm");
    r = run(a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "deepseek-llm"));
    assert_non_null(strstr(r.err, "tokenizer.ggml.pre"));
    assert_non_null(strstr(r.err, path));
    assert_string_equal(r.out, "");
    tp_run_free(&r);
}

static void usage_and_bad_input_should_exit_3_and_2(void **state)
{
    (void)state;
    REQUIRE_BIN();
    write_random_model();
    const char *usage[][8] = {
        {"tokenize", "-p", "x", NULL},
        {"tokenize", "-m", g_model, NULL},
        {"tokenize", "-m", g_model, "-p", "x", "-f", "y", NULL},
        {"tokenize", "-m", g_model, "-p", "x", "--json", "--pieces", NULL},
        {"tokenize", "-m", g_model, "-p", "x", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        tp_run r = run(usage[i]);
        assert_int_equal(r.code, 3);
        tp_run_free(&r);
    }
    const char *missing[] = {"tokenize", "-m", "/nonexistent/m.gguf", "-p", "x", NULL};
    tp_run r = run(missing);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/m.gguf"));
    tp_run_free(&r);
    const char *repeat[] = {"tokenize", "-m", g_model, "-p", "x", "--repeat", "0", NULL};
    r = run(repeat);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--repeat"));
    tp_run_free(&r);
}

/* The committed Qwen3 fixture (real vocabulary, random weights) runs from
 * text: generate's prompt ids are tokenize's (a chat template's specials
 * parsed), and the Llama 3 one when generated locally (skipped, saying
 * so, otherwise). Tests run from the repository root. */
static void generate_should_run_byte_level_bpe_files_from_text(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char l3[1024];
    const char *env = getenv("KAKEYA_LLAMA3_GGUF"), *home = getenv("HOME");
    snprintf(l3, sizeof l3, "%s", env ? env : "");
    if (!env)
        snprintf(l3, sizeof l3, "%s/.cache/kakeya/fixtures/llama3-tiny.gguf", home ? home : "");
    const char *files[] = {"tests/engine/data/qwen3-tiny.gguf", l3};
    const char *prompts[] = {"<|im_start|>user\nHi there, it's 2026!<|im_end|>\n",
                             "<|start_header_id|>user<|end_header_id|>\n\nHi there, it's 2026!"};
    for (int k = 0; k < 2; k++) {
        struct stat st;
        if (stat(files[k], &st) != 0) {
            printf("    skipped: %s absent (bench/bpe_fixtures.sh makes it; not committed: "
                   "Meta's licence)\n", files[k]);
            continue;
        }
        const char *a[] = {"generate", "-m", files[k], "-p", prompts[k], "-n", "3", "--json", NULL};
        tp_run r = run(a);
        assert_int_equal(r.code, 0);
        cJSON *o = cJSON_Parse(r.out);
        assert_non_null(o);
        const cJSON *p = cJSON_GetObjectItem(o, "prompt_ids");
        char got[512] = "";
        for (int i = 0; i < cJSON_GetArraySize(p); i++) {
            size_t w = strlen(got);
            snprintf(got + w, sizeof got - w, "%s%d", i ? "," : "", cJSON_GetArrayItem(p, i)->valueint);
        }
        strcat(got, "\n");
        char *want = engine_ids(files[k], prompts[k], true, true);
        assert_string_equal(got, want);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "ids")), 3);
        free(want);
        cJSON_Delete(o);
        tp_run_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokenize_should_print_the_engine_ids),
        cmocka_unit_test(json_and_pieces_should_carry_the_same_tokens),
        cmocka_unit_test(a_bpe_vocabulary_should_encode_or_be_refused_by_name),
        cmocka_unit_test(usage_and_bad_input_should_exit_3_and_2),
        cmocka_unit_test(generate_should_run_byte_level_bpe_files_from_text),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
