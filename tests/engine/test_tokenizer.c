/*
 * Tests of the SPM tokenizer (engine/tokenizer.c): hand-made vocabularies
 * for the rules (merge order, byte fallback, invalid UTF-8, special tokens,
 * pieces, validation), the fast path against the plain one on random text,
 * round trips, and the llama.cpp reference ids of the fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "json.h"
#include "test_util.h"
#include "tokenizer.h"

#define SP "\xe2\x96\x81" /* U+2581, the escaped space */

/* ---- a hand-made vocabulary ------------------------------------------- */

/* <unk> <s> </s>, the 256 byte tokens, then these (text, score, type). */
typedef struct entry {
    const char *text;
    float score;
    int32_t type;
} entry;

static const entry HAND[] = {
    {SP, -1, TOK_TYPE_NORMAL},       {"a", -2, TOK_TYPE_NORMAL},
    {"b", -2, TOK_TYPE_NORMAL},      {"c", -2, TOK_TYPE_NORMAL},
    {"A", -2, TOK_TYPE_NORMAL},      {"aa", -5, TOK_TYPE_NORMAL},
    {"ab", -4, TOK_TYPE_NORMAL},     {"bc", -3, TOK_TYPE_NORMAL},
    {SP "a", -1, TOK_TYPE_NORMAL},   {SP "b", -1, TOK_TYPE_NORMAL},
    {SP SP, -6, TOK_TYPE_NORMAL},    {"<us>", 0, TOK_TYPE_USER_DEFINED},
};
#define N_HAND (3 + 256 + (int)(sizeof HAND / sizeof HAND[0]))

static tok *hand_tok(bool add_space_prefix)
{
    static char bytes[256][7];
    const char *text[N_HAND];
    float scores[N_HAND];
    int32_t types[N_HAND];
    text[0] = "<unk>", types[0] = TOK_TYPE_UNKNOWN;
    text[1] = "<s>", types[1] = TOK_TYPE_CONTROL;
    text[2] = "</s>", types[2] = TOK_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        text[3 + b] = bytes[b];
        types[3 + b] = TOK_TYPE_BYTE;
    }
    for (int i = 0; i < 3 + 256; i++)
        scores[i] = 0;
    for (int i = 0; i < (int)(sizeof HAND / sizeof HAND[0]); i++) {
        text[259 + i] = HAND[i].text;
        scores[259 + i] = HAND[i].score;
        types[259 + i] = HAND[i].type;
    }
    tok_vocab v = {.n = N_HAND, .text = text, .scores = scores, .types = types,
                   .bos = 1, .eos = 2, .unk = 0, .add_bos = true,
                   .add_space_prefix = add_space_prefix};
    tok *t = NULL;
    kk_err err;
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_OK);
    return t;
}

/* The encoding as token texts joined by '|', for readable expectations. */
static char *show(const tok *t, const int32_t *ids, size_t n)
{
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t tl;
        const char *tx = tok_text(t, ids[i], &tl);
        assert_non_null(tx);
        while (len + tl + 2 > cap)
            s = realloc(s, cap *= 2);
        if (i)
            s[len++] = '|';
        memcpy(s + len, tx, tl);
        len += tl;
        s[len] = '\0';
    }
    return s;
}

static void expect_enc(const tok *t, const char *text, size_t len, bool bos,
                       bool special, const char *want)
{
    int32_t *ids, *ids_ref;
    size_t n, n_ref;
    kk_err err;
    assert_int_equal(tok_encode_ex(t, text, len, bos, special, &ids, &n, &err), KK_OK);
    assert_int_equal(tok_encode_ref(t, text, len, bos, special, &ids_ref, &n_ref, &err), KK_OK);
    char *got = show(t, ids, n);
    if (strcmp(got, want) != 0)
        fail_msg("encode(\"%.*s\"): got \"%s\", want \"%s\"", (int)len, text, got, want);
    assert_int_equal(n, n_ref);
    if (n)
        assert_memory_equal(ids, ids_ref, n * sizeof *ids);
    free(got);
    free(ids);
    free(ids_ref);
}
#define ENC(t, lit, want) expect_enc((t), (lit), sizeof(lit) - 1, false, false, (want))

static void encode_should_prefer_the_leftmost_pair_when_scores_tie(void **state)
{
    (void)state;
    tok *t = hand_tok(false);
    /* "aa" at 0-1 and 1-2 score alike: llama.cpp merges the left one */
    ENC(t, "aaa", "aa|a");
    ENC(t, "aaaa", "aa|aa");
    tok_free(t);
}

