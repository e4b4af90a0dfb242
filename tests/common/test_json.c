/*
 * Tests of the strict JSON reader (common/json*.c): RFC 8259's grammar case
 * by case with exact error locations, JSONTestSuite (every y_ accepted,
 * every n_ rejected, the i_ ones as docs/json.md says), limits, exact
 * numbers, equality, the writers, and the fast paths against their plain
 * versions (json_num_to_double_ref, tests/common/json_ref.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json_ref.h"
#include "common/json_suite_vectors.h"
#include "json.h"
#include "sha256.h"
#include "json_internal.h"

/* json.h's default max_depth (json.c JSON_DEFAULT_MAX_DEPTH). */
#define DEFAULT_DEPTH 512

/* ---- helpers ------------------------------------------------------------- */

/* Parses text of len bytes; the plain validator must agree on the outcome. */
static kk_code parse_n(const char *text, size_t len, size_t max_depth,
                       json_doc **doc, kk_err *err)
{
    json_parse_opts o = {.max_depth = max_depth};
    kk_code rc = json_parse(text, len, "t.json", &o, doc, err);
    size_t depth = max_depth ? max_depth : DEFAULT_DEPTH;
    /* The plain validator recurses: only ask it when that is shallow. */
    if (depth <= 4096) {
        jref_result ref = jref_check(text, len, depth);
        assert_int_equal(rc == KK_OK, ref == JREF_OK);
        assert_int_equal(rc == KK_E_LIMIT, ref == JREF_LIMIT);
    }
    return rc;
}

static json_doc *parse_ok(const char *text)
{
    json_doc *d = NULL;
    kk_err e;
    kk_code rc = parse_n(text, strlen(text), 0, &d, &e);
    if (rc != KK_OK)
        fail_msg("'%s' rejected: %s (offset %lld)", text, e.msg, (long long)e.offset);
    assert_non_null(d);
    return d;
}

/* Rejected with KK_E_FORMAT at this offset, line and column. */
static void expect_format_at(const char *text, size_t len, int64_t offset,
                             int line, int col)
{
    json_doc *d = (json_doc *)1;
    kk_err e;
    kk_code rc = parse_n(text, len, 0, &d, &e);
    if (rc != KK_E_FORMAT || e.offset != offset || e.line != line || e.col != col)
        fail_msg("input of %zu bytes: want format error at %lld (%d:%d), got code %d "
                 "at %lld (%d:%d): %s", len, (long long)offset, line, col, (int)rc,
                 (long long)e.offset, e.line, e.col, e.msg);
    assert_null(d);
    assert_string_equal(e.file, "t.json");
}

#define REJECT_AT(lit, off) expect_format_at((lit), sizeof(lit) - 1, (off), 1, (off) + 1)

/* The error's line/col must be where its offset is. */
static void assert_location_consistent(const char *text, size_t len, const kk_err *e)
{
    assert_true(e->offset >= 0 && (size_t)e->offset <= len);
    int line = 1, col = 1;
    for (int64_t i = 0; i < e->offset; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    assert_int_equal(e->line, line);
    assert_int_equal(e->col, col);
}

static const json_value *num(json_doc *d)
{
    const json_value *v = json_doc_root(d);
    assert_int_equal(v->type, JSON_NUMBER);
    return v;
}

/* Compare two number literals through json_num_cmp. */
static int cmp_lits(const char *a, const char *b)
{
    json_doc *da = parse_ok(a), *db = parse_ok(b);
    int c = json_num_cmp(num(da), num(db));
    json_doc_free(da);
    json_doc_free(db);
    return c < 0 ? -1 : c > 0;
}

static char *repeat(const char *unit, size_t n, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *b = malloc(u * n + t + 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        memcpy(b + i * u, unit, u);
    memcpy(b + u * n, tail, t + 1);
    return b;
}

/* ---- JSONTestSuite --------------------------------------------------------- */

static void every_jsontestsuite_y_case_is_accepted(void **state)
{
    (void)state;
    assert_int_equal(JSON_SUITE_N(json_suite_y), 95);
    for (size_t i = 0; i < JSON_SUITE_N(json_suite_y); i++) {
        const json_suite_case *c = &json_suite_y[i];
        json_doc *d = NULL;
        kk_err e;
        if (parse_n(c->bytes, c->len, 0, &d, &e) != KK_OK)
            fail_msg("%s rejected: %s", c->name, e.msg);
        json_doc_free(d);
    }
}

static void check_n_case(const json_suite_case *c)
{
    size_t len = c->len;
    char *big = c->bytes ? NULL : json_suite_big(c->name, &len);
    const char *bytes = c->bytes ? c->bytes : big;
    assert_non_null(bytes);
    json_doc *d = (json_doc *)1;
    kk_err e;
    kk_code rc = parse_n(bytes, len, 0, &d, &e);
    if (rc != KK_E_FORMAT && rc != KK_E_LIMIT)
        fail_msg("%s: want a format or limit error, got code %d", c->name, (int)rc);
    assert_null(d);
    assert_location_consistent(bytes, len, &e);
    free(big);
}

static void every_jsontestsuite_n_case_is_rejected_with_a_location(void **state)
{
    (void)state;
    assert_int_equal(JSON_SUITE_N(json_suite_n), 188);
    for (size_t i = 0; i < JSON_SUITE_N(json_suite_n); i++)
        check_n_case(&json_suite_n[i]);
    for (size_t i = 0; i < JSON_SUITE_N(json_suite_n_new); i++)
        check_n_case(&json_suite_n_new[i]);
}

/* With a depth limit high enough, the two nesting bombs are syntax errors
 * (unterminated), found without recursion. */
static void the_nesting_bombs_are_format_errors_when_the_limit_allows_them(void **state)
{
    (void)state;
    const char *names[] = {"n_structure_100000_opening_arrays",
                           "n_structure_open_array_object"};
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        char *b = json_suite_big(names[i], &len);
        json_doc *d = NULL;
        kk_err e;
        json_parse_opts o = {.max_depth = 200000};
        assert_int_equal(json_parse(b, len, "t", &o, &d, &e), KK_E_FORMAT);
        assert_int_equal(e.offset, (int64_t)len);
        free(b);
    }
}

static void jsontestsuite_i_cases_behave_as_documented(void **state)
{
    (void)state;
    assert_int_equal(JSON_SUITE_N(json_suite_i), 35);
    size_t n_acc = 0;
    for (size_t i = 0; i < JSON_SUITE_N(json_suite_i); i++) {
        const json_suite_icase *c = &json_suite_i[i];
        json_doc *d = NULL;
        kk_err e;
        kk_code rc = parse_n(c->bytes, c->len, 0, &d, &e);
        if ((rc == KK_OK) != c->accepted)
            fail_msg("%s: documented %s, got code %d (%s)", c->name,
                     c->accepted ? "accepted" : "rejected", (int)rc, e.msg);
        if (rc != KK_OK)
            assert_int_equal(rc, KK_E_FORMAT);
        n_acc += rc == KK_OK;
        json_doc_free(d);
    }
    /* docs/json.md: the 10 big-number cases and 500 nested arrays. */
    assert_int_equal(n_acc, 11);
}

/* ---- numbers: grammar -------------------------------------------------------- */

static void leading_zeros_are_rejected_at_the_second_digit(void **state)
{
    (void)state;
    REJECT_AT("01", 1);
    REJECT_AT("[012]", 2);
    REJECT_AT("-01", 2);
    REJECT_AT("00.5", 1);
    REJECT_AT("[-00e0]", 3);
}

static void a_point_needs_digits_on_both_sides(void **state)
{
    (void)state;
    REJECT_AT("2.", 2);    /* end of input after '.' */
    REJECT_AT("[2.]", 3);
    REJECT_AT(".5", 0);
    REJECT_AT("-.5", 1);
    REJECT_AT("2.e3", 2);
    REJECT_AT("[0.e1]", 3);
}

static void signs_and_exponents_follow_the_grammar(void **state)
{
    (void)state;
    REJECT_AT("+1", 0);
    REJECT_AT("-", 1);
    REJECT_AT("[-]", 2);
    REJECT_AT("- 1", 1);
    REJECT_AT("1e", 2);
    REJECT_AT("1e+", 3);
    REJECT_AT("1e+-1", 3);
    REJECT_AT("1E", 2);
    REJECT_AT("0x10", 1); /* '0' is a number; 'x' is trailing garbage */
    REJECT_AT("1.5.2", 3);
}

static void infinity_and_nan_are_not_numbers(void **state)
{
    (void)state;
    REJECT_AT("Infinity", 0);
    REJECT_AT("-Infinity", 1);
    REJECT_AT("NaN", 0);
    REJECT_AT("[nan]", 1);
    REJECT_AT("[-NaN]", 2);
}

/* ---- strings: grammar ---------------------------------------------------------- */

static void every_raw_control_character_in_a_string_is_rejected(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char s[6] = {'"', 'a', (char)c, 'b', '"', 0};
        expect_format_at(s, 5, 2, 1, 3);
        char k[9] = {'{', '"', (char)c, '"', ':', '1', '}', 0};
        expect_format_at(k, 7, 2, 1, 3);
    }
    /* Also after 8+ plain bytes, where the word-at-a-time scan finds it. */
    for (int c = 0; c < 0x20; c++) {
        char s[24];
        memcpy(s, "\"abcdefghijklmnop", 17);
        s[17] = (char)c;
        memcpy(s + 18, "xyz\"", 4);
        expect_format_at(s, 22, 17, 1, 18);
    }
    /* DEL (0x7f) is not a control character for JSON. */
    json_doc_free(parse_ok("\"a\177b\""));
}

