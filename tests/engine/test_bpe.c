/*
 * Byte-level BPE pieces by hand: the Unicode classes (against values read
 * off the Unicode 15.1 tables), llama.cpp's UTF-8 decoding, the three
 * pre-tokenizers' words (expected splits derived from their regular
 * expressions by hand), merge order, the fallback of a merge result that
 * is no token, ignore_merges, and the queue against the plain scan on
 * random texts. Real vocabularies against llama.cpp's ids:
 * test_tokenizer_bpe.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kk_rand.h"
#include "tokenizer_internal.h"
#include "unicode.h"

static void flags_should_follow_unicode_15_1(void **state)
{
    (void)state;
    static const struct {
        uint32_t cp;
        uint8_t f;
    } cases[] = {
        {'a', UNI_LETTER},       {'Z', UNI_LETTER},     {'5', UNI_NUMBER},
        {' ', UNI_SPACE},        {'\t', UNI_SPACE},     {'\n', UNI_SPACE},
        {'_', UNI_OTHER},        {'\'', UNI_OTHER},     {0x00A0, UNI_SPACE},
        {0x0085, UNI_SPACE},     {0x00B2, UNI_NUMBER},  /* superscript two: No */
        {0x00AA, UNI_LETTER},    {0x00E9, UNI_LETTER},  {0x0301, UNI_OTHER}, /* Mn */
        {0x0663, UNI_NUMBER},    {0x4E2D, UNI_LETTER},  {0x3000, UNI_SPACE},
        {0x2009, UNI_SPACE},     {0x200B, UNI_OTHER},   /* ZWSP: Cf, no White_Space */
        {0x1F600, UNI_OTHER},    {0x2163, UNI_NUMBER},  /* Roman numeral four: Nl */
        {0x31EF, UNI_OTHER},     /* added in 15.1 as So */
        {0x2EBF0, UNI_LETTER},   /* CJK extension I, 15.1 */
        {0x1C89, UNI_OTHER},     /* a letter only from Unicode 16.0 */
        {0x10FFFF, UNI_OTHER},   {0x110000, UNI_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (uni_flags(cases[i].cp) != cases[i].f)
            fail_msg("U+%04X: flags %d, want %d", cases[i].cp, uni_flags(cases[i].cp),
                     cases[i].f);
    }
}