static void encode_should_merge_the_highest_scoring_pair_first(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    /* ▁a (-1) beats ab (-4), then bc (-3) */
    ENC(t, "abc", SP "a|bc");
    tok_free(t);
    t = hand_tok(false);
    /* bc (-3) beats ab (-4), which comes first from the left */
    ENC(t, "abc", "a|bc");
    ENC(t, "ab", "ab");
    tok_free(t);
}

static void encode_should_fall_back_to_byte_tokens_for_unknown_characters(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    ENC(t, "z", SP "|<0x7A>");
    ENC(t, "\xc3\xa9", SP "|<0xC3>|<0xA9>");               /* é */
    ENC(t, "\xf0\x9f\x99\x82", SP "|<0xF0>|<0x9F>|<0x99>|<0x82>"); /* emoji */
    ENC(t, "a\n", SP "a|<0x0A>");
    tok_free(t);
}

static void encode_should_return_only_bos_for_empty_text(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    expect_enc(t, "", 0, true, false, "<s>");
    expect_enc(t, "", 0, false, false, "");
    expect_enc(t, NULL, 0, false, false, "");
    tok_free(t);
}

static void encode_should_escape_spaces_and_merge_runs_of_them(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    ENC(t, " ", SP SP);
    ENC(t, "   ", SP SP "|" SP SP);     /* ▁▁▁▁: leftmost ties first */
    ENC(t, "  ", SP SP "|" SP);
    ENC(t, "a b", SP "a|" SP "b");
    tok_free(t);
    t = hand_tok(false);
    ENC(t, " a", SP "a");
    tok_free(t);
}

/* llama.cpp splits by the lead byte's high nibble without checking
 * continuation bytes, and cuts the last character at the end. */
static void encode_should_split_invalid_utf8_like_llama_cpp(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    ENC(t, "\xc3" "A", SP "|<0xC3>|<0x41>");     /* "A" is a token, but
                                                     C3 takes it along */
    ENC(t, "\xe6\x97", SP "|<0xE6>|<0x97>");      /* truncated at the end */
    ENC(t, "\x80" "a", SP "|<0x80>|a");           /* lone continuation */
    ENC(t, "\xf8" "abc", SP "|<0xF8>|<0x61>|<0x62>|<0x63>"); /* F8: 4 */
    ENC(t, "\xff", SP "|<0xFF>");
    ENC(t, "a\xc3", SP "a|<0xC3>");
    /* escaping comes first: FF takes "F" and 3 bytes of the escaped space */
    ENC(t, "\xff a", SP "|<0xFF>|<0xE2>|<0x96>|<0x81>|a");
    expect_enc(t, "a\0b", 3, false, false, SP "a|<0x00>|b");
    tok_free(t);
}

static void encode_should_split_at_special_tokens_like_llama_cpp(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    /* user-defined tokens always; the raw text after one is space-prefixed */
    ENC(t, "a<us>b", SP "a|<us>|" SP "b");
    ENC(t, "<us><us>", "<us>|<us>");
    /* control tokens only with parse_special */
    ENC(t, "a<s>", SP "a|<0x3C>|<0x73>|<0x3E>");
    expect_enc(t, "a<s>", 4, false, true, SP "a|<s>");
    expect_enc(t, "<s>a", 4, true, true, "<s>|<s>|" SP "a");
    expect_enc(t, "<unk>", 5, false, true, "<unk>");
    tok_free(t);
}

