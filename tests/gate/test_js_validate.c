/*
 * Unit tests of the JSON Schema validator beyond the official suite:
 * hostile schemas end with KK_E_LIMIT (never a crash or a hang), exact
 * numbers, error locations, the ECMA-262 regex engine and RFC 3986
 * resolution (through js_internal.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "js.h"
#include "js_internal.h"
#include "json.h"

/* Compile `schema` and validate `inst`: 1, 0 or -1 (err filled). */
static int check(const char *schema, const char *inst, kk_err *err,
                 js_result *res)
{
    json_doc *sd = NULL, *id = NULL;
    js_schema *s = NULL;
    kk_err local;
    if (!err)
        err = &local;
    assert_int_equal(json_parse(schema, strlen(schema), "s", NULL, &sd, err), KK_OK);
    assert_int_equal(json_parse(inst, strlen(inst), "i", NULL, &id, err), KK_OK);
    int r;
    if (js_compile(json_doc_root(sd), "", NULL, &s, err) != KK_OK)
        r = -2;
    else
        r = js_validate(s, json_doc_root(id), res, err);
    js_schema_free(s);
    json_doc_free(sd);
    json_doc_free(id);
    return r;
}

static void cyclic_ref_without_progress_should_stop_with_limit(void **state)
{
    (void)state;
    kk_err err;
    assert_int_equal(check("{\"$ref\":\"#\"}", "1", &err, NULL), -1);
    assert_int_equal(err.code, KK_E_LIMIT);
    assert_int_equal(check("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},"
                           "\"b\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}",
                           "{}", &err, NULL), -1);
    assert_int_equal(err.code, KK_E_LIMIT);
}

static void exponential_anyof_should_stop_with_limit(void **state)
{
    (void)state;
    /* each level tries both branches and both fail at the bottom: 2^depth */
    const char *s = "{\"$defs\":{\"x\":{\"anyOf\":[{\"$ref\":\"#/$defs/x\"},"
                    "{\"$ref\":\"#/$defs/x\"}]}},\"$ref\":\"#/$defs/x\"}";
    kk_err err;
    json_doc *sd = NULL, *id = NULL;
    js_schema *sc = NULL;
    assert_int_equal(json_parse(s, strlen(s), "s", NULL, &sd, &err), KK_OK);
    assert_int_equal(json_parse("1", 1, "i", NULL, &id, &err), KK_OK);
    assert_int_equal(js_compile(json_doc_root(sd), "", NULL, &sc, &err), KK_OK);
    js_schema_set_limits(sc, 100000, 0);
    assert_int_equal(js_validate(sc, json_doc_root(id), NULL, &err), -1);
    assert_int_equal(err.code, KK_E_LIMIT);
    js_schema_free(sc);
    json_doc_free(sd);
    json_doc_free(id);
}

static void recursion_that_consumes_the_instance_should_validate(void **state)
{
    (void)state;
    /* 400 nested arrays under {"items": {"$ref": "#"}}: deep but finite */
    char inst[1000];
    memset(inst, '[', 400);
    memset(inst + 400, ']', 400);
    inst[800] = '\0';
    assert_int_equal(check("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}", inst,
                           NULL, NULL), 1);
}

static void multiple_of_should_be_exact_decimal(void **state)
{
    (void)state;
    assert_int_equal(check("{\"multipleOf\":0.0001}", "0.0075", NULL, NULL), 1);
    assert_int_equal(check("{\"multipleOf\":0.1}", "0.3", NULL, NULL), 1);
    assert_int_equal(check("{\"multipleOf\":0.123456789}", "1e308", NULL, NULL), 0);
    assert_int_equal(check("{\"multipleOf\":1e-8}", "12391239123", NULL, NULL), 1);
    assert_int_equal(check("{\"multipleOf\":3}", "123456789012345678901234567890",
                           NULL, NULL), 1);
    assert_int_equal(check("{\"multipleOf\":11}", "123456789012345678901234567890",
                           NULL, NULL), 0);
    /* a 25-digit divisor takes the long-division path */
    assert_int_equal(check("{\"multipleOf\":1234567890123456789012345}",
                           "2469135780246913578024690", NULL, NULL), 1);
    assert_int_equal(check("{\"multipleOf\":1234567890123456789012345}",
                           "2469135780246913578024691", NULL, NULL), 0);
}

