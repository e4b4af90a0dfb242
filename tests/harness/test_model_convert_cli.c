/* `kakeya model convert` (engine/gguf_convert.h): stories260K to Q8_0
 * gives, for every tensor llama.cpp's own converter stored as Q8_0 in the
 * stories260K-q8_0 fixture, the same bytes (ggml's quantizer); F16 files
 * load and generate; a bad type, a missing output and an unreadable input
 * are refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "gguf.h"
#include "test_proc.h"
#include "test_util.h"

static char g_bin[2048];
static char g_tmp[64];

static int setup(void **state)
{
    return tp_cli_setup(state, g_bin, sizeof g_bin, "kakeya", g_tmp, sizeof g_tmp,
                        "kakeya_convert");
}

/* `kakeya model convert in --type type -o out`; fails the test unless 0. */
static void convert(const char *in, const char *type, const char *out)
{
    const char *a[] = {"model", "convert", in, "--type", type, "-o", out, NULL};
    tp_run r = tp_run_prog(NULL, g_bin, a);
    if (r.code != 0)
        fail_msg("%s", r.err);
    tp_run_free(&r);
}

/* The file at path generates some text from a prompt. */
static void generates(const char *path)
{
    const char *g[] = {"generate", "-m", path, "-p", "Once upon a time", "-n", "8", NULL};
    tp_run r = tp_run_prog(NULL, g_bin, g);
    assert_int_equal(r.code, 0);
    assert_true(strlen(r.out) > 1);
    tp_run_free(&r);
}

static void q8_0_should_be_llamacpps_bytes(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char f32[1100], ref[1100], out[256];
    TU_REQUIRE_FIXTURE(f32, "models/stories260K.gguf");
    TU_REQUIRE_FIXTURE(ref, "models/stories260K-q8_0.gguf");
    snprintf(out, sizeof out, "%s/q8.gguf", g_tmp);
    convert(f32, "q8_0", out);
    gguf_file *fr = NULL, *fo = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&fr, ref, &e), KK_OK);
    assert_int_equal(gguf_open(&fo, out, &e), KK_OK);
    int compared = 0;
    for (uint64_t i = 0; i < fr->n_tensors; i++) {
        const gguf_tensor *t = &fr->tensors[i];
        if (t->type != DTYPE_Q8_0)
            continue;
        char name[128];
        gguf_str_copy(t->name, name, sizeof name);
        const int64_t j = gguf_find_tensor(fo, name);
        assert_true(j >= 0);
        const gguf_tensor *u = &fo->tensors[j];
        assert_int_equal(u->type, DTYPE_Q8_0);
        assert_int_equal(u->n_bytes, t->n_bytes);
        if (memcmp(u->data, t->data, t->n_bytes) != 0)
            fail_msg("tensor %s: bytes differ from llama.cpp's", name);
        compared++;
    }
    assert_true(compared >= 30);
    gguf_close(fr);
    gguf_close(fo);
    /* and F16 loads and runs */
    snprintf(out, sizeof out, "%s/f16.gguf", g_tmp);
    convert(f32, "f16", out);
    generates(out);
}

/* BF16: every 2-D F32 tensor's values rounded to nearest even (ggml's
 * ggml_compute_fp32_to_bf16, checked here on the ties by hand), 1-D ones
 * kept; the file loads and generates. */
static void bf16_should_round_to_nearest_even_and_run(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    assert_int_equal(dtype_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(dtype_f32_to_bf16(1.00390625f), 0x3f80);  /* tie, even below */
    assert_int_equal(dtype_f32_to_bf16(1.01171875f), 0x3f82);  /* tie, even above */
    assert_int_equal(dtype_f32_to_bf16(1.0048828125f), 0x3f81); /* above the tie */
    char f32[1100], out[256];
    TU_REQUIRE_FIXTURE(f32, "models/stories260K.gguf");
    snprintf(out, sizeof out, "%s/bf16.gguf", g_tmp);
    convert(f32, "bf16", out);
    gguf_file *fs = NULL, *fo = NULL;
    kk_err e;
    assert_int_equal(gguf_open(&fs, f32, &e), KK_OK);
    assert_int_equal(gguf_open(&fo, out, &e), KK_OK);
    int converted = 0;
    for (uint64_t i = 0; i < fs->n_tensors; i++) {
        const gguf_tensor *t = &fs->tensors[i];
        char name[128];
        gguf_str_copy(t->name, name, sizeof name);
        const gguf_tensor *u = &fo->tensors[gguf_find_tensor(fo, name)];
        if (t->n_dims != 2 || t->type != DTYPE_F32) {
            assert_int_equal(u->type, t->type);
            continue;
        }
        assert_int_equal(u->type, DTYPE_BF16);
        const uint64_t n = t->n_bytes / 4;
        assert_int_equal(u->n_bytes, n * 2);
        for (uint64_t k = 0; k < n; k++) {
            float x;
            uint16_t h;
            memcpy(&x, t->data + 4 * k, 4);
            memcpy(&h, u->data + 2 * k, 2);
            if (h != dtype_f32_to_bf16(x))
                fail_msg("tensor %s value %llu", name, (unsigned long long)k);
        }
        converted++;
    }
    assert_true(converted >= 30);
    gguf_close(fs);
    gguf_close(fo);
    generates(out);
}

static void bad_arguments_should_be_refused_by_name(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_bin);
    char f32[1100], out[256];
    TU_REQUIRE_FIXTURE(f32, "models/stories260K.gguf");
    snprintf(out, sizeof out, "%s/x.gguf", g_tmp);
    const char *a[] = {"model", "convert", f32, "--type", "q4_0", "-o", out, NULL};
    tp_run r = tp_run_prog(NULL, g_bin, a);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--type"));
    tp_run_free(&r);
    const char *b[] = {"model", "convert", f32, "--type", "f16", NULL};
    r = tp_run_prog(NULL, g_bin, b);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "-o OUT"));
    tp_run_free(&r);
    const char *c[] = {"model", "convert", "/nonexistent.gguf", "--type", "f16", "-o", out, NULL};
    r = tp_run_prog(NULL, g_bin, c);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent.gguf"));
    tp_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(q8_0_should_be_llamacpps_bytes),
        cmocka_unit_test(bf16_should_round_to_nearest_even_and_run),
        cmocka_unit_test(bad_arguments_should_be_refused_by_name),
    };
    return cmocka_run_group_tests(tests, setup, tp_teardown_tmpdir);
}