static void piece_should_decode_like_token_to_piece_without_special(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    int32_t *ids;
    size_t n;
    char buf[16];
    assert_int_equal(tok_encode_ex(t, "a<us>\xff<s>", 9, true, true, &ids, &n, NULL), KK_OK);
    /* <s> ▁a <us> ▁ <0xFF> <s> */
    assert_int_equal(n, 6);
    assert_int_equal(tok_piece(t, ids[0], buf, sizeof buf), 0);
    assert_int_equal(tok_piece(t, ids[1], buf, sizeof buf), 2);
    assert_memory_equal(buf, " a", 2);
    assert_int_equal(tok_piece(t, ids[2], buf, sizeof buf), 4);
    assert_memory_equal(buf, "<us>", 4);
    assert_int_equal(tok_piece(t, ids[4], buf, sizeof buf), 1);
    assert_int_equal((uint8_t)buf[0], 0xff);
    assert_int_equal(tok_piece(t, 0, buf, sizeof buf), 0); /* <unk> */
    assert_int_equal(tok_piece(t, -1, buf, sizeof buf), -1);
    assert_int_equal(tok_piece(t, tok_n_vocab(t), buf, sizeof buf), -1);
    /* truncated: the full length comes back, cap bytes are written */
    buf[1] = 'x';
    assert_int_equal(tok_piece(t, ids[1], buf, 1), 2);
    assert_int_equal(buf[0], ' ');
    assert_int_equal(buf[1], 'x');
    char *text;
    size_t len;
    assert_int_equal(tok_decode(t, ids, n, &text, &len, NULL), KK_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(text, " a<us> \xff", 8);
    free(text);
    int32_t bad[2] = {5, 99999};
    kk_err err;
    assert_int_equal(tok_decode(t, bad, 2, &text, &len, &err), KK_E_RANGE);
    assert_string_equal(err.where, "ids[1]");
    free(ids);
    assert_true(tok_is_eog(t, 2));
    assert_false(tok_is_eog(t, 1));
    tok_free(t);
}

static void init_should_reject_inconsistent_vocabularies(void **state)
{
    (void)state;
    tok *t = NULL;
    kk_err err;
    const char *dup[] = {"a", "b", "a"};
    tok_vocab v = {.n = 3, .text = dup, .bos = -1, .eos = -1, .unk = -1};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_E_DUPLICATE);
    assert_string_equal(err.where, "tokenizer.ggml.tokens[2]");
    assert_null(t);

    const char *bytes[] = {"a", "<0xZZ>"};
    int32_t types[] = {TOK_TYPE_NORMAL, TOK_TYPE_BYTE};
    v = (tok_vocab){.n = 2, .text = bytes, .types = types, .bos = -1,
                    .eos = -1, .unk = -1};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_E_FORMAT);
    assert_string_equal(err.where, "tokenizer.ggml.tokens[1]");

    const char *ok[] = {"a", "b"};
    v = (tok_vocab){.n = 2, .text = ok, .bos = 2, .eos = -1, .unk = -1};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_E_RANGE);
    assert_string_equal(err.where, "tokenizer.ggml.bos_token_id");

    v = (tok_vocab){.n = 2, .text = ok, .bos = -1, .eos = -1, .unk = -1,
                    .add_bos = true};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_E_MISSING);
    assert_string_equal(err.where, "tokenizer.ggml.add_bos_token");

    float nan_scores[] = {0.0f, NAN};
    v = (tok_vocab){.n = 2, .text = ok, .scores = nan_scores, .bos = -1,
                    .eos = -1, .unk = -1};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_E_RANGE);
    assert_string_equal(err.where, "tokenizer.ggml.scores[1]");

    /* empty texts are renamed as llama.cpp does, not rejected */
    const char *empty[] = {"a", ""};
    v = (tok_vocab){.n = 2, .text = empty, .bos = -1, .eos = -1, .unk = -1};
    assert_int_equal(tok_init_from_vocab(&t, &v, &err), KK_OK);
    size_t len;
    const char *tx = tok_text(t, 1, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(tx, "[EMPTY_1]", 9);
    tok_free(t);
    tok_free(NULL);
}

/* ---- random text: fast path against the plain one, and round trips ----- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random text of pieces from `alpha` (NULL-terminated). */
static size_t random_text(uint64_t *rng, const char *const *alpha, size_t n_alpha,
                          char *buf, size_t cap)
{
    size_t len = 0, parts = 1 + rng_next(rng) % 24;
    for (size_t p = 0; p < parts; p++) {
        const char *a = alpha[rng_next(rng) % n_alpha];
        size_t al = strlen(a);
        if (al == 0)
            al = 1; /* "" stands for a NUL byte */
        if (len + al > cap)
            break;
        memcpy(buf + len, a, al);
        len += al;
    }
    return len;
}

static const char *const ALPHA[] = {
    "a", "b", "c", "A", " ", "  ", "\n", "\t", "\xc3\xa9", "\xe6\x97\xa5",
    "\xf0\x9f\x99\x82", "\xff", "\x80", "\xc3", "\xe6\x97", "<us>", "<s>",
    "<unk>", SP, "abc", "ab", "z", "", "1", ".",
};
#define N_ALPHA (sizeof ALPHA / sizeof ALPHA[0])

/* Strict UTF-8 (RFC 3629). */
static bool utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n || (k == 2 && c < 0xc2))
            return false;
        uint32_t cp = k == 1 ? c : c & (0x7f >> k);
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

/* Whether decode(encode(s)) must give " " + s back. Not for: invalid UTF-8
 * (llama.cpp escapes spaces before splitting, so an invalid lead byte can
 * swallow part of an escaped space, which then decodes as raw bytes),
 * U+2581 in the input (decodes to a space), and user-defined tokens (the
 * text after one gets its own space prefix). */
static bool round_trips(const char *s, size_t n)
{
    return utf8_valid(s, n) && !memmem(s, n, SP, 3) && !memmem(s, n, "<us>", 4);
}

/* decode(encode(s)) == " " + s (space prefix), checked byte for byte when
 * round_trips(s); @return whether it was checked. */