static void decode_should_replace_invalid_bytes_as_llama_cpp(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
        uint32_t cp;
        size_t adv;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xc3\xa9", 2, 0xE9, 2},
        {"\xe4\xb8\xad", 3, 0x4E2D, 3},
        {"\xf0\x9f\x98\x80", 4, 0x1F600, 4},
        {"\x80", 1, UNI_REPLACEMENT, 1},         /* continuation as a lead */
        {"\xc3", 1, UNI_REPLACEMENT, 1},         /* cut short */
        {"\xe4\xb8", 2, UNI_REPLACEMENT, 1},
        {"\xc3(", 2, UNI_REPLACEMENT, 1},        /* not a continuation */
        {"\xff", 1, UNI_REPLACEMENT, 1},
        {"\xf8\x80\x80\x80", 4, UNI_REPLACEMENT, 1},
        {"\xc0\x80", 2, 0, 2},                   /* overlong: decoded, as llama.cpp */
        {"\xed\xa0\x80", 3, 0xD800, 3},          /* surrogate: decoded */
        {"\xf4\x90\x80\x80", 4, UNI_REPLACEMENT, 1}, /* past U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t adv = 0;
        uint32_t cp = uni_decode(cases[i].s, cases[i].n, &adv);
        if (cp != cases[i].cp || adv != cases[i].adv)
            fail_msg("case %zu: U+%04X (%zu bytes), want U+%04X (%zu)", i, cp, adv, cases[i].cp,
                     cases[i].adv);
    }
    char out[4];
    assert_int_equal(uni_encode(0x7F, out), 1);
    assert_int_equal(uni_encode(0x80, out), 2);
    assert_int_equal(uni_encode(0xFFFF, out), 3);
    assert_int_equal(uni_encode(0x10FFFF, out), 4);
    assert_memory_equal(out, "\xf4\x8f\xbf\xbf", 4);
}

/* The words of text as a "|"-joined string. */
static char *words(tok_pre pre, const char *text)
{
    size_t *ends = NULL, n = 0;
    kk_err e;
    assert_int_equal(tok_pre_split(pre, text, strlen(text), &ends, &n, &e), KK_OK);
    char *out = malloc(4 * strlen(text) + n + 1);
    assert_non_null(out);
    size_t w = 0, start = 0;
    for (size_t k = 0; k < n; k++) {
        if (k)
            out[w++] = '|';
        memcpy(out + w, text + start, ends[k] - start);
        w += ends[k] - start;
        start = ends[k];
    }
    out[w] = '\0';
    free(ends);
    return out;
}

#define SPLIT(pre, text, want)                                                   \
    do {                                                                         \
        char *got_ = words(pre, text);                                           \
        if (strcmp(got_, want) != 0)                                             \
            fail_msg("%s on \"%s\": [%s], want [%s]", tok_pre_name(pre), text,   \
                     got_, want);                                                \
        free(got_);                                                              \
    } while (0)

/* gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void gpt2_should_split_as_its_regex(void **state)
{
    (void)state;
    SPLIT(TOK_PRE_GPT2, "Hello world", "Hello| world");
    SPLIT(TOK_PRE_GPT2, "Hello  world", "Hello| | world");
    SPLIT(TOK_PRE_GPT2, "it's we'll I'd", "it|'s| we|'ll| I|'d");
    SPLIT(TOK_PRE_GPT2, "IT'S", "IT|'|S"); /* case-sensitive */
    SPLIT(TOK_PRE_GPT2, "123abc 4567", "123|abc| 4567");
    SPLIT(TOK_PRE_GPT2, "a...b", "a|...|b");
    SPLIT(TOK_PRE_GPT2, "a \n\nb", "a| \n|\n|b");
    SPLIT(TOK_PRE_GPT2, "a   ", "a|   ");
    SPLIT(TOK_PRE_GPT2, "", "");
    SPLIT(TOK_PRE_GPT2, " ", " ");
}

/* llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ ; qwen2: \p{N} alone */
static void llama3_and_qwen2_should_split_as_their_regexes(void **state)
{
    (void)state;
    SPLIT(TOK_PRE_LLAMA3, "IT'S we'RE", "IT|'S| we|'RE");
    SPLIT(TOK_PRE_LLAMA3, "1234567", "123|456|7");
    SPLIT(TOK_PRE_QWEN2, "1234", "1|2|3|4");
    SPLIT(TOK_PRE_LLAMA3, "$hello", "$hello");
    SPLIT(TOK_PRE_LLAMA3, "x ...\n\ny", "x| ...\n\n|y");
    SPLIT(TOK_PRE_LLAMA3, "a  \n  b", "a|  \n| | b");
    SPLIT(TOK_PRE_QWEN2, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",
          "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c"); /* 你好，世界 */
    SPLIT(TOK_PRE_QWEN2, "x1y", "x|1|y");
    SPLIT(TOK_PRE_LLAMA3, "\tif (a) {\n\t\treturn;\n}",
          "\tif| (|a|)| {\n|\t|\treturn|;\n|}"); /* \s+(?!\S) leaves one tab */
    SPLIT(TOK_PRE_LLAMA3, "end ", "end| ");
    /* an invalid byte is U+FFFD (other, 3 bytes re-encoded): cut like
     * punctuation */
    size_t *ends = NULL, n = 0;
    kk_err e;
    assert_int_equal(tok_pre_split(TOK_PRE_QWEN2, "a\xff", 2, &ends, &n, &e), KK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ends[0], 1);
    assert_int_equal(ends[1], 4);
    free(ends);
}