static void invalid_escapes_are_rejected_at_the_escape_character(void **state)
{
    (void)state;
    REJECT_AT("\"\\a\"", 2);
    REJECT_AT("\"\\x41\"", 2);
    REJECT_AT("\"\\U0041\"", 2);
    REJECT_AT("\"\\'\"", 2);
    REJECT_AT("\"\\0\"", 2);
    REJECT_AT("\"\\012\"", 2);
    REJECT_AT("\"\\ \"", 2);
    expect_format_at("\"\\\0\"", 4, 2, 1, 3);
    REJECT_AT("\"abc\\", 5); /* the input ends after the backslash */
}

static void a_u_escape_needs_four_hex_digits(void **state)
{
    (void)state;
    REJECT_AT("\"\\u12G4\"", 5);
    REJECT_AT("\"\\uqqqq\"", 3);
    REJECT_AT("\"\\u00A\"", 6);
    REJECT_AT("\"\\u", 3);
    REJECT_AT("\"\\u-123\"", 3);
    expect_format_at("\"\\u\xe5\"", 5, 3, 1, 4);
    json_doc *d = parse_ok("\"\\u00e9\\u00C9\\u20ac\"");
    assert_string_equal(json_doc_root(d)->u.str.s, "\xc3\xa9\xc3\x89\xe2\x82\xac");
    json_doc_free(d);
}

static void lone_surrogate_escapes_are_rejected_at_the_backslash(void **state)
{
    (void)state;
    REJECT_AT("\"\\uD800\"", 1);
    REJECT_AT("\"\\udbff\"", 1);
    REJECT_AT("\"\\uDC00\"", 1);
    REJECT_AT("\"ab\\uDFFF\\uD800\"", 3);  /* low before high */
    REJECT_AT("\"\\uD800\\u0041\"", 1);    /* high then not a low */
    REJECT_AT("\"\\uD800\\uD800\"", 1);
    REJECT_AT("\"\\uD800x\"", 1);
    REJECT_AT("\"\\uD800\\n\"", 1);
    REJECT_AT("\"\\uD800", 1);
    REJECT_AT("{\"\\uDFAA\":0}", 2);
}

/* ---- whitespace, structure ---------------------------------------------------- */

static void only_space_tab_newline_and_return_are_whitespace(void **state)
{
    (void)state;
    json_doc_free(parse_ok(" \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n"));
    REJECT_AT("[\f1]", 1);
    REJECT_AT("[\v1]", 1);
    REJECT_AT("\f1", 0);
    REJECT_AT("1\f", 1);
    REJECT_AT("[1\v]", 2);
    REJECT_AT("[\xc2\xa0" "1]", 1);     /* U+00A0 no-break space */
    REJECT_AT("[\xe2\x81\xa0" "1]", 1); /* U+2060 word joiner */
    REJECT_AT("[\xe3\x80\x80" "1]", 1); /* U+3000 ideographic space */
    REJECT_AT("[\0]", 1);
    REJECT_AT("", 0);
    REJECT_AT("   ", 3);
}

static void trailing_garbage_is_rejected_where_it_starts(void **state)
{
    (void)state;
    REJECT_AT("[1] x", 4);
    REJECT_AT("1 2", 2);
    REJECT_AT("{}}", 2);
    REJECT_AT("[]]", 2);
    REJECT_AT("truex", 4);
    REJECT_AT("\"\"x", 2);
    REJECT_AT("[][]", 2);
    expect_format_at("123\0", 4, 3, 1, 4);
    REJECT_AT("nulll", 4);
}

static void trailing_commas_are_rejected_at_the_closing_bracket(void **state)
{
    (void)state;
    REJECT_AT("[1,]", 3);
    REJECT_AT("[1, ]", 4);
    REJECT_AT("{\"a\":1,}", 7);
    REJECT_AT("[,]", 1);
    REJECT_AT("[1,,2]", 3);
    REJECT_AT("{,}", 1);
    REJECT_AT("{\"a\":1,,\"b\":2}", 7);
}

static void single_quotes_and_comments_are_rejected(void **state)
{
    (void)state;
    REJECT_AT("['a']", 1);
    REJECT_AT("{'a':1}", 1);
    REJECT_AT("'a'", 0);
    REJECT_AT("[1/*c*/]", 2);
    REJECT_AT("// c\n1", 0);
    REJECT_AT("1 # c", 2);
    REJECT_AT("{\"a\":/*c*/1}", 5);
    REJECT_AT("[1]//", 3);
}