static int check_round_trip(const tok *t, const char *s, size_t len)
{
    int32_t *ids;
    size_t n;
    assert_int_equal(tok_encode(t, s, len, false, &ids, &n, NULL), KK_OK);
    char *back;
    size_t blen;
    assert_int_equal(tok_decode(t, ids, n, &back, &blen, NULL), KK_OK);
    if (!round_trips(s, len)) {
        free(back);
        free(ids);
        return 0;
    }
    size_t pre = tok_add_space_prefix(t) && len > 0 ? 1 : 0;
    if (blen != len + pre || (pre && back[0] != ' ') || memcmp(back + pre, s, len) != 0)
        fail_msg("round trip of %zu bytes gave %zu bytes", len, blen);
    free(back);
    free(ids);
    return 1;
}

static void check_fast_equals_ref(const tok *t, const char *s, size_t len, bool special)
{
    int32_t *a, *b;
    size_t na, nb;
    kk_err err;
    assert_int_equal(tok_encode_ex(t, s, len, true, special, &a, &na, &err), KK_OK);
    assert_int_equal(tok_encode_ref(t, s, len, true, special, &b, &nb, &err), KK_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    free(a);
    free(b);
}

static void encode_should_agree_with_the_plain_path_on_random_text(void **state)
{
    (void)state;
    tok *t = hand_tok(true);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char buf[256];
    int n_rt = 0;
    for (int i = 0; i < 3000; i++) {
        size_t len = random_text(&rng, ALPHA, N_ALPHA, buf, sizeof buf);
        check_fast_equals_ref(t, buf, len, i & 1);
        n_rt += check_round_trip(t, buf, len);
    }
    assert_true(n_rt >= 200); /* the round trip was exercised */
    tok_free(t);
}

/* The oracle bites: breaking the tie rule on purpose changes the result
 * (so the comparison above can fail). */
static void plain_path_should_detect_a_rightmost_tie_break(void **state)
{
    (void)state;
    tok *t = hand_tok(false);
    int32_t *ids;
    size_t n;
    assert_int_equal(tok_encode_ref(t, "aaa", 3, false, false, &ids, &n, NULL), KK_OK);
    char *got = show(t, ids, n);
    assert_string_not_equal(got, "a|aa"); /* what rightmost-first would give */
    assert_string_equal(got, "aa|a");
    free(got);
    free(ids);
    tok_free(t);
}

/* ---- the llama.cpp fixtures -------------------------------------------- */

static tok *stories_tok(gguf_file **gf)
{
    char path[2048];
    if (!tu_fixture(path, sizeof path, "models/stories260K.gguf"))
        return NULL;
    kk_err err;
    if (gguf_open(gf, path, &err) != KK_OK)
        fail_msg("%s: %s", path, err.msg);
    tok *t = NULL;
    if (tok_init_from_gguf(&t, *gf, &err) != KK_OK)
        fail_msg("%s: %s (at %s)", path, err.msg, err.where);
    return t;
}

#define REQUIRE_STORIES(t, gf)                                                \
    gguf_file *gf = NULL;                                                     \
    tok *t = stories_tok(&gf);                                                \
    if (!t) {                                                                 \
        char p_[2048];                                                        \
        TU_REQUIRE_FIXTURE(p_, "models/stories260K.gguf");                    \
    }

static json_doc *load_json(const char *rel)
{
    char path[2048];
    if (!tu_fixture(path, sizeof path, rel))
        return NULL;
    json_doc *doc = NULL;
    kk_err err;
    if (json_parse_file(path, NULL, &doc, &err) != KK_OK)
        fail_msg("%s: %s", path, err.msg);
    return doc;
}

static void expect_ids(const tok *t, const char *name, const char *text, size_t len,
                       const json_value *want)
{
    assert_non_null(want);
    assert_int_equal(want->type, JSON_ARRAY);
    int32_t *ids;
    size_t n;
    kk_err err;
    assert_int_equal(tok_encode(t, text, len, true, &ids, &n, &err), KK_OK);
    bool same = n == want->u.arr.n;
    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == (int32_t)want->u.arr.items[i]->u.num.d;
    if (!same) {
        char *got = show(t, ids, n);
        fail_msg("case %s: got %zu ids (%s), want %zu", name, n, got, want->u.arr.n);
    }
    free(ids);
}

static void stories260K_should_tokenize_every_fixture_case_exactly(void **state)
{
    (void)state;
    REQUIRE_STORIES(t, gf);
    json_doc *doc = load_json("models/stories260K.tokenizer.json");
    if (!doc) {
        char p[2048];
        TU_REQUIRE_FIXTURE(p, "models/stories260K.tokenizer.json");
    }
    const json_value *cases = json_obj_get(json_doc_root(doc), "cases");
    assert_non_null(cases);
    assert_true(cases->u.arr.n >= 7);
    for (size_t i = 0; i < cases->u.arr.n; i++) {
        const json_value *c = cases->u.arr.items[i];
        const json_value *name = json_obj_get(c, "name");
        const json_value *text = json_obj_get(c, "text");
        assert_non_null(text);
        expect_ids(t, name->u.str.s, text->u.str.s, text->u.str.len,
                   json_obj_get(c, "tokens"));
    }
    json_doc_free(doc);
    tok_free(t);
    gguf_close(gf);
}

static void hex_of(const char *s, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (uint8_t)s[i]);
    out[2 * n] = '\0';
}

