/*
 * Tests of common/sha256: the FIPS 180-4 example vectors (NIST "Examples
 * with Intermediate Values", SHA-256: one block, two blocks, the 896-bit
 * message, one million 'a'), streaming in odd chunk sizes against one-shot
 * hashing, and sha256_file_hex.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

static void hex_of(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void fips_180_4_vectors_hash_as_published(void **state)
{
    (void)state;
    static const struct { const char *msg, *hex; } t[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        /* 448 bits: the padding needs a second block. */
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        /* 896 bits. */
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
         "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char hex[65];
        sha256_hex(t[i].msg, strlen(t[i].msg), hex);
        assert_string_equal(hex, t[i].hex);
    }
}

static void one_million_a_hashes_as_published(void **state)
{
    (void)state;
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    char hex[65];
    sha256_hex(a, 1000000, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* The same streamed 1000 bytes at a time. */
    sha256_ctx c;
    uint8_t d[32];
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, a, 1000);
    sha256_final(&c, d);
    hex_of(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Every length 0..300 (all padding cases: n_buf below, at and above 56),
 * streamed in chunk sizes that straddle block edges, equals one shot. */
static void streaming_in_odd_chunks_equals_one_shot(void **state)
{
    (void)state;
    uint8_t msg[300];
    for (int i = 0; i < 300; i++)
        msg[i] = (uint8_t)(i * 131 + 7);
    static const size_t chunks[] = {1, 3, 7, 55, 56, 63, 64, 65, 127, 200};
    for (size_t len = 0; len <= 300; len++) {
        char one[65], streamed[65];
        sha256_hex(msg, len, one);
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            sha256_ctx c;
            uint8_t d[32];
            sha256_init(&c);
            for (size_t off = 0; off < len; off += chunks[k]) {
                size_t n = len - off < chunks[k] ? len - off : chunks[k];
                sha256_update(&c, msg + off, n);
            }
            sha256_update(&c, msg, 0); /* empty updates change nothing */
            sha256_final(&c, d);
            hex_of(d, streamed);
            assert_string_equal(one, streamed);
        }
    }
    /* An independent value: bytes 0..255 three times (Python hashlib). */
    uint8_t b[768];
    for (int i = 0; i < 768; i++)
        b[i] = (uint8_t)i;
    char hex[65];
    sha256_hex(b, sizeof b, hex);
    assert_string_equal(hex, "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363");
}

static void file_hash_equals_buffer_hash_and_missing_files_are_io_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/kk_test_sha256_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* Bigger than the 64 KiB read buffer, not a multiple of it. */
    size_t n = 200001;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
    char want[65], got[65];
    kk_err e;
    sha256_hex(buf, n, want);
    assert_int_equal(sha256_file_hex(path, got, &e), KK_OK);
    assert_string_equal(got, want);
    unlink(path);
    assert_int_equal(sha256_file_hex(path, got, &e), KK_E_IO);
    assert_string_equal(e.file, path);
    assert_string_equal(got, "");
    assert_int_equal(sha256_file_hex(path, got, NULL), KK_E_IO);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_180_4_vectors_hash_as_published),
        cmocka_unit_test(one_million_a_hashes_as_published),
        cmocka_unit_test(streaming_in_odd_chunks_equals_one_shot),
        cmocka_unit_test(file_hash_equals_buffer_hash_and_missing_files_are_io_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