static void numbers_should_compare_by_value(void **state)
{
    (void)state;
    assert_int_equal(check("{\"const\":1}", "1.0", NULL, NULL), 1);
    assert_int_equal(check("{\"const\":1}", "true", NULL, NULL), 0);
    assert_int_equal(check("{\"type\":\"integer\"}", "1.0", NULL, NULL), 1);
    assert_int_equal(check("{\"maximum\":18446744073709551615}",
                           "18446744073709551616", NULL, NULL), 0);
    assert_int_equal(check("{\"minimum\":1e400}", "1e401", NULL, NULL), 1);
    assert_int_equal(check("{\"uniqueItems\":true}",
                           "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,1.0]",
                           NULL, NULL), 0);
    assert_int_equal(check("{\"uniqueItems\":true}",
                           "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,true]",
                           NULL, NULL), 1);
}

static void errors_should_carry_pointers_expected_and_found(void **state)
{
    (void)state;
    js_result res;
    kk_err err;
    assert_int_equal(check("{\"properties\":{\"a/b\":{\"type\":\"integer\"}},"
                           "\"required\":[\"c\"]}", "{\"a/b\":\"x\"}", &err, &res), 0);
    assert_int_equal(res.n_errors, 2);
    int seen_type = 0, seen_req = 0;
    for (size_t i = 0; i < res.n_errors; i++) {
        const js_error *e = &res.errors[i];
        if (strcmp(e->schema_ptr, "/properties/a~1b/type") == 0) {
            assert_string_equal(e->instance_ptr, "/a~1b");
            assert_non_null(strstr(e->message, "expected integer"));
            assert_non_null(strstr(e->message, "found string \"x\""));
            seen_type = 1;
        } else if (strcmp(e->schema_ptr, "/required") == 0) {
            assert_string_equal(e->instance_ptr, "");
            assert_non_null(strstr(e->message, "\"c\""));
            seen_req = 1;
        }
    }
    assert_true(seen_type && seen_req);
    js_result_free(&res);
}

static void invalid_schemas_should_be_located(void **state)
{
    (void)state;
    kk_err err;
    assert_int_equal(check("{\"properties\":{\"a\":{\"minLength\":-1}}}", "1",
                           &err, NULL), -2);
    assert_int_equal(err.code, KK_E_FORMAT);
    assert_string_equal(err.where, "/properties/a/minLength");
    assert_int_equal(check("{\"pattern\":\"(a\"}", "1", &err, NULL), -2);
    assert_string_equal(err.where, "/pattern");
    assert_int_equal(check("{\"$ref\":\"#/nope\"}", "1", &err, NULL), -2);
    assert_int_equal(err.code, KK_E_MISSING);
    assert_int_equal(check("{\"multipleOf\":0}", "1", &err, NULL), -2);
    assert_int_equal(check("{\"items\":[true]}", "1", &err, NULL), -2);
    assert_int_equal(check("{\"type\":\"int\"}", "1", &err, NULL), -2);
}

/* ---- regex ---------------------------------------------------------------- */
static int re_match(const char *pat, const char *s)
{
    js_regex *re = NULL;
    kk_err err;
    if (js_regex_compile(pat, strlen(pat), &re, &err) != KK_OK)
        return -3;
    js_regex_scratch sc = {NULL, 0};
    uint64_t steps = 0;
    int r = js_regex_search(re, s, strlen(s), &sc, &steps, 10000000);
    js_regex_scratch_free(&sc);
    js_regex_free(re);
    return r;
}

static void regex_should_follow_ecma262(void **state)
{
    (void)state;
    assert_int_equal(re_match("a", "xxaxx"), 1);          /* not anchored */
    assert_int_equal(re_match("^a", "ba"), 0);
    assert_int_equal(re_match("a$", "a\n"), 0);           /* no newline slack */
    assert_int_equal(re_match("^\\d+$", "0123"), 1);
    assert_int_equal(re_match("^\\d$", "\xd9\xa3"), 0);   /* U+0663: not ASCII */
    assert_int_equal(re_match("^\\w$", "\xc3\xa9"), 0);
    assert_int_equal(re_match("^\\s$", "\xef\xbb\xbf"), 1); /* U+FEFF */
    assert_int_equal(re_match("^.$", "\xf0\x9f\x98\x80"), 1); /* one code point */
    assert_int_equal(re_match("^.$", "\r"), 0);
    assert_int_equal(re_match("\\bfoo\\b", "a foo b"), 1);
    assert_int_equal(re_match("\\Bfoo", "a foo"), 0);
    assert_int_equal(re_match("^(ab|cd){2,3}$", "abcdab"), 1);
    assert_int_equal(re_match("^(ab|cd){2,3}$", "ab"), 0);
    assert_int_equal(re_match("^a*?b+?$", "aabb"), 1);
    assert_int_equal(re_match("^[^a-c\\d]+$", "xyz"), 1);
    assert_int_equal(re_match("^[^a-c\\d]+$", "x1"), 0);
    assert_int_equal(re_match("^(?=.*x)[a-z]+$", "abxc"), 1);
    assert_int_equal(re_match("^(?!ab)[a-z]+$", "abc"), 0);
    assert_int_equal(re_match("^\\p{L}+$", "\xcf\x80x"), 1);
    assert_int_equal(re_match("^\\P{L}+$", "12"), 1);
    assert_int_equal(re_match("^\\u00e9$", "\xc3\xa9"), 1);
    assert_int_equal(re_match("^\\ud83d\\ude00$", "\xf0\x9f\x98\x80"), 1);
    assert_int_equal(re_match("^\\cJ$", "\n"), 1);
    assert_int_equal(re_match("a{,2}", "a{,2}"), 1);     /* Annex B literal { */
    assert_int_equal(re_match("(a", ""), -3);
    assert_int_equal(re_match("a**", ""), -3);
    assert_int_equal(re_match("(a)\\1", ""), -3);        /* backrefs unsupported */
}