/* prompt_tokens of every reference case; for stories260K also the pieces of
 * the greedy ids against greedy_bytes_hex (the qwen3 files share the
 * vocabulary: their bytes come from random weights but decode the same). */
static void ref_prompts_and_greedy_bytes_should_match_llama_cpp(void **state)
{
    (void)state;
    REQUIRE_STORIES(t, gf);
    static const char *const refs[] = {
        "models/stories260K.ref.json", "models/stories260K-q8_0.ref.json",
        "models/rand-qwen3-a.ref.json", "models/rand-qwen3-wide.ref.json"};
    size_t n_cases = 0;
    for (size_t r = 0; r < 4; r++) {
        json_doc *doc = load_json(refs[r]);
        if (!doc) {
            fprintf(stderr, "SKIP: %s absent\n", refs[r]);
            continue;
        }
        const json_value *cases = json_obj_get(json_doc_root(doc), "cases");
        assert_non_null(cases);
        for (size_t i = 0; i < cases->u.arr.n; i++) {
            const json_value *c = cases->u.arr.items[i];
            const json_value *name = json_obj_get(c, "name");
            const json_value *prompt = json_obj_get(c, "prompt");
            expect_ids(t, name->u.str.s, prompt->u.str.s, prompt->u.str.len,
                       json_obj_get(c, "prompt_tokens"));
            const json_value *greedy = json_obj_get(c, "greedy");
            const json_value *hex = json_obj_get(c, "greedy_bytes_hex");
            assert_non_null(greedy);
            assert_non_null(hex);
            int32_t *ids = malloc(greedy->u.arr.n * sizeof *ids);
            for (size_t k = 0; k < greedy->u.arr.n; k++)
                ids[k] = (int32_t)greedy->u.arr.items[k]->u.num.d;
            char *text;
            size_t len;
            assert_int_equal(tok_decode(t, ids, greedy->u.arr.n, &text, &len, NULL), KK_OK);
            char *h = malloc(2 * len + 1);
            hex_of(text, len, h);
            if (strcmp(h, hex->u.str.s) != 0)
                fail_msg("%s %s: greedy pieces %s, want %s", refs[r],
                         name->u.str.s, h, hex->u.str.s);
            free(h);
            free(text);
            free(ids);
            n_cases++;
        }
        json_doc_free(doc);
    }
    assert_true(n_cases > 0);
    tok_free(t);
    gguf_close(gf);
}

static void stories260K_should_agree_with_the_plain_path_and_round_trip(void **state)
{
    (void)state;
    REQUIRE_STORIES(t, gf);
    /* Alphabet: the vocabulary's normal tokens unescaped, plus characters
     * that need byte fallback. */
    int32_t nv = tok_n_vocab(t);
    char **alpha = calloc((size_t)nv + 8, sizeof *alpha);
    size_t na = 0;
    for (int32_t id = 0; id < nv; id++) {
        if (tok_get_type(t, id) != TOK_TYPE_NORMAL)
            continue;
        char piece[64];
        int n = tok_piece(t, id, piece, sizeof piece - 1);
        if (n <= 0 || n >= (int)sizeof piece)
            continue;
        piece[n] = '\0';
        alpha[na++] = strdup(piece);
    }
    static const char *const extra[] = {"\xc3\xa9", "\xe6\x97\xa5", "\n", "\t",
                                        "  ", "\xf0\x9f\x99\x82", "\xff", "Q"};
    for (size_t i = 0; i < 8; i++)
        alpha[na++] = strdup(extra[i]);
    uint64_t rng = 12345;
    char buf[512];
    int n_rt = 0;
    for (int i = 0; i < 2000; i++) {
        size_t len = random_text(&rng, (const char *const *)alpha, na, buf, sizeof buf);
        check_fast_equals_ref(t, buf, len, false);
        n_rt += check_round_trip(t, buf, len);
    }
    assert_true(n_rt >= 200);
    for (size_t i = 0; i < na; i++)
        free(alpha[i]);
    free(alpha);
    tok_free(t);
    gguf_close(gf);
}