static void keys_must_be_strings_and_need_a_colon(void **state)
{
    (void)state;
    REJECT_AT("{1:1}", 1);
    REJECT_AT("{a:1}", 1);
    REJECT_AT("{null:1}", 1);
    REJECT_AT("{\"a\" 1}", 5);
    REJECT_AT("{\"a\"::1}", 5);
    REJECT_AT("{\"a\",1}", 4);
    REJECT_AT("{\"a\":1 \"b\":2}", 7);
    REJECT_AT("[1 2]", 3);
    REJECT_AT("[\"a\":1]", 4);
    REJECT_AT("[True]", 1);
    REJECT_AT("[tru]", 1);
    REJECT_AT("[nul", 1);
}

/* Every proper prefix of a valid document is rejected, never read past its
 * end, and the error is located inside it. */
static void every_prefix_of_a_document_is_an_unterminated_error(void **state)
{
    (void)state;
    const char *doc = "{\"a\": [1, \"xy\\u00e9\\ud83d\\ude00\\n\", true, {\"b\": null}],\n"
                      " \"c\": -1.5e3, \"d\": false, \"\\u0000\": \"\xc3\xa9\xf0\x9f\x98\x80\"}";
    size_t n = strlen(doc);
    json_doc_free(parse_ok(doc));
    for (size_t len = 0; len < n; len++) {
        /* An exact-size heap copy, so ASan sees any read past the end. */
        char *p = malloc(len ? len : 1);
        memcpy(p, doc, len);
        json_doc *d = (json_doc *)1;
        kk_err e;
        kk_code rc = parse_n(p, len, 0, &d, &e);
        /* The root is an object: every proper prefix is unterminated. */
        if (rc != KK_E_FORMAT)
            fail_msg("prefix of %zu bytes: code %d", len, (int)rc);
        assert_null(d);
        assert_location_consistent(p, len, &e);
        free(p);
    }
    /* Exact positions at a few cut points. */
    REJECT_AT("[1,", 3);
    REJECT_AT("{\"a\"", 4);
    REJECT_AT("{\"a\":", 5);
    REJECT_AT("\"abc", 4);
    REJECT_AT("[\"a\\", 4);
    REJECT_AT("[", 1);
    REJECT_AT("{", 1);
    REJECT_AT("[[[]]", 5);
    REJECT_AT("[-1.5e", 6);
    REJECT_AT("[tr", 1); /* literals are checked whole, at their start */
}

static void where_names_the_json_pointer_of_the_error(void **state)
{
    (void)state;
    static const struct { const char *text, *where; } t[] = {
        {"01", ""},
        {"[1, 2, 01]", "/2"},
        {"[1, 2 3]", "/2"},
        {"{\"arms\": [{\"a\": 1}, {\"samples\": [1, 2, {\"m\": 01}]}]}",
         "/arms/1/samples/2/m"},
        {"{\"a/b\": {\"c~d\": [tru]}}", "/a~1b/c~0d/0"},
        {"{\"k\\u0000\": x}", "/k\\u0000"},
        {"{\"a\": {1: 2}}", "/a"},
        {"[[], [[\"\x01\"]]]", "/1/0/0"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_doc *d = NULL;
        kk_err e;
        assert_int_equal(parse_n(t[i].text, strlen(t[i].text), 0, &d, &e), KK_E_FORMAT);
        if (strcmp(e.where, t[i].where) != 0)
            fail_msg("%s: where '%s', want '%s'", t[i].text, e.where, t[i].where);
    }
    /* Too deep: the pointer of the container that is one too many. */
    json_doc *d = NULL;
    kk_err e;
    json_parse_opts o = {.max_depth = 2};
    assert_int_equal(json_parse("{\"a\": [0, [1]]}", 15, "t", &o, &d, &e), KK_E_LIMIT);
    assert_string_equal(e.where, "/a/1");
    /* Long pointers are cut with "...". */
    char *deep = repeat("{\"aaaaaaaaaaaaaaaaaaaa\":", 100, "x");
    assert_int_equal(parse_n(deep, strlen(deep), 0, &d, &e), KK_E_FORMAT);
    assert_true(strlen(e.where) < sizeof e.where);
    assert_string_equal(e.where + strlen(e.where) - 3, "...");
    free(deep);
}

static void errors_on_later_lines_give_line_and_column(void **state)
{
    (void)state;
    expect_format_at("{\n  \"a\": 1,\n  \"b\": 01\n}", 23, 20, 3, 9);
    expect_format_at("[\n1,\n\n  x]", 10, 8, 4, 3);
    expect_format_at("[1,\r\n2,]", 8, 7, 2, 3);
    expect_format_at("\n\n\"a\tb\"", 7, 4, 3, 3);
}

/* ---- UTF-8 ------------------------------------------------------------------------ */

static void invalid_utf8_is_rejected_in_strings_keys_and_outside(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc0\xaf", "\xc1\xbf",             /* overlong 2-byte */
        "\xe0\x80\xaf", "\xe0\x9f\xbf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xed\xa0\x80", "\xed\xbf\xbf",     /* UTF-16 surrogates as UTF-8 */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf", /* > U+10FFFF */
        "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", "\xfe", "\xff",
        "\xe2\x82", "\xf0\x9f\x98", "\xc3",  /* truncated */
        "\x80", "\xbf", "\x80\x80",          /* stray continuation bytes */
        "\xc3\x28", "\xe2\x28\xa1", "\xf0\x28\x8c\xbc", /* bad second byte */
        "\xe2\x82\x28", "\xf0\x9f\x98\x28",  /* bad last byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char buf[32];
        size_t n = strlen(bad[i]);
        /* In a string: at the first byte of the bad sequence. */
        snprintf(buf, sizeof buf, "[\"ab%s\"]", bad[i]);
        expect_format_at(buf, n + 6, 4, 1, 5);
        /* After 8+ plain bytes (the word-at-a-time scan). */
        snprintf(buf, sizeof buf, "\"abcdefghij%s\"", bad[i]);
        expect_format_at(buf, n + 12, 11, 1, 12);
        /* In a key. */
        snprintf(buf, sizeof buf, "{\"%s\":1}", bad[i]);
        expect_format_at(buf, n + 5, 2, 1, 3);
        /* Outside strings: no value starts with it. */
        snprintf(buf, sizeof buf, "[%s]", bad[i]);
        expect_format_at(buf, n + 2, 1, 1, 2);
        /* At the very end of the input (truncation by the file's end). */
        snprintf(buf, sizeof buf, "\"%s", bad[i]);
        expect_format_at(buf, n + 1, 1, 1, 2);
    }
    /* The edges of the valid ranges are accepted. */
    json_doc *d = parse_ok("[\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
                           "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]");
    assert_int_equal(json_utf8_count(json_doc_root(d)->u.arr.items[0]->u.str.s,
                                     json_doc_root(d)->u.arr.items[0]->u.str.len), 8);
    json_doc_free(d);
}

static void a_byte_order_mark_is_rejected_with_a_message_that_says_so(void **state)
{
    (void)state;
    json_doc *d = NULL;
    kk_err e;
    assert_int_equal(parse_n("\xef\xbb\xbf{}", 5, 0, &d, &e), KK_E_FORMAT);
    assert_int_equal(e.offset, 0);
    assert_non_null(strstr(e.msg, "byte order mark"));
    REJECT_AT("\xef\xbb\xbf", 0);
    REJECT_AT("\xef\xbb{}", 0);
    REJECT_AT("{}\xef\xbb\xbf", 2); /* elsewhere: plain trailing garbage */
    /* U+FEFF inside a string is an ordinary character. */
    json_doc_free(parse_ok("\"\xef\xbb\xbf\""));
}