static void catastrophic_patterns_should_stay_linear(void **state)
{
    (void)state;
    /* (a*)*b on 5000 a's: exponential for a backtracker, linear here */
    char s[5001];
    memset(s, 'a', 5000);
    s[5000] = '\0';
    assert_int_equal(re_match("(a*)*b", s), 0);
    assert_int_equal(re_match("^(a|aa)+$", s), 1);
}

static void regex_work_limit_should_stop_matching(void **state)
{
    (void)state;
    js_regex *re = NULL;
    assert_int_equal(js_regex_compile("(a|b)*c", 7, &re, NULL), KK_OK);
    char s[20001];
    memset(s, 'a', 20000);
    s[20000] = '\0';
    js_regex_scratch sc = {NULL, 0};
    uint64_t steps = 0;
    assert_int_equal(js_regex_search(re, s, 20000, &sc, &steps, 1000), -1);
    js_regex_scratch_free(&sc);
    js_regex_free(re);
    assert_int_equal(re_match("a{100000}", ""), -3); /* program too large */
}

/* ---- URIs ------------------------------------------------------------------ */
static void uri_resolution_should_follow_rfc3986(void **state)
{
    (void)state;
    /* RFC 3986 section 5.4 examples, base http://a/b/c/d;p?q */
    static const char *const cases[][2] = {
        {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"}, {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"}, {"#s", "http://a/b/c/d;p?q#s"},
        {"", "http://a/b/c/d;p?q"}, {"../g", "http://a/b/g"},
        {"../..", "http://a/"}, {"../../../g", "http://a/g"},
        {"g;x=1/../y", "http://a/b/c/y"}, {".", "http://a/b/c/"},
        {"/./g", "http://a/g"}, {"g/..", "http://a/b/c/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = js_uri_resolve("http://a/b/c/d;p?q", cases[i][0]);
        assert_non_null(r);
        assert_string_equal(r, cases[i][1]);
        free(r);
    }
    char *r = js_uri_resolve("urn:uuid:deadbeef-1234", "#/$defs/x");
    assert_string_equal(r, "urn:uuid:deadbeef-1234#/$defs/x");
    free(r);
    r = js_uri_resolve("", "#foo");
    assert_string_equal(r, "#foo");
    free(r);
}

static void pointer_fragments_should_unescape(void **state)
{
    (void)state;
    assert_int_equal(check("{\"$defs\":{\"a/b~c%d\":{\"type\":\"string\"}},"
                           "\"$ref\":\"#/$defs/a~1b~0c%25d\"}", "1", NULL, NULL), 0);
    assert_int_equal(check("{\"$defs\":{\"x\":{\"$anchor\":\"here\",\"type\":\"string\"}},"
                           "\"$ref\":\"#here\"}", "\"s\"", NULL, NULL), 1);
    assert_int_equal(check("{\"$id\":\"urn:example:root\",\"$defs\":{\"x\":{\"type\":"
                           "\"string\"}},\"$ref\":\"urn:example:root#/$defs/x\"}",
                           "1", NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cyclic_ref_without_progress_should_stop_with_limit),
        cmocka_unit_test(exponential_anyof_should_stop_with_limit),
        cmocka_unit_test(recursion_that_consumes_the_instance_should_validate),
        cmocka_unit_test(multiple_of_should_be_exact_decimal),
        cmocka_unit_test(numbers_should_compare_by_value),
        cmocka_unit_test(errors_should_carry_pointers_expected_and_found),
        cmocka_unit_test(invalid_schemas_should_be_located),
        cmocka_unit_test(regex_should_follow_ecma262),
        cmocka_unit_test(catastrophic_patterns_should_stay_linear),
        cmocka_unit_test(regex_work_limit_should_stop_matching),
        cmocka_unit_test(uri_resolution_should_follow_rfc3986),
        cmocka_unit_test(pointer_fragments_should_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