/* 100 KB of text: the O(n log n) path finishes (the timing is measured in
 * docs/tokenizer.md, never asserted) and round-trips. */
static void encode_should_handle_100KB_of_text(void **state)
{
    (void)state;
    REQUIRE_STORIES(t, gf);
    static const char *const words[] = {"Once", "upon", "a", "time", "there",
                                        "was", "little", "girl", "named",
                                        "Lily.", "She", "liked", "\n", "caf\xc3\xa9"};
    size_t cap = 100 * 1024, len = 0;
    char *s = malloc(cap);
    uint64_t rng = 7;
    while (true) {
        const char *w = words[rng_next(&rng) % 14];
        size_t wl = strlen(w);
        if (len + wl + 1 > cap)
            break;
        memcpy(s + len, w, wl);
        len += wl;
        s[len++] = ' ';
    }
    assert_true(check_round_trip(t, s, len));
    /* all spaces: the longest merge chains */
    memset(s, ' ', len);
    assert_true(check_round_trip(t, s, len));
    free(s);
    tok_free(t);
    gguf_close(gf);
}

/* ---- GGUF metadata: defaults, "none" ids and located errors ------------ */

/* A metadata-only GGUF v3 file built byte by byte. */
typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void gb_put(gbuf *g, const void *d, size_t n)
{
    while (g->n + n > g->cap)
        g->p = realloc(g->p, g->cap = g->cap ? 2 * g->cap : 256);
    memcpy(g->p + g->n, d, n);
    g->n += n;
}
static void gb_u32(gbuf *g, uint32_t v) { gb_put(g, &v, 4); }
static void gb_u64(gbuf *g, uint64_t v) { gb_put(g, &v, 8); }
static void gb_str(gbuf *g, const char *s) { gb_u64(g, strlen(s)); gb_put(g, s, strlen(s)); }
static void gb_key(gbuf *g, const char *k, uint32_t type) { gb_str(g, k); gb_u32(g, type); g->n_kv++; }

static void gb_tokens(gbuf *g, const char *const *t, uint64_t n)
{
    gb_key(g, "tokenizer.ggml.tokens", GGUF_TYPE_ARRAY);
    gb_u32(g, GGUF_TYPE_STRING);
    gb_u64(g, n);
    for (uint64_t i = 0; i < n; i++)
        gb_str(g, t[i]);
}
static void gb_i32s(gbuf *g, const char *key, const int32_t *v, uint64_t n)
{
    gb_key(g, key, GGUF_TYPE_ARRAY);
    gb_u32(g, GGUF_TYPE_INT32);
    gb_u64(g, n);
    gb_put(g, v, 4 * n);
}

/* Parse g as a file; the header goes in front now that n_kv is known. */
static kk_code gb_tok(gbuf *g, tok **t, kk_err *err, gguf_file **gf)
{
    gbuf h = {0};
    gb_put(&h, "GGUF", 4);
    gb_u32(&h, 3);
    gb_u64(&h, 0);
    gb_u64(&h, g->n_kv);
    gb_put(&h, g->p, g->n);
    static const uint8_t zeros[32];
    gb_put(&h, zeros, (32 - h.n % 32) % 32); /* data section alignment */
    free(g->p);
    *g = h;
    kk_code rc = gguf_parse_buffer(gf, g->p, g->n, "mem.gguf", err);
    if (rc != KK_OK)
        fail_msg("gguf: %s", err->msg);
    return tok_init_from_gguf(t, *gf, err);
}

static const char *const TOKS[] = {"<unk>", "<s>", "</s>", "<0x41>", SP "A"};
static const int32_t TYPES[] = {2, 3, 3, 6, 1};

static void init_from_gguf_should_take_llama_cpp_defaults(void **state)
{
    (void)state;
    gbuf g = {0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    gb_tokens(&g, TOKS, 5);
    gb_i32s(&g, "tokenizer.ggml.token_type", TYPES, 5);
    gb_key(&g, "tokenizer.ggml.bos_token_id", GGUF_TYPE_UINT32);
    gb_u32(&g, 0xFFFFFFFFu); /* out of range: the default 1 stays */
    gb_key(&g, "tokenizer.ggml.padding_token_id", GGUF_TYPE_UINT32);
    gb_u32(&g, 0xFFFFFFFFu);
    tok *t = NULL;
    gguf_file *gf = NULL;
    kk_err err;
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_OK);
    assert_int_equal(tok_bos(t), 1);
    /* kept quietly by the engine, returned for the CLI to print */
    assert_int_equal(tok_n_warnings(t), 1);
    assert_non_null(strstr(tok_warning(t, 0), "tokenizer.ggml.bos_token_id = 4294967295"));
    assert_non_null(strstr(tok_warning(t, 0), "the default 1 is kept"));
    assert_null(tok_warning(t, 1));
    assert_int_equal(tok_eos(t), 2);
    assert_int_equal(tok_unk(t), 0);
    assert_true(tok_add_bos(t));
    assert_true(tok_add_space_prefix(t));
    int32_t *ids;
    size_t n;
    assert_int_equal(tok_encode(t, "AA", 2, true, &ids, &n, NULL), KK_OK);
    assert_int_equal(n, 3); /* <s> ▁A <0x41>: no scores means all 0 */
    assert_int_equal(ids[1], 4);
    assert_int_equal(ids[2], 3);
    free(ids);
    tok_free(t);
    gguf_close(gf);
    free(g.p);
}