/* ---- valid edge cases -------------------------------------------------------- */

static void nesting_exactly_at_the_limit_is_accepted_and_one_more_is_a_limit_error(void **state)
{
    (void)state;
    for (size_t limit = 1; limit <= 1000; limit += 333) {
        char *ok = repeat("[", limit, ""), *both;
        size_t n = strlen(ok);
        both = malloc(2 * n + 3);
        memcpy(both, ok, n);
        memset(both + n, ']', n);
        both[2 * n] = '\0';
        json_doc *d = NULL;
        kk_err e;
        assert_int_equal(parse_n(both, 2 * n, limit, &d, &e), KK_OK);
        json_doc_free(d);
        /* One more level: a limit error at the opening bracket too many. */
        char *deep = malloc(2 * n + 3);
        deep[0] = '[';
        memcpy(deep + 1, both, 2 * n);
        deep[2 * n + 1] = ']';
        assert_int_equal(parse_n(deep, 2 * n + 2, limit, &d, &e), KK_E_LIMIT);
        assert_null(d);
        assert_int_equal(e.offset, (int64_t)limit);
        assert_int_equal(e.col, (int)limit + 1);
        free(ok);
        free(both);
        free(deep);
    }
    /* Objects count as well: 512 levels by default. */
    char *obj = repeat("{\"a\":", DEFAULT_DEPTH, "1");
    char *closed = repeat("}", DEFAULT_DEPTH, "");
    size_t no = strlen(obj), nc = strlen(closed);
    char *full = malloc(no + nc + 1);
    memcpy(full, obj, no);
    memcpy(full + no, closed, nc + 1);
    json_doc *d = NULL;
    kk_err e;
    assert_int_equal(parse_n(full, no + nc, 0, &d, &e), KK_OK);
    json_doc_free(d);
    char *over = malloc(no + nc + 8);
    memcpy(over, "[", 1);
    memcpy(over + 1, full, no + nc);
    memcpy(over + 1 + no + nc, "]", 2);
    assert_int_equal(parse_n(over, no + nc + 2, 0, &d, &e), KK_E_LIMIT);
    assert_int_equal(e.offset, 5 * (DEFAULT_DEPTH - 1) + 1);
    free(obj);
    free(closed);
    free(full);
    free(over);
}

static void depth_100000_is_a_limit_error_or_parses_without_recursion(void **state)
{
    (void)state;
    const size_t depth = 100000;
    char *b = malloc(2 * depth + 1);
    memset(b, '[', depth);
    memset(b + depth, ']', depth);
    json_doc *d = NULL;
    kk_err e;
    assert_int_equal(json_parse(b, 2 * depth, "t", NULL, &d, &e), KK_E_LIMIT);
    assert_int_equal(e.offset, DEFAULT_DEPTH);
    /* Allowed, it parses (an explicit stack, not the C stack). */
    json_parse_opts o = {.max_depth = depth};
    assert_int_equal(json_parse(b, 2 * depth, "t", &o, &d, &e), KK_OK);
    const json_value *v = json_doc_root(d);
    size_t levels = 1;
    while (v->u.arr.n) {
        v = v->u.arr.items[0];
        levels++;
    }
    assert_int_equal(levels, depth);
    json_doc_free(d);
    free(b);
}

static void huge_exponents_are_accepted_and_kept_exact(void **state)
{
    (void)state;
    json_doc *d = parse_ok("[1e999999999999999999999, -1E+400, 1e-99999999999999, "
                           "123e-10000000, 0e99999999999999]");
    const json_value *a = json_doc_root(d);
    assert_true(isinf(a->u.arr.items[0]->u.num.d) && a->u.arr.items[0]->u.num.d > 0);
    assert_true(isinf(a->u.arr.items[1]->u.num.d) && a->u.arr.items[1]->u.num.d < 0);
    assert_true(a->u.arr.items[2]->u.num.d == 0.0);
    assert_true(a->u.arr.items[0]->u.num.is_int);
    assert_true(a->u.arr.items[1]->u.num.is_int);
    assert_false(a->u.arr.items[2]->u.num.is_int);
    assert_false(a->u.arr.items[3]->u.num.is_int);
    assert_true(a->u.arr.items[4]->u.num.is_int);
    assert_true(a->u.arr.items[4]->u.num.d == 0.0);
    assert_true(json_num_cmp(a->u.arr.items[2], a->u.arr.items[4]) > 0);
    assert_true(json_num_cmp(a->u.arr.items[0], a->u.arr.items[1]) > 0);
    /* The literal is kept as written. */
    assert_int_equal(a->u.arr.items[1]->u.num.len, 7);
    assert_memory_equal(a->u.arr.items[1]->u.num.text, "-1E+400", 7);
    json_doc_free(d);
}

static void escaped_nul_is_kept_in_strings_and_keys(void **state)
{
    (void)state;
    json_doc *d = parse_ok("{\"k\\u0000\": \"a\\u0000b\", \"k\": 2, \"\\u0000\": 3}");
    const json_value *o = json_doc_root(d);
    assert_int_equal(o->u.obj.n, 3);
    const json_value *v = json_obj_getn(o, "k\0", 2);
    assert_non_null(v);
    assert_int_equal(v->type, JSON_STRING);
    assert_int_equal(v->u.str.len, 3);
    assert_memory_equal(v->u.str.s, "a\0b", 4); /* and NUL-terminated */
    assert_int_equal(json_obj_get(o, "k")->type, JSON_NUMBER);
    assert_non_null(json_obj_getn(o, "\0", 1));
    assert_null(json_obj_getn(o, "", 0));
    /* json_obj_get takes a C string: "k\0" is the key "k". */
    assert_ptr_equal(json_obj_get(o, "k\0"), json_obj_getn(o, "k", 1));
    json_doc_free(d);
}

static void non_bmp_characters_decode_from_pairs_and_raw_bytes_alike(void **state)
{
    (void)state;
    json_doc *a = parse_ok("\"\\uD83D\\uDE00 \\ud834\\udd1e \\uDBFF\\uDFFF\"");
    json_doc *b = parse_ok("\"\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"");
    const json_value *va = json_doc_root(a), *vb = json_doc_root(b);
    assert_int_equal(va->u.str.len, 14);
    assert_memory_equal(va->u.str.s, vb->u.str.s, 14);
    assert_true(json_equal(va, vb));
    assert_int_equal(json_utf8_count(va->u.str.s, va->u.str.len), 5);
    json_doc_free(a);
    json_doc_free(b);
}

static void empty_containers_and_top_level_scalars_parse(void **state)
{
    (void)state;
    json_doc *d = parse_ok(" [ ] ");
    assert_int_equal(json_doc_root(d)->type, JSON_ARRAY);
    assert_int_equal(json_doc_root(d)->u.arr.n, 0);
    json_doc_free(d);
    d = parse_ok("{}");
    assert_int_equal(json_doc_root(d)->u.obj.n, 0);
    assert_null(json_obj_get(json_doc_root(d), "a"));
    assert_null(json_obj_get(json_doc_root(d), ""));
    json_doc_free(d);
    d = parse_ok("[[],{},[{}],{\"a\":{}}]");
    const json_value *a = json_doc_root(d);
    assert_int_equal(a->u.arr.n, 4);
    assert_int_equal(a->u.arr.items[3]->u.obj.members[0].value->u.obj.n, 0);
    json_doc_free(d);
    static const struct { const char *text; json_type t; } sc[] = {
        {"0", JSON_NUMBER}, {"-0", JSON_NUMBER}, {" 1.5 ", JSON_NUMBER},
        {"\"x\"", JSON_STRING}, {"\"\"", JSON_STRING}, {"true", JSON_TRUE},
        {"false", JSON_FALSE}, {"\nnull\n", JSON_NULL}};
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        d = parse_ok(sc[i].text);
        assert_int_equal(json_doc_root(d)->type, sc[i].t);
        json_doc_free(d);
    }
    /* NULL text of length 0 is the empty input. */
    kk_err e;
    assert_int_equal(json_parse(NULL, 0, "t", NULL, &d, &e), KK_E_FORMAT);
    assert_int_equal(e.offset, 0);
    assert_int_equal(json_parse(NULL, 5, "t", NULL, &d, &e), KK_E_INTERNAL);
    assert_null(d);
}