/* A vocabulary of the 256 GPT-2 byte characters (id = byte) plus extra
 * tokens, and merges; pre: the pre-tokenizer name. */
static tok *bpe_vocab(const char *pre, const char *const *extra, size_t n_extra,
                      const char *const *merges, size_t n_merges)
{
    static char texts[256][3];
    const char *ptr[256 + 16];
    for (int b = 0; b < 256; b++) {
        size_t k = uni_encode(tok_gpt2_char_of_byte(b), texts[b]);
        texts[b][k] = '\0';
        ptr[b] = texts[b];
    }
    assert_true(n_extra <= 16);
    for (size_t i = 0; i < n_extra; i++)
        ptr[256 + i] = extra[i];
    tok_vocab v = {0};
    v.n = (int32_t)(256 + n_extra);
    v.text = ptr;
    v.bos = v.eos = v.unk = -1;
    v.pre = pre;
    v.merges = merges;
    v.n_merges = n_merges;
    tok *t = NULL;
    kk_err e;
    if (tok_init_from_vocab(&t, &v, &e) != KK_OK)
        fail_msg("vocabulary: %s", e.msg);
    return t;
}

static void expect_ids(const tok *t, const char *text, const int32_t *want, size_t n_want)
{
    for (int ref = 0; ref < 2; ref++) {
        int32_t *ids = NULL;
        size_t n = 0;
        kk_err e;
        kk_code rc = ref ? tok_encode_ref(t, text, strlen(text), false, false, &ids, &n, &e)
                         : tok_encode_ex(t, text, strlen(text), false, false, &ids, &n, &e);
        assert_int_equal(rc, KK_OK);
        if (n != n_want || (n && memcmp(ids, want, n * sizeof *ids) != 0)) {
            fprintf(stderr, "\"%s\" (%s): got", text, ref ? "scan" : "queue");
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
            fail_msg("ids differ");
        }
        free(ids);
    }
}

static void merges_should_go_by_rank_then_leftmost(void **state)
{
    (void)state;
    /* 256 "ab", 257 "bc", 258 "abc", 259 "aa" */
    static const char *const extra[] = {"ab", "bc", "abc", "aa"};
    static const char *const merges[] = {"b c", "a b", "a bc", "a a"};
    tok *t = bpe_vocab("qwen2", extra, 4, merges, 4);
    /* (b,c) has rank 0, before (a,b): a|bc, then (a,bc) */
    expect_ids(t, "abc", (const int32_t[]){258}, 1);
    /* aaa: the leftmost of two equal ranks merges first */
    expect_ids(t, "aaa", (const int32_t[]){259, 'a'}, 2);
    expect_ids(t, "abab", (const int32_t[]){256, 256}, 2);
    tok_free(t);
}

/* A merge whose result is no token: the symbol's GPT-2 text is output
 * byte by byte as one-byte tokens, dropping bytes that are none (llama.cpp
 * does): "Ġ" (C4 A0) is no one-byte token, so " x" loses its space. */
static void a_merge_result_outside_the_vocabulary_should_fall_back_as_llama_cpp(void **state)
{
    (void)state;
    static const char *const merges[] = {"\xc4\xa0 x"};
    tok *t = bpe_vocab("gpt-2", NULL, 0, merges, 1);
    expect_ids(t, " x", (const int32_t[]){'x'}, 1);
    expect_ids(t, " y", (const int32_t[]){' ', 'y'}, 2); /* no merge: byte symbols */
    tok_free(t);
}

/* llama-bpe (ignore_merges): a word that is a token is taken whole, even
 * when no merge builds it; qwen2 merges from bytes. */
static void llama3_should_take_a_whole_word_token(void **state)
{
    (void)state;
    static const char *const extra[] = {"abc"};
    tok *t = bpe_vocab("llama-bpe", extra, 1, NULL, 0);
    expect_ids(t, "abc", (const int32_t[]){256}, 1);
    tok_free(t);
    t = bpe_vocab("qwen2", extra, 1, NULL, 0);
    expect_ids(t, "abc", (const int32_t[]){'a', 'b', 'c'}, 3);
    tok_free(t);
}