static void init_from_gguf_should_locate_bad_tokenizer_metadata(void **state)
{
    (void)state;
    tok *t = NULL;
    gguf_file *gf = NULL;
    kk_err err;
    /* token_type shorter than the token list */
    gbuf g = {0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    gb_tokens(&g, TOKS, 5);
    gb_i32s(&g, "tokenizer.ggml.token_type", TYPES, 4);
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_RANGE);
    assert_string_equal(err.where, "tokenizer.ggml.token_type");
    assert_string_equal(err.file, "mem.gguf");
    assert_true(err.offset > 0);
    assert_null(t);
    gguf_close(gf);
    free(g.p);

    /* a special id that is not UINT32 (llama.cpp: "wrong type") */
    g = (gbuf){0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    gb_tokens(&g, TOKS, 5);
    gb_key(&g, "tokenizer.ggml.unknown_token_id", GGUF_TYPE_INT32);
    gb_u32(&g, 0);
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_TYPE);
    assert_string_equal(err.where, "tokenizer.ggml.unknown_token_id");
    assert_string_equal(err.file, "mem.gguf");
    assert_non_null(strstr(err.msg, "int32"));
    assert_null(t);
    gguf_close(gf);
    free(g.p);

    /* another tokenizer model */
    g = (gbuf){0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "t5");
    gb_tokens(&g, TOKS, 5);
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_UNSUPPORTED);
    assert_string_equal(err.where, "tokenizer.ggml.model");
    gguf_close(gf);
    free(g.p);

    /* no token list */
    g = (gbuf){0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_MISSING);
    assert_string_equal(err.where, "tokenizer.ggml.tokens");
    gguf_close(gf);
    free(g.p);

    /* scores of the wrong type */
    g = (gbuf){0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    gb_tokens(&g, TOKS, 5);
    gb_key(&g, "tokenizer.ggml.scores", GGUF_TYPE_STRING);
    gb_str(&g, "high");
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_TYPE);
    assert_string_equal(err.where, "tokenizer.ggml.scores");
    gguf_close(gf);
    free(g.p);

    /* a duplicate token: located at its index */
    static const char *const dup[] = {"<unk>", "<s>", "</s>", "x", "x"};
    g = (gbuf){0};
    gb_key(&g, "tokenizer.ggml.model", GGUF_TYPE_STRING);
    gb_str(&g, "llama");
    gb_tokens(&g, dup, 5);
    assert_int_equal(gb_tok(&g, &t, &err, &gf), KK_E_DUPLICATE);
    assert_string_equal(err.where, "tokenizer.ggml.tokens[4]");
    assert_string_equal(err.file, "mem.gguf");
    gguf_close(gf);
    free(g.p);
}

/* A byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") in memory:
 * texts, types, the pre-tokenizer (NULL: not written) and merges (NULL:
 * no tokenizer.ggml.merges key). */
static gguf_file *gpt2_gguf(const char *pre, const char *const *merges, size_t n_merges,
                            uint8_t **buf)
{
    static const char *const texts[] = {"!", "\xc4\xa0hello", "\xc4\x8a", "\xc3\x83\xc2\xa9",
                                        "<|endoftext|>", "<think>", "\xc4\xa0\xc4\xa0", "\xe4\xb8\xad"};
    const int32_t types[] = {1, 1, 1, 1, 3, 4, 1, 1};
    gguf_writer *w = gguf_writer_init(3, 32);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), KK_OK);
    if (pre)
        assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), KK_OK);
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", texts, 8), KK_OK);
    assert_int_equal(gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", types, 8), KK_OK);
    if (merges)
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, n_merges),
                         KK_OK);
    assert_int_equal(gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 4), KK_OK);
    size_t len = 0;
    kk_err e;
    assert_int_equal(gguf_writer_to_buffer(w, buf, &len, &e), KK_OK);
    gguf_writer_free(w);
    gguf_file *f = NULL;
    assert_int_equal(gguf_parse_buffer(&f, *buf, len, "bpe.gguf", &e), KK_OK);
    return f;
}