static void duplicate_keys_keep_the_last_value_at_the_first_position(void **state)
{
    (void)state;
    json_doc *d = parse_ok("{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"b\":5,\"a\":6}");
    const json_value *o = json_doc_root(d);
    assert_int_equal(o->u.obj.n, 3);
    assert_string_equal(o->u.obj.members[0].key, "a");
    assert_string_equal(o->u.obj.members[1].key, "b");
    assert_string_equal(o->u.obj.members[2].key, "c");
    assert_memory_equal(json_obj_get(o, "a")->u.num.text, "6", 1);
    assert_memory_equal(json_obj_get(o, "b")->u.num.text, "5", 1);
    json_doc_free(d);
    /* The same above the hash-index threshold (JSON_INDEX_MIN members). */
    char buf[4096];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "",
                              i % 25, i);
    snprintf(buf + n, sizeof buf - n, "}");
    d = parse_ok(buf);
    o = json_doc_root(d);
    assert_int_equal(o->u.obj.n, 25);
    for (int k = 0; k < 25; k++) {
        char key[16], want[16];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(want, sizeof want, "%d", k < 15 ? k + 25 : k);
        assert_string_equal(o->u.obj.members[k].key, key);
        const json_value *v = json_obj_get(o, key);
        assert_non_null(v);
        assert_int_equal(v->u.num.len, strlen(want));
        assert_memory_equal(v->u.num.text, want, strlen(want));
    }
    json_doc_free(d);
    /* Keys that differ only after their first byte or in length. */
    d = parse_ok("{\"ab\":1,\"ac\":2,\"a\":3,\"abc\":4,\"ab\":5}");
    o = json_doc_root(d);
    assert_int_equal(o->u.obj.n, 4);
    assert_memory_equal(json_obj_get(o, "ab")->u.num.text, "5", 1);
    json_doc_free(d);
}

static void lookup_finds_every_member_of_a_big_object(void **state)
{
    (void)state;
    const int n = 5000;
    char *buf = malloc((size_t)n * 32 + 8);
    size_t len = 0;
    buf[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)sprintf(buf + len, "%s\"key%d\":%d", i ? "," : "", i, i);
    buf[len++] = '}';
    buf[len] = '\0';
    json_doc *d = parse_ok(buf);
    const json_value *o = json_doc_root(d);
    assert_int_equal(o->u.obj.n, (size_t)n);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%d", i);
        const json_value *v = json_obj_get(o, key);
        assert_non_null(v);
        assert_int_equal((int)v->u.num.d, i);
        assert_ptr_equal(o->u.obj.members[i].value, v); /* document order */
    }
    assert_null(json_obj_get(o, "KEY1"));   /* case-sensitive */
    assert_null(json_obj_get(o, "key5000"));
    assert_null(json_obj_get(o, "key"));
    assert_null(json_obj_get(json_doc_root(d)->u.obj.members[0].value, "key0"));
    json_doc_free(d);
    free(buf);
}

static void values_carry_their_line_column_and_offset(void **state)
{
    (void)state;
    const char *t = "{\n  \"a\": [true,\n\t\"s\"],\n  \"b\": -1\n}";
    json_doc *d = parse_ok(t);
    const json_value *o = json_doc_root(d), *a = json_obj_get(o, "a");
    assert_int_equal(o->line, 1);
    assert_int_equal(o->col, 1);
    assert_int_equal(a->line, 2);
    assert_int_equal(a->col, 8);
    assert_int_equal(a->offset, 9);
    assert_int_equal(a->u.arr.items[0]->col, 9);
    assert_int_equal(a->u.arr.items[1]->line, 3);
    assert_int_equal(a->u.arr.items[1]->col, 2);
    const json_value *b = json_obj_get(o, "b");
    assert_int_equal(b->line, 4);
    assert_int_equal(b->col, 8);
    assert_int_equal(t[b->offset], '-');
    json_doc_free(d);
}

/* ---- exact numbers --------------------------------------------------------------- */

static void numbers_compare_exactly_by_value(void **state)
{
    (void)state;
    assert_int_equal(cmp_lits("9007199254740993", "9007199254740992"), 1);
    assert_int_equal(cmp_lits("-9007199254740993", "-9007199254740992"), -1);
    assert_int_equal(cmp_lits("12345678901234567890123", "12345678901234567890124"), -1);
    assert_int_equal(cmp_lits("1e400", "1e399"), 1);
    assert_int_equal(cmp_lits("-1e400", "-1e399"), -1);
    assert_int_equal(cmp_lits("-0", "0"), 0);
    assert_int_equal(cmp_lits("-0.0e5", "0"), 0);
    static const char *one[] = {"1", "1.0", "1e0", "10e-1", "0.1e1", "1.000", "100E-2",
                                "0.00001e5", "1E+0"};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        for (size_t j = 0; j < sizeof one / sizeof one[0]; j++)
            assert_int_equal(cmp_lits(one[i], one[j]), 0);
    /* Far exponents compare as integers: no digit strings are built. */
    assert_int_equal(cmp_lits("1e1000000000", "2e1000000000"), -1);
    assert_int_equal(cmp_lits("2e1000000000", "1e1000000001"), -1);
    assert_int_equal(cmp_lits("-1e1000000000", "-2e1000000000"), 1);
    assert_int_equal(cmp_lits("1e-1000000000", "0"), 1);
    assert_int_equal(cmp_lits("1e-1000000000", "1e-1000000001"), 1);
    assert_int_equal(cmp_lits("0.1", "0.10000000000000000000000001"), -1);
    assert_int_equal(cmp_lits("123.456", "123.4560"), 0);
    assert_int_equal(cmp_lits("5", "-5"), 1);
}