/* Invalid UTF-8 is tokenized as U+FFFD's bytes (EF BF BD). */
static void invalid_utf8_should_become_the_replacement_character(void **state)
{
    (void)state;
    tok *t = bpe_vocab("qwen2", NULL, 0, NULL, 0);
    expect_ids(t, "\xff", (const int32_t[]){0xEF, 0xBF, 0xBD}, 3);
    tok_free(t);
}

/* The queue and the plain scan agree on random merges and texts (and so
 * does a merge list naming strings outside the vocabulary). */
static void queue_should_equal_the_plain_scan_on_random_texts(void **state)
{
    (void)state;
    static const char alphabet[] = "abcd 1'\n";
    static const char *const pres[] = {"gpt-2", "llama-bpe", "qwen2"};
    uint64_t seed = 20261207;
    for (int trial = 0; trial < 30; trial++) {
        /* tokens: random strings of 2..4 letters; merges: splits of them
         * and of some strings that are no token */
        char store[40][8];
        const char *extra[16];
        const char *merges[40];
        size_t n_extra = 0, n_merges = 0;
        for (int k = 0; k < 40; k++) {
            const size_t len = 2 + kk_splitmix64(&seed) % 3;
            char s[6];
            for (size_t i = 0; i < len; i++)
                s[i] = "abcd"[kk_splitmix64(&seed) % 4];
            const size_t cut = 1 + kk_splitmix64(&seed) % (len - 1);
            memcpy(store[k], s, cut);
            store[k][cut] = ' ';
            memcpy(store[k] + cut + 1, s + cut, len - cut);
            store[k][len + 1] = '\0';
            merges[n_merges++] = store[k];
            if (n_extra < 16 && kk_splitmix64(&seed) % 3 != 0) {
                static char tokstore[16][6];
                memcpy(tokstore[n_extra], s, len);
                tokstore[n_extra][len] = '\0';
                bool dup = false;
                for (size_t j = 0; j < n_extra; j++)
                    dup |= strcmp(extra[j], tokstore[n_extra]) == 0;
                if (!dup) {
                    extra[n_extra] = tokstore[n_extra];
                    n_extra++;
                }
            }
        }
        tok *t = bpe_vocab(pres[trial % 3], extra, n_extra, merges, n_merges);
        for (int k = 0; k < 20; k++) {
            char text[64];
            const size_t len = kk_splitmix64(&seed) % 63;
            for (size_t i = 0; i < len; i++)
                text[i] = alphabet[kk_splitmix64(&seed) % (sizeof alphabet - 1)];
            int32_t *a = NULL, *b = NULL;
            size_t na = 0, nb = 0;
            kk_err e;
            assert_int_equal(tok_encode_ex(t, text, len, false, false, &a, &na, &e), KK_OK);
            assert_int_equal(tok_encode_ref(t, text, len, false, false, &b, &nb, &e), KK_OK);
            assert_int_equal(na, nb);
            if (na)
                assert_memory_equal(a, b, na * sizeof *a);
            free(a);
            free(b);
        }
        tok_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_should_follow_unicode_15_1),
        cmocka_unit_test(decode_should_replace_invalid_bytes_as_llama_cpp),
        cmocka_unit_test(gpt2_should_split_as_its_regex),
        cmocka_unit_test(llama3_and_qwen2_should_split_as_their_regexes),
        cmocka_unit_test(merges_should_go_by_rank_then_leftmost),
        cmocka_unit_test(a_merge_result_outside_the_vocabulary_should_fall_back_as_llama_cpp),
        cmocka_unit_test(llama3_should_take_a_whole_word_token),
        cmocka_unit_test(invalid_utf8_should_become_the_replacement_character),
        cmocka_unit_test(queue_should_equal_the_plain_scan_on_random_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