/* Decoding maps GPT-2's byte-to-unicode texts back to bytes (U+0120 ->
 * ' ', U+010A -> newline, U+00C3 U+00A9 -> the two bytes of e-acute),
 * control tokens print nothing, user-defined ones their text; llama.cpp's
 * gpt2 defaults (no UNK, BOS/EOS 11: outside this vocabulary, so none). */
static void gpt2_vocabularies_should_decode_to_bytes(void **state)
{
    (void)state;
    static const char *const merges[] = {"\xc4\xa0 \xc4\xa0"};
    uint8_t *buf = NULL;
    gguf_file *f = gpt2_gguf("qwen2", merges, 1, &buf);
    tok *t = NULL;
    kk_err e;
    assert_int_equal(tok_init_from_gguf(&t, f, &e), KK_OK);
    assert_int_equal(tok_eos(t), 4);
    assert_int_equal(tok_bos(t), -1);
    assert_int_equal(tok_unk(t), -1);
    assert_false(tok_add_bos(t));
    const int32_t ids[] = {1, 2, 3, 0, 4, 5, 6, 7};
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(tok_decode(t, ids, 8, &text, &n, &e), KK_OK);
    const char want[] = " hello\n\xc3\xa9!<think>  \xe4\xb8\xad";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(text, want, n);
    free(text);
    tok_free(t);
    gguf_close(f);
    free(buf);
}

/* What llama.cpp refuses, refused by name: a gpt2 vocabulary without
 * merges (at load: "cannot find tokenizer merges"), or with merges of
 * another type; a pre-tokenizer we do not build (absent: llama.cpp's
 * 'default', std::regex-based) when encoding, naming it and --tokens. */
static void gpt2_vocabularies_should_refuse_what_they_cannot_encode(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    tok *t = NULL;
    kk_err e;
    gguf_file *f = gpt2_gguf("qwen2", NULL, 0, &buf);
    assert_int_equal(tok_init_from_gguf(&t, f, &e), KK_E_MISSING);
    assert_string_equal(e.where, "tokenizer.ggml.merges");
    assert_string_equal(e.file, "bpe.gguf");
    assert_null(t);
    gguf_close(f);
    free(buf);

    static const char *const merges[] = {"\xc4\xa0 \xc4\xa0"};
    const char *const pres[] = {"default", NULL, "gemma4"};
    for (size_t k = 0; k < 3; k++) {
        f = gpt2_gguf(pres[k], merges, 1, &buf);
        assert_int_equal(tok_init_from_gguf(&t, f, &e), KK_OK);
        int32_t *out = NULL;
        size_t n_out = 0;
        assert_int_equal(tok_encode(t, "hello", 5, false, &out, &n_out, &e), KK_E_UNSUPPORTED);
        assert_non_null(strstr(e.msg, pres[k] ? pres[k] : "(absent)"));
        assert_non_null(strstr(e.msg, "--tokens"));
        assert_null(out);
        tok_free(t);
        gguf_close(f);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_vocabularies_should_decode_to_bytes),
        cmocka_unit_test(gpt2_vocabularies_should_refuse_what_they_cannot_encode),
        cmocka_unit_test(encode_should_prefer_the_leftmost_pair_when_scores_tie),
        cmocka_unit_test(encode_should_merge_the_highest_scoring_pair_first),
        cmocka_unit_test(encode_should_fall_back_to_byte_tokens_for_unknown_characters),
        cmocka_unit_test(encode_should_return_only_bos_for_empty_text),
        cmocka_unit_test(encode_should_escape_spaces_and_merge_runs_of_them),
        cmocka_unit_test(encode_should_split_invalid_utf8_like_llama_cpp),
        cmocka_unit_test(encode_should_split_at_special_tokens_like_llama_cpp),
        cmocka_unit_test(piece_should_decode_like_token_to_piece_without_special),
        cmocka_unit_test(init_should_reject_inconsistent_vocabularies),
        cmocka_unit_test(encode_should_agree_with_the_plain_path_on_random_text),
        cmocka_unit_test(plain_path_should_detect_a_rightmost_tie_break),
        cmocka_unit_test(stories260K_should_tokenize_every_fixture_case_exactly),
        cmocka_unit_test(ref_prompts_and_greedy_bytes_should_match_llama_cpp),
        cmocka_unit_test(stories260K_should_agree_with_the_plain_path_and_round_trip),
        cmocka_unit_test(encode_should_handle_100KB_of_text),
        cmocka_unit_test(init_from_gguf_should_take_llama_cpp_defaults),
        cmocka_unit_test(init_from_gguf_should_locate_bad_tokenizer_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