static void is_int_follows_the_value_not_the_spelling(void **state)
{
    static const struct { const char *lit; int is_int; } t[] = {
        {"1", 1}, {"1.0", 1}, {"1e2", 1}, {"1E+2", 1}, {"-0", 1}, {"0.0", 1},
        {"100e-2", 1}, {"1.5e1", 1}, {"12.50e1", 1}, {"1e400", 1},
        {"123456789012345678901234567890", 1}, {"1.5", 0}, {"1e-400", 0},
        {"0.1", 0}, {"123e-2", 0}, {"-2.5", 0}, {"1.00000000000000000001", 0},
        {"10000000000000000000000e-22", 1}, {"1e-1", 0}, {"9007199254740993.0", 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_doc *d = parse_ok(t[i].lit);
        if (num(d)->u.num.is_int != t[i].is_int)
            fail_msg("%s: is_int %d, want %d", t[i].lit, num(d)->u.num.is_int, t[i].is_int);
        json_doc_free(d);
    }
}

static void decimal_form_is_canonical(void **state)
{
    (void)state;
    static const struct { const char *lit; int neg; const char *digits; int64_t exp10; } t[] = {
        {"0", 0, "", 0}, {"-0.000", 0, "", 0}, {"1200", 0, "12", 4},
        {"-0.00120e3", 1, "12", 1}, {"12.34", 0, "1234", 2}, {"0.5", 0, "5", 0},
        {"1e-400", 0, "1", -399}, {"9007199254740993", 0, "9007199254740993", 16},
        {"10.01", 0, "1001", 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        json_doc *d = parse_ok(t[i].lit);
        json_decimal dec;
        char buf[64];
        assert_int_equal(json_num_decimal(num(d), &dec, buf, sizeof buf), 0);
        assert_int_equal(dec.neg, t[i].neg);
        assert_int_equal(dec.n_digits, strlen(t[i].digits));
        assert_memory_equal(dec.digits, t[i].digits, dec.n_digits);
        assert_int_equal(dec.exp10, t[i].exp10);
        json_doc_free(d);
    }
    /* Digits across the point need the buffer; too small is an error. */
    json_doc *d = parse_ok("12.34");
    json_decimal dec;
    char small[2];
    assert_int_equal(json_num_decimal(num(d), &dec, small, sizeof small), -1);
    json_doc_free(d);
    d = parse_ok("\"12\"");
    assert_int_equal(json_num_decimal(json_doc_root(d), &dec, NULL, 0), -1);
    json_doc_free(d);
}

static void comparison_with_a_double_uses_its_exact_binary_value(void **state)
{
    (void)state;
    json_doc *d = parse_ok("[0.05, 0.5, 1e400, -1e400, 9007199254740993, -0, 0.1, "
                           "0.1000000000000000055511151231257827021181583404541015625]");
    const json_value *const *v = (const json_value *const *)json_doc_root(d)->u.arr.items;
    assert_true(json_num_cmp_double(v[0], 0.05) < 0);
    assert_int_equal(json_num_cmp_double(v[1], 0.5), 0);
    assert_true(json_num_cmp_double(v[1], 0.25) > 0);
    assert_true(json_num_cmp_double(v[2], HUGE_VAL) < 0);
    assert_true(json_num_cmp_double(v[2], DBL_MAX) > 0);
    assert_true(json_num_cmp_double(v[3], -HUGE_VAL) > 0);
    assert_true(json_num_cmp_double(v[3], -DBL_MAX) < 0);
    assert_true(json_num_cmp_double(v[4], 9007199254740992.0) > 0);
    assert_int_equal(json_num_cmp_double(v[5], 0.0), 0);
    assert_int_equal(json_num_cmp_double(v[5], -0.0), 0);
    assert_true(json_num_cmp_double(v[6], 0.1) < 0);
    assert_int_equal(json_num_cmp_double(v[7], 0.1), 0); /* 0.1's exact value */
    assert_int_equal(json_num_cmp_double(v[1], NAN), -1);
    int c;
    assert_int_equal(json_num_cmp_literal(v[0], "0.050", 5, &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(json_num_cmp_literal(v[0], "5e-2", 4, &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(json_num_cmp_literal(v[0], "0.0500001", 9, &c), 0);
    assert_true(c < 0);
    assert_int_equal(json_num_cmp_literal(v[0], "05", 2, &c), -1);
    assert_int_equal(json_num_cmp_literal(v[0], "1.", 2, &c), -1);
    json_doc_free(d);
}

/* The parser's one-pass number fast path, json_num_to_double's fast paths
 * and strtod_l (json_num_to_double_ref) must give the same double, bit for
 * bit: tolerance 0, because each of them rounds correctly (Clinger's exact
 * case is one IEEE operation on exact operands; the x87 case defers exact
 * halfway results to strtod). is_int is checked against the exact decimal. */
#define NUM_TOLERANCE_ULPS 0

static void check_literal(const char *lit)
{
    json_doc *d = NULL;
    kk_err e;
    if (json_parse(lit, strlen(lit), "t", NULL, &d, &e) != KK_OK)
        fail_msg("generated literal '%s' rejected: %s", lit, e.msg);
    const json_value *v = num(d);
    double ref = json_num_to_double_ref(lit, strlen(lit));
    int is_int;
    double slow = json_num_to_double(lit, strlen(lit), &is_int);
    if (memcmp(&ref, &v->u.num.d, sizeof ref) != NUM_TOLERANCE_ULPS ||
        memcmp(&ref, &slow, sizeof ref) != NUM_TOLERANCE_ULPS)
        fail_msg("%s: parser %.17g, json_num_to_double %.17g, strtod %.17g", lit,
                 v->u.num.d, slow, ref);
    json_decimal dec;
    char buf[128];
    assert_int_equal(json_num_decimal(v, &dec, buf, sizeof buf), 0);
    int want = dec.n_digits == 0 || dec.exp10 >= (int64_t)dec.n_digits;
    if (v->u.num.is_int != want || is_int != want)
        fail_msg("%s: is_int parser %d, slow %d, want %d", lit, v->u.num.is_int, is_int, want);
    json_doc_free(d);
}

static void number_fast_paths_equal_strtod_bit_for_bit(void **state)
{
    (void)state;
    static const char *fixed[] = {
        "0", "-0", "1", "0.1", "0.3", "2.5", "1e22", "1e23", "9007199254740992",
        "9007199254740993", "18446744073709551615", "18446744073709551616",
        "1.7976931348623157e308", "1.7976931348623159e308", "4.9406564584124654e-324",
        "2.4703282292062327e-324", "2.2250738585072011e-308", "0.1e-22", "123456789e-22",
        "8.41e21", "5e-324", "1e-323", "9999999999999999999", "99999999999999999999",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "7.2057594037927933e16", "0.000001", "100000000000000000000000", "3.14159"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_literal(fixed[i]);
    /* 100,000 generated literals: 1..25 digits, fractions, exponents near
     * the fast paths' edges (|q| <= 22, 27) and beyond. Seeded LCG. */
    uint64_t s = 0x6a736f6e;
    for (int k = 0; k < 100000; k++) {
        char lit[96];
        size_t n = 0;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = s >> 11;
        if (r & 1)
            lit[n++] = '-';
        int n_int = 1 + (int)((r >> 1) % 20), n_frac = (int)((r >> 6) % 8) - 3;
        for (int i = 0; i < n_int; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            int dgt = (int)((s >> 33) % 10);
            lit[n++] = (char)('0' + (i == 0 && n_int > 1 && dgt == 0 ? 1 : dgt));
        }
        if (n_frac > 0) {
            lit[n++] = '.';
            for (int i = 0; i < n_frac; i++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                lit[n++] = (char)('0' + (s >> 33) % 10);
            }
        }
        if ((r >> 10) % 3) {
            int ex = (int)((r >> 12) % 80) - 40;
            n += (size_t)snprintf(lit + n, sizeof lit - n, "%s%d", (r >> 20) & 1 ? "E" : "e",
                                  ex);
        }
        lit[n] = '\0';
        check_literal(lit);
    }
}

/* ---- equality ------------------------------------------------------------------------ */

static int equal_texts(const char *a, const char *b)
{
    json_doc *da = parse_ok(a), *db = parse_ok(b);
    int r = json_equal(json_doc_root(da), json_doc_root(db));
    assert_int_equal(json_equal(json_doc_root(db), json_doc_root(da)), r);
    json_doc_free(da);
    json_doc_free(db);
    return r;
}

static void equality_follows_json_schema(void **state)
{
    (void)state;
    assert_false(equal_texts("true", "1"));
    assert_false(equal_texts("false", "0"));
    assert_false(equal_texts("null", "false"));
    assert_true(equal_texts("1", "1.0"));
    assert_true(equal_texts("[1, 2e0]", "[1.0, 2]"));
    assert_false(equal_texts("[1, 2]", "[2, 1]"));
    assert_false(equal_texts("[1]", "[1, 1]"));
    assert_true(equal_texts("{\"a\":1,\"b\":[1,{\"c\":null}]}",
                            "{\"b\":[1.0,{\"c\":null}],\"a\":1e0}"));
    assert_false(equal_texts("{\"a\":1}", "{\"a\":1,\"b\":1}"));
    assert_false(equal_texts("{\"a\":1}", "{\"A\":1}"));
    assert_true(equal_texts("{\"a\":1,\"a\":2}", "{\"a\":2}"));
    assert_false(equal_texts("\"a\"", "\"a\\u0000\""));
    assert_true(equal_texts("\"\\u00e9\"", "\"\xc3\xa9\""));
    assert_false(equal_texts("{}", "[]"));
    assert_false(equal_texts("\"1\"", "1"));
    assert_true(equal_texts("9007199254740993", "9007199254740993.0"));
    assert_false(equal_texts("9007199254740993", "9007199254740992"));
}

/* ---- writers ----------------------------------------------------------------------------- */

static char *write_to_string(void (*fn)(FILE *, const void *), const void *arg)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    fn(f, arg);
    fclose(f);
    return buf;
}

typedef struct bytes {
    const char *s;
    size_t n;
} bytes;

static void put_string(FILE *f, const void *arg)
{
    const bytes *b = arg;
    json_write_string(f, b->s, b->n);
}

static void written_strings_escape_what_they_must_and_read_back(void **state)
{
    (void)state;
    const char raw[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\0\xc3\xa9\xf0\x9f\x98\x80";
    bytes b = {raw, sizeof raw - 1};
    char *out = write_to_string(put_string, &b);
    assert_string_equal(out, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000"
                             "\xc3\xa9\xf0\x9f\x98\x80\"");
    json_doc *d = parse_ok(out);
    assert_int_equal(json_doc_root(d)->u.str.len, b.n);
    assert_memory_equal(json_doc_root(d)->u.str.s, raw, b.n);
    json_doc_free(d);
    free(out);
    /* Every byte value below 0x80 round-trips. */
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)i;
    b.s = all;
    b.n = 128;
    out = write_to_string(put_string, &b);
    d = parse_ok(out);
    assert_memory_equal(json_doc_root(d)->u.str.s, all, 128);
    json_doc_free(d);
    free(out);
}

static void written_doubles_are_shortest_and_read_back_exactly(void **state)
{
    (void)state;
    static const struct { double d; const char *text; } t[] = {
        {0.1, "0.1"}, {0.5, "0.5"}, {1.0, "1"}, {-0.0, "-0"}, {1e23, "1e+23"},
        {100, "100"}, {1.0 / 3, "0.3333333333333333"}, {2.0 / 3, "0.6666666666666666"},
        {5e-324, "5e-324"}, {2.5e-323, "2.5e-323"}, {DBL_MAX, "1.7976931348623157e+308"},
        {0.30000000000000004, "0.30000000000000004"}, {123456789012345680.0, "1.2345678901234568e+17"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char buf[40];
        json_format_double(buf, sizeof buf, t[i].d);
        assert_string_equal(buf, t[i].text);
        json_doc *d = parse_ok(buf);
        double back = num(d)->u.num.d;
        assert_memory_equal(&back, &t[i].d, sizeof back);
        json_doc_free(d);
        char *w = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&w, &n);
        json_write_double(f, t[i].d);
        fclose(f);
        assert_string_equal(w, t[i].text);
        free(w);
    }
    char buf[40];
    json_format_double(buf, sizeof buf, NAN);
    assert_string_equal(buf, "null");
    json_format_double(buf, sizeof buf, -HUGE_VAL);
    assert_string_equal(buf, "null");
    /* Random doubles from their bits: written, read back, identical. */
    uint64_t s = 42;
    for (int k = 0; k < 20000; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t bits = s ^ (s >> 29);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        json_format_double(buf, sizeof buf, x);
        json_doc *d = parse_ok(buf);
        double back = num(d)->u.num.d;
        if (memcmp(&back, &x, sizeof x) != 0)
            fail_msg("%.17g written as %s reads back as %.17g", x, buf, back);
        json_doc_free(d);
    }
}

static void utf8_count_counts_code_points(void **state)
{
    (void)state;
    assert_int_equal(json_utf8_count("", 0), 0);
    assert_int_equal(json_utf8_count("abc", 3), 3);
    assert_int_equal(json_utf8_count("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
    assert_int_equal(json_utf8_count("a\0b", 3), 3);
}

/* ---- files ---------------------------------------------------------------------------------- */

/* opts.no_duplicates: a name twice in one object (small, and above the
 * hash-index threshold) is KK_E_DUPLICATE at the second value, `where`
 * the name; without it the same text parses (last wins). */
static void no_duplicates_refuses_a_name_given_twice(void **state)
{
    (void)state;
    json_parse_opts o = {.no_duplicates = 1};
    json_doc *d = NULL;
    kk_err e;
    const char *t = "{\"a\":1,\n \"b\":{\"c\":2,\"c\":3}}";
    assert_int_equal(json_parse(t, strlen(t), "x.json", &o, &d, &e), KK_E_DUPLICATE);
    assert_null(d);
    assert_string_equal(e.where, "c");
    assert_string_equal(e.file, "x.json");
    assert_int_equal(e.line, 2);
    assert_int_equal(e.offset, (int64_t)(strstr(t, "3") - t));
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "",
                              i < 39 ? i : 7, i);
    snprintf(buf + n, sizeof buf - n, "}");
    assert_int_equal(json_parse(buf, strlen(buf), NULL, &o, &d, &e), KK_E_DUPLICATE);
    assert_string_equal(e.where, "k7");
    o.no_duplicates = 0;
    assert_int_equal(json_parse(buf, strlen(buf), NULL, &o, &d, &e), KK_OK);
    json_doc_free(d);
}

static void files_parse_and_errors_name_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/kk_test_json_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "{\"a\": [1,\n 2,]}";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    json_doc *d = NULL;
    kk_err e;
    assert_int_equal(json_parse_file(path, NULL, &d, &e), KK_E_FORMAT);
    assert_string_equal(e.file, path);
    assert_int_equal(e.line, 2);
    assert_int_equal(e.col, 4);
    assert_int_equal(e.offset, 13);
    unlink(path);
    assert_int_equal(json_parse_file(path, NULL, &d, &e), KK_E_IO);
    assert_null(d);
}

/* The canonical form (docs/evidence.md "Canonical JSON"): every rule shown
 * on a value whose spelling differs from its canonical form. */
static void canon_is(const char *text, const char *want)
{
    json_doc *d = parse_ok(text);
    char *got = NULL;
    size_t n = 0;
    kk_err err = {0};
    assert_int_equal(json_canonical(json_doc_root(d), &got, &n, &err), KK_OK);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
    char h1[65], h2[65];
    assert_int_equal(json_canonical_sha256(json_doc_root(d), h1, &err), KK_OK);
    sha256_hex(want, strlen(want), h2);
    assert_string_equal(h1, h2);
    free(got);
    json_doc_free(d);
}

static void canonical_form_sorts_names_and_writes_shortest_numbers(void **state)
{
    (void)state;
    /* names by bytes, a prefix first; whitespace gone; nesting sorted too */
    canon_is(" { \"b\" : 1 , \"ab\" : [ 2 , { \"y\" : 1, \"x\" : 2 } ], \"a\" : null } ",
             "{\"a\":null,\"ab\":[2,{\"x\":2,\"y\":1}],\"b\":1}");
    /* UTF-8 byte order is code point order: e-acute (C3 A9) after z */
    canon_is("{\"\\u00e9\": true, \"z\": false}", "{\"z\":false,\"\xc3\xa9\":true}");
    /* numbers: the nearest double, shortest round-trip, -0 as 0 */
    canon_is("[1.0, 1e2, 0.10, -0, -0.0e5, 1e23, 1.5E-7, 12345678901234567, 2.5e0, 1e17]",
             "[1,100,0.1,0,0,1e+23,1.5e-07,12345678901234568,2.5,1e+17]");
    /* strings: escapes only where JSON needs them; \/ and \u00e9 raw */
    canon_is("\"a\\/b\\u00e9\\u001f\\t\\\"\\\\\"", "\"a/b\xc3\xa9\\u001f\\t\\\"\\\\\"");
    canon_is("\"nul\\u0000in\"", "\"nul\\u0000in\"");
    canon_is("{}", "{}");
    canon_is("[]", "[]");
    /* the same value spelled two ways hashes the same */
    json_doc *a = parse_ok("{\"codec\": \"q8_0\", \"bits\": 8.0, \"mask\": false}");
    json_doc *b = parse_ok("{\"mask\":false,\"bits\":8,\"codec\":\"q8_0\"}");
    char ha[65], hb[65];
    kk_err err = {0};
    assert_int_equal(json_canonical_sha256(json_doc_root(a), ha, &err), KK_OK);
    assert_int_equal(json_canonical_sha256(json_doc_root(b), hb, &err), KK_OK);
    assert_string_equal(ha, hb);
    json_doc_free(a);
    json_doc_free(b);
    /* a literal beyond the double range has no canonical form */
    json_doc *big = parse_ok("{\"x\": [1e400]}");
    assert_int_equal(json_canonical_sha256(json_doc_root(big), ha, &err), KK_E_FORMAT);
    assert_string_equal(ha, "");
    assert_non_null(strstr(err.msg, "1e400"));
    json_doc_free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_jsontestsuite_y_case_is_accepted),
        cmocka_unit_test(every_jsontestsuite_n_case_is_rejected_with_a_location),
        cmocka_unit_test(the_nesting_bombs_are_format_errors_when_the_limit_allows_them),
        cmocka_unit_test(jsontestsuite_i_cases_behave_as_documented),
        cmocka_unit_test(leading_zeros_are_rejected_at_the_second_digit),
        cmocka_unit_test(a_point_needs_digits_on_both_sides),
        cmocka_unit_test(signs_and_exponents_follow_the_grammar),
        cmocka_unit_test(infinity_and_nan_are_not_numbers),
        cmocka_unit_test(every_raw_control_character_in_a_string_is_rejected),
        cmocka_unit_test(invalid_escapes_are_rejected_at_the_escape_character),
        cmocka_unit_test(a_u_escape_needs_four_hex_digits),
        cmocka_unit_test(lone_surrogate_escapes_are_rejected_at_the_backslash),
        cmocka_unit_test(only_space_tab_newline_and_return_are_whitespace),
        cmocka_unit_test(trailing_garbage_is_rejected_where_it_starts),
        cmocka_unit_test(trailing_commas_are_rejected_at_the_closing_bracket),
        cmocka_unit_test(single_quotes_and_comments_are_rejected),
        cmocka_unit_test(keys_must_be_strings_and_need_a_colon),
        cmocka_unit_test(every_prefix_of_a_document_is_an_unterminated_error),
        cmocka_unit_test(where_names_the_json_pointer_of_the_error),
        cmocka_unit_test(errors_on_later_lines_give_line_and_column),
        cmocka_unit_test(invalid_utf8_is_rejected_in_strings_keys_and_outside),
        cmocka_unit_test(a_byte_order_mark_is_rejected_with_a_message_that_says_so),
        cmocka_unit_test(nesting_exactly_at_the_limit_is_accepted_and_one_more_is_a_limit_error),
        cmocka_unit_test(depth_100000_is_a_limit_error_or_parses_without_recursion),
        cmocka_unit_test(huge_exponents_are_accepted_and_kept_exact),
        cmocka_unit_test(escaped_nul_is_kept_in_strings_and_keys),
        cmocka_unit_test(non_bmp_characters_decode_from_pairs_and_raw_bytes_alike),
        cmocka_unit_test(empty_containers_and_top_level_scalars_parse),
        cmocka_unit_test(duplicate_keys_keep_the_last_value_at_the_first_position),
        cmocka_unit_test(no_duplicates_refuses_a_name_given_twice),
        cmocka_unit_test(lookup_finds_every_member_of_a_big_object),
        cmocka_unit_test(values_carry_their_line_column_and_offset),
        cmocka_unit_test(numbers_compare_exactly_by_value),
        cmocka_unit_test(is_int_follows_the_value_not_the_spelling),
        cmocka_unit_test(decimal_form_is_canonical),
        cmocka_unit_test(comparison_with_a_double_uses_its_exact_binary_value),
        cmocka_unit_test(number_fast_paths_equal_strtod_bit_for_bit),
        cmocka_unit_test(equality_follows_json_schema),
        cmocka_unit_test(written_strings_escape_what_they_must_and_read_back),
        cmocka_unit_test(written_doubles_are_shortest_and_read_back_exactly),
        cmocka_unit_test(utf8_count_counts_code_points),
        cmocka_unit_test(canonical_form_sorts_names_and_writes_shortest_numbers),
        cmocka_unit_test(files_parse_and_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
