/*
 * json_suite_vectors: the parsing cases of JSONTestSuite (Nicolas Seriot,
 * https://github.com/nst/JSONTestSuite, test_parsing/, MIT licence), as
 * (file name without ".json", bytes, length): the 95 y_ files (must
 * accept), the 188 n_ files (must reject), 5 n_ files added to the suite
 * later, and the 35 i_ files (implementation-defined) with what this
 * reader does. Transcribed byte for byte; the two big n_ files have bytes
 * NULL and are built by json_suite_big():
 *   n_structure_100000_opening_arrays  '[' x 100000
 *   n_structure_open_array_object      '[{"":' x 50000, then '\n'
 * Generated; shared by tests/common/test_json.c and bench/bench_json.c.
 */
#ifndef KK_TEST_JSON_SUITE_VECTORS_H
#define KK_TEST_JSON_SUITE_VECTORS_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct json_suite_case {
    const char *name;
    const char *bytes; /* NULL: build with json_suite_big() */
    size_t len;
} json_suite_case;

typedef struct json_suite_icase {
    const char *name;
    const char *bytes;
    size_t len;
    int accepted; /* what json_parse does (docs/json.md) */
} json_suite_icase;

static const json_suite_case json_suite_y[] = {
    {"y_array_arraysWithSpaces", "[[]   ]", 7},
    {"y_array_empty-string", "[\"\"]", 4},
    {"y_array_empty", "[]", 2},
    {"y_array_ending_with_newline", "[\"a\"]", 5},
    {"y_array_false", "[false]", 7},
    {"y_array_heterogeneous", "[null, 1, \"1\", {}]", 18},
    {"y_array_null", "[null]", 6},
    {"y_array_with_1_and_newline", "[1\012]", 4},
    {"y_array_with_leading_space", " [1]", 4},
    {"y_array_with_several_null", "[1,null,null,null,2]", 20},
    {"y_array_with_trailing_space", "[2] ", 4},
    {"y_number", "[123e65]", 8},
    {"y_number_0e+1", "[0e+1]", 6},
    {"y_number_0e1", "[0e1]", 5},
    {"y_number_after_space", "[ 4]", 4},
    {"y_number_double_close_to_zero", "[-0.00000000000000000000000000000000000000000000000000000000"
        "0000000000000000000001]\012", 84},
    {"y_number_int_with_exp", "[20e1]", 6},
    {"y_number_minus_zero", "[-0]", 4},
    {"y_number_negative_int", "[-123]", 6},
    {"y_number_negative_one", "[-1]", 4},
    {"y_number_negative_zero", "[-0]", 4},
    {"y_number_real_capital_e", "[1E22]", 6},
    {"y_number_real_capital_e_neg_exp", "[1E-2]", 6},
    {"y_number_real_capital_e_pos_exp", "[1E+2]", 6},
    {"y_number_real_exponent", "[123e45]", 8},
    {"y_number_real_fraction_exponent", "[123.456e78]", 12},
    {"y_number_real_neg_exp", "[1e-2]", 6},
    {"y_number_real_pos_exponent", "[1e+2]", 6},
    {"y_number_simple_int", "[123]", 5},
    {"y_number_simple_real", "[123.456789]", 12},
    {"y_object", "{\"asd\":\"sdf\", \"dfg\":\"fgh\"}", 26},
    {"y_object_basic", "{\"asd\":\"sdf\"}", 13},
    {"y_object_duplicated_key", "{\"a\":\"b\",\"a\":\"c\"}", 17},
    {"y_object_duplicated_key_and_value", "{\"a\":\"b\",\"a\":\"b\"}", 17},
    {"y_object_empty", "{}", 2},
    {"y_object_empty_key", "{\"\":0}", 6},
    {"y_object_escaped_null_in_key", "{\"foo\\u0000bar\": 42}", 20},
    {"y_object_extreme_numbers", "{ \"min\": -1.0e+28, \"max\": 1.0e+28 }", 35},
    {"y_object_long_strings", "{\"x\":[{\"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "\"}], \"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 108},
    {"y_object_simple", "{\"a\":[]}", 8},
    {"y_object_string_unicode", "{\"title\":\"\\u041f\\u043e\\u043b\\u0442\\u043e\\u0440\\u04"
        "30 \\u0417\\u0435\\u043c\\u043b\\u0435\\u043a\\u043e\\u043f"
        "\\u0430\" }", 110},
    {"y_object_with_newlines", "{\012\"a\": \"b\"\012}", 12},
    {"y_string_1_2_3_bytes_UTF-8_sequences", "[\"\\u0060\\u012a\\u12AB\"]", 22},
    {"y_string_accepted_surrogate_pair", "[\"\\uD801\\udc37\"]", 16},
    {"y_string_accepted_surrogate_pairs", "[\"\\ud83d\\ude39\\ud83d\\udc8d\"]", 28},
    {"y_string_allowed_escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 20},
    {"y_string_backslash_and_u_escaped_zero", "[\"\\\\u0000\"]", 11},
    {"y_string_backslash_doublequotes", "[\"\\\"\"]", 6},
    {"y_string_comments", "[\"a/*b*/c/*d//e\"]", 17},
    {"y_string_double_escape_a", "[\"\\\\a\"]", 7},
    {"y_string_double_escape_n", "[\"\\\\n\"]", 7},
    {"y_string_escaped_control_character", "[\"\\u0012\"]", 10},
    {"y_string_escaped_noncharacter", "[\"\\uFFFF\"]", 10},
    {"y_string_in_array", "[\"asd\"]", 7},
    {"y_string_in_array_with_leading_space", "[ \"asd\"]", 8},
    {"y_string_last_surrogates_1_and_2", "[\"\\uDBFF\\uDFFF\"]", 16},
    {"y_string_nbsp_uescaped", "[\"new\\u00A0line\"]", 17},
    {"y_string_nonCharacterInUTF-8_U+10FFFF", "[\"\364\217\277\277\"]", 8},
    {"y_string_nonCharacterInUTF-8_U+FFFF", "[\"\357\277\277\"]", 7},
    {"y_string_null_escape", "[\"\\u0000\"]", 10},
    {"y_string_one-byte-utf-8", "[\"\\u002c\"]", 10},
    {"y_string_pi", "[\"\317\200\"]", 6},
    {"y_string_reservedCharacterInUTF-8_U+1BFFF", "[\"\360\233\277\277\"]", 8},
    {"y_string_simple_ascii", "[\"asd \"]", 8},
    {"y_string_space", "\" \"", 3},
    {"y_string_surrogates_U+1D11E_MUSICAL_SYMBOL_G_CLEF", "[\"\\uD834\\uDd1e\"]", 16},
    {"y_string_three-byte-utf-8", "[\"\\u0821\"]", 10},
    {"y_string_two-byte-utf-8", "[\"\\u0123\"]", 10},
    {"y_string_u+2028_line_sep", "[\"\342\200\250\"]", 7},
    {"y_string_u+2029_par_sep", "[\"\342\200\251\"]", 7},
    {"y_string_uEscape", "[\"\\u0061\\u30af\\u30EA\\u30b9\"]", 28},
    {"y_string_uescaped_newline", "[\"new\\u000Aline\"]", 17},
    {"y_string_unescaped_char_delete", "[\"\177\"]", 5},
    {"y_string_unicode", "[\"\\uA66D\"]", 10},
    {"y_string_unicodeEscapedBackslash", "[\"\\u005C\"]", 10},
    {"y_string_unicode_2", "[\"\342\215\202\343\210\264\342\215\202\"]", 13},
    {"y_string_unicode_U+10FFFE_nonchar", "[\"\\uDBFF\\uDFFE\"]", 16},
    {"y_string_unicode_U+1FFFE_nonchar", "[\"\\uD83F\\uDFFE\"]", 16},
    {"y_string_unicode_U+200B_ZERO_WIDTH_SPACE", "[\"\\u200B\"]", 10},
    {"y_string_unicode_U+2064_invisible_plus", "[\"\\u2064\"]", 10},
    {"y_string_unicode_U+FDD0_nonchar", "[\"\\uFDD0\"]", 10},
    {"y_string_unicode_U+FFFE_nonchar", "[\"\\uFFFE\"]", 10},
    {"y_string_unicode_escaped_double_quote", "[\"\\u0022\"]", 10},
    {"y_string_utf8", "[\"\342\202\254\360\235\204\236\"]", 11},
    {"y_string_with_del_character", "[\"a\177a\"]", 7},
    {"y_structure_lonely_false", "false", 5},
    {"y_structure_lonely_int", "42", 2},
    {"y_structure_lonely_negative_real", "-0.1", 4},
    {"y_structure_lonely_null", "null", 4},
    {"y_structure_lonely_string", "\"asd\"", 5},
    {"y_structure_lonely_true", "true", 4},
    {"y_structure_string_empty", "\"\"", 2},
    {"y_structure_trailing_newline", "[\"a\"]\012", 6},
    {"y_structure_true_in_array", "[true]", 6},
    {"y_structure_whitespace_array", " [] ", 4},
};

static const json_suite_case json_suite_n[] = {
    {"n_array_1_true_without_comma", "[1 true]", 8},
    {"n_array_a_invalid_utf8", "[a\345]", 4},
    {"n_array_colon_instead_of_comma", "[\"\": 1]", 7},
    {"n_array_comma_after_close", "[\"\"],", 5},
    {"n_array_comma_and_number", "[,1]", 4},
    {"n_array_double_comma", "[1,,2]", 6},
    {"n_array_double_extra_comma", "[\"x\",,]", 7},
    {"n_array_extra_close", "[\"x\"]]", 6},
    {"n_array_extra_comma", "[\"\",]", 5},
    {"n_array_incomplete", "[\"x\"", 4},
    {"n_array_incomplete_invalid_value", "[x", 2},
    {"n_array_inner_array_no_comma", "[3[4]]", 6},
    {"n_array_invalid_utf8", "[\377]", 3},
    {"n_array_items_separated_by_semicolon", "[1:2]", 5},
    {"n_array_just_comma", "[,]", 3},
    {"n_array_just_minus", "[-]", 3},
    {"n_array_missing_value", "[   , \"\"]", 9},
    {"n_array_newlines_unclosed", "[\"a\",\0124\012,1,", 11},
    {"n_array_number_and_comma", "[1,]", 4},
    {"n_array_number_and_several_commas", "[1,,]", 5},
    {"n_array_spaces_vertical_tab_formfeed", "[\"\013a\"\\f]", 8},
    {"n_array_star_inside", "[*]", 3},
    {"n_array_unclosed", "[\"\"", 3},
    {"n_array_unclosed_trailing_comma", "[1,", 3},
    {"n_array_unclosed_with_new_lines", "[1,\0121\012,1", 8},
    {"n_array_unclosed_with_object_inside", "[{}", 3},
    {"n_incomplete_false", "[fals]", 6},
    {"n_incomplete_null", "[nul]", 5},
    {"n_incomplete_true", "[tru]", 5},
    {"n_multidigit_number_then_00", "123\000", 4},
    {"n_number_++", "[++1234]", 8},
    {"n_number_+1", "[+1]", 4},
    {"n_number_+Inf", "[+Inf]", 6},
    {"n_number_-01", "[-01]", 5},
    {"n_number_-1.0.", "[-1.0.]", 7},
    {"n_number_-2.", "[-2.]", 5},
    {"n_number_-NaN", "[-NaN]", 6},
    {"n_number_.-1", "[.-1]", 5},
    {"n_number_.2e-3", "[.2e-3]", 7},
    {"n_number_0.1.2", "[0.1.2]", 7},
    {"n_number_0.3e+", "[0.3e+]", 7},
    {"n_number_0.3e", "[0.3e]", 6},
    {"n_number_0.e1", "[0.e1]", 6},
    {"n_number_0_capital_E+", "[0E+]", 5},
    {"n_number_0_capital_E", "[0E]", 4},
    {"n_number_0e+", "[0e+]", 5},
    {"n_number_0e", "[0e]", 4},
    {"n_number_1.0e+", "[1.0e+]", 7},
    {"n_number_1.0e-", "[1.0e-]", 7},
    {"n_number_1.0e", "[1.0e]", 6},
    {"n_number_1_000", "[1 000.0]", 9},
    {"n_number_1eE2", "[1eE2]", 6},
    {"n_number_2.e+3", "[2.e+3]", 7},
    {"n_number_2.e-3", "[2.e-3]", 7},
    {"n_number_2.e3", "[2.e3]", 6},
    {"n_number_9.e+", "[9.e+]", 6},
    {"n_number_Inf", "[Inf]", 5},
    {"n_number_NaN", "[NaN]", 5},
    {"n_number_U+FF11_fullwidth_digit_one", "[\357\274\221]", 5},
    {"n_number_expression", "[1+2]", 5},
    {"n_number_hex_1_digit", "[0x1]", 5},
    {"n_number_hex_2_digits", "[0x42]", 6},
    {"n_number_infinity", "[Infinity]", 10},
    {"n_number_invalid+-", "[0e+-1]", 7},
    {"n_number_invalid-negative-real", "[-123.123foo]", 13},
    {"n_number_invalid-utf-8-in-bigger-int", "[123\345]", 6},
    {"n_number_invalid-utf-8-in-exponent", "[1e1\345]", 6},
    {"n_number_invalid-utf-8-in-int", "[0\345]\012", 5},
    {"n_number_minus_infinity", "[-Infinity]", 11},
    {"n_number_minus_sign_with_trailing_garbage", "[-foo]", 6},
    {"n_number_minus_space_1", "[- 1]", 5},
    {"n_number_neg_int_starting_with_zero", "[-012]", 6},
    {"n_number_neg_real_without_int_part", "[-.123]", 7},
    {"n_number_neg_with_garbage_at_end", "[-1x]", 5},
    {"n_number_real_garbage_after_e", "[1ea]", 5},
    {"n_number_real_with_invalid_utf8_after_e", "[1e\345]", 5},
    {"n_number_real_without_fractional_part", "[1.]", 4},
    {"n_number_starting_with_dot", "[.123]", 6},
    {"n_number_with_alpha", "[1.2a-3]", 8},
    {"n_number_with_alpha_char", "[1.8011670033376514H-308]", 25},
    {"n_number_with_leading_zero", "[012]", 5},
    {"n_object_bad_value", "[\"x\", truth]", 12},
    {"n_object_bracket_key", "{[: \"x\"}\012", 9},
    {"n_object_comma_instead_of_colon", "{\"x\", null}", 11},
    {"n_object_double_colon", "{\"x\"::\"b\"}", 10},
    {"n_object_emoji", "{\360\237\207\250\360\237\207\255}", 10},
    {"n_object_garbage_at_end", "{\"a\":\"a\" 123}", 13},
    {"n_object_key_with_single_quotes", "{key: 'value'}", 14},
    {"n_object_lone_continuation_byte_in_key_and_trailing_comma", "{\"\271\":\"0\",}", 10},
    {"n_object_missing_colon", "{\"a\" b}", 7},
    {"n_object_missing_key", "{:\"b\"}", 6},
    {"n_object_missing_semicolon", "{\"a\" \"b\"}", 9},
    {"n_object_missing_value", "{\"a\":", 5},
    {"n_object_no-colon", "{\"a\"", 4},
    {"n_object_non_string_key", "{1:1}", 5},
    {"n_object_non_string_key_but_huge_number_instead", "{9999E9999:1}", 13},
    {"n_object_repeated_null_null", "{null:null,null:null}", 21},
    {"n_object_several_trailing_commas", "{\"id\":0,,,,,}", 13},
    {"n_object_single_quote", "{'a':0}", 7},
    {"n_object_trailing_comma", "{\"id\":0,}", 9},
    {"n_object_trailing_comment", "{\"a\":\"b\"}/**/", 13},
    {"n_object_trailing_comment_open", "{\"a\":\"b\"}/**//", 14},
    {"n_object_trailing_comment_slash_open", "{\"a\":\"b\"}//", 11},
    {"n_object_trailing_comment_slash_open_incomplete", "{\"a\":\"b\"}/", 10},
    {"n_object_two_commas_in_a_row", "{\"a\":\"b\",,\"c\":\"d\"}", 18},
    {"n_object_unquoted_key", "{a: \"b\"}", 8},
    {"n_object_unterminated-value", "{\"a\":\"a", 7},
    {"n_object_with_single_string", "{ \"foo\" : \"bar\", \"a\" }", 22},
    {"n_object_with_trailing_garbage", "{\"a\":\"b\"}#", 10},
    {"n_single_space", " ", 1},
    {"n_string_1_surrogate_then_escape", "[\"\\uD800\\\"]", 11},
    {"n_string_1_surrogate_then_escape_u", "[\"\\uD800\\u\"]", 12},
    {"n_string_1_surrogate_then_escape_u1", "[\"\\uD800\\u1\"]", 13},
    {"n_string_1_surrogate_then_escape_u1x", "[\"\\uD800\\u1x\"]", 14},
    {"n_string_accentuated_char_no_quotes", "[\303\251]", 4},
    {"n_string_backslash_00", "[\"\\\000\"]", 6},
    {"n_string_escape_x", "[\"\\x00\"]", 8},
    {"n_string_escaped_backslash_bad", "[\"\\\\\\\"]", 7},
    {"n_string_escaped_ctrl_char_tab", "[\"\\\011\"]", 6},
    {"n_string_escaped_emoji", "[\"\\\360\237\214\200\"]", 9},
    {"n_string_incomplete_escape", "[\"\\\"]", 5},
    {"n_string_incomplete_escaped_character", "[\"\\u00A\"]", 9},
    {"n_string_incomplete_surrogate", "[\"\\uD834\\uDd\"]", 14},
    {"n_string_incomplete_surrogate_escape_invalid", "[\"\\uD800\\uD800\\x\"]", 18},
    {"n_string_invalid-utf-8-in-escape", "[\"\\u\345\"]", 7},
    {"n_string_invalid_backslash_esc", "[\"\\a\"]", 6},
    {"n_string_invalid_unicode_escape", "[\"\\uqqqq\"]", 10},
    {"n_string_invalid_utf8_after_escape", "[\"\\\345\"]", 6},
    {"n_string_leading_uescaped_thinspace", "[\\u0020\"asd\"]", 13},
    {"n_string_no_quotes_with_bad_escape", "[\\n]", 4},
    {"n_string_single_doublequote", "\"", 1},
    {"n_string_single_quote", "['single quote']", 16},
    {"n_string_single_string_no_double_quotes", "abc", 3},
    {"n_string_start_escape_unclosed", "[\"\\", 3},
    {"n_string_unescaped_ctrl_char", "[\"a\000a\"]", 7},
    {"n_string_unescaped_newline", "[\"new\012line\"]", 12},
    {"n_string_unescaped_tab", "[\"\011\"]", 5},
    {"n_string_unicode_CapitalU", "\"\\UA66D\"", 8},
    {"n_string_with_trailing_garbage", "\"\"x", 3},
    {"n_structure_100000_opening_arrays", NULL, 0},
    {"n_structure_U+2060_word_joined", "[\342\201\240]", 5},
    {"n_structure_UTF8_BOM_no_data", "\357\273\277", 3},
    {"n_structure_angle_bracket_.", "<.>", 3},
    {"n_structure_angle_bracket_null", "[<null>]", 8},
    {"n_structure_array_trailing_garbage", "[1]x", 4},
    {"n_structure_array_with_extra_array_close", "[1]]", 4},
    {"n_structure_array_with_unclosed_string", "[\"asd]", 6},
    {"n_structure_ascii-unicode-identifier", "a\303\245", 3},
    {"n_structure_capitalized_True", "[True]", 6},
    {"n_structure_close_unopened_array", "1]", 2},
    {"n_structure_comma_instead_of_closing_brace", "{\"x\": true,", 11},
    {"n_structure_double_array", "[][]", 4},
    {"n_structure_end_array", "]", 1},
    {"n_structure_incomplete_UTF8_BOM", "\357\273{}", 4},
    {"n_structure_lone-invalid-utf-8", "\345", 1},
    {"n_structure_lone-open-bracket", "[", 1},
    {"n_structure_no_data", "", 0},
    {"n_structure_null-byte-outside-string", "[\000]", 3},
    {"n_structure_number_with_trailing_garbage", "2@", 2},
    {"n_structure_object_followed_by_closing_object", "{}}", 3},
    {"n_structure_object_unclosed_no_value", "{\"\":", 4},
    {"n_structure_object_with_comment", "{\"a\":/*comment*/\"b\"}", 20},
    {"n_structure_object_with_trailing_garbage", "{\"a\": true} \"x\"", 15},
    {"n_structure_open_array_apostrophe", "['", 2},
    {"n_structure_open_array_comma", "[,", 2},
    {"n_structure_open_array_object", NULL, 0},
    {"n_structure_open_array_open_object", "[{", 2},
    {"n_structure_open_array_open_string", "[\"a", 3},
    {"n_structure_open_array_string", "[\"a\"", 4},
    {"n_structure_open_object", "{", 1},
    {"n_structure_open_object_close_array", "{]", 2},
    {"n_structure_open_object_comma", "{,", 2},
    {"n_structure_open_object_open_array", "{[", 2},
    {"n_structure_open_object_open_string", "{\"a", 3},
    {"n_structure_open_object_string_with_apostrophes", "{'a'", 4},
    {"n_structure_open_open", "[\"\\{[\"\\{[\"\\{[\"\\{", 16},
    {"n_structure_single_eacute", "\351", 1},
    {"n_structure_single_star", "*", 1},
    {"n_structure_trailing_#", "{\"a\":\"b\"}#{}", 12},
    {"n_structure_uescaped_LF_before_string", "[\\u000A\"\"]", 10},
    {"n_structure_unclosed_array", "[1", 2},
    {"n_structure_unclosed_array_partial_null", "[ false, nul", 12},
    {"n_structure_unclosed_array_unfinished_false", "[ true, fals", 12},
    {"n_structure_unclosed_array_unfinished_true", "[ false, tru", 12},
    {"n_structure_unclosed_object", "{\"asd\":\"asd\"", 12},
    {"n_structure_unicode-identifier", "\303\245", 2},
    {"n_structure_whitespace_U+2060_word_joiner", "[\342\201\240]", 5},
    {"n_structure_whitespace_formfeed", "[\014]", 3},
};

static const json_suite_case json_suite_n_new[] = {
    {"n_number_-00.0", "[-00.0]", 7},
    {"n_number_-00e0", "[-00e0]", 7},
    {"n_number_00.0", "[00.0]", 6},
    {"n_number_00e0", "[00e0]", 6},
    {"n_string_octal_escape", "[\"\\012\"]\012", 9},
};

static const json_suite_icase json_suite_i[] = {
    {"i_number_double_huge_neg_exp", "[123.456e-789]", 14, 1},
    {"i_number_huge_exp", "[0.4e0066999999999999999999999999999999999999999999999999999"
        "999999999999999999999999999999999999999999999999999999999999"
        "9999999999999969999999006]", 146, 1},
    {"i_number_neg_int_huge_exp", "[-1e+9999]", 10, 1},
    {"i_number_pos_double_huge_exp", "[1.5e+9999]", 11, 1},
    {"i_number_real_neg_overflow", "[-123123e100000]", 16, 1},
    {"i_number_real_pos_overflow", "[123123e100000]", 15, 1},
    {"i_number_real_underflow", "[123e-10000000]", 15, 1},
    {"i_number_too_big_neg_int", "[-123123123123123123123123123123]", 33, 1},
    {"i_number_too_big_pos_int", "[100000000000000000000]", 23, 1},
    {"i_number_very_big_negative_int", "[-237462374673276894279832749832423479823246327846]", 51, 1},
    {"i_object_key_lone_2nd_surrogate", "{\"\\uDFAA\":0}", 12, 0},
    {"i_string_1st_surrogate_but_2nd_missing", "[\"\\uDADA\"]", 10, 0},
    {"i_string_1st_valid_surrogate_2nd_invalid", "[\"\\uD888\\u1234\"]", 16, 0},
    {"i_string_UTF-16LE_with_BOM", "\377\376[\000\"\000\351\000\"\000]\000", 12, 0},
    {"i_string_UTF-8_invalid_sequence", "[\"\346\227\245\321\210\372\"]", 10, 0},
    {"i_string_UTF8_surrogate_U+D800", "[\"\355\240\200\"]", 7, 0},
    {"i_string_incomplete_surrogate_and_escape_valid", "[\"\\uD800\\n\"]", 12, 0},
    {"i_string_incomplete_surrogate_pair", "[\"\\uDd1ea\"]", 11, 0},
    {"i_string_incomplete_surrogates_escape_valid", "[\"\\uD800\\uD800\\n\"]", 18, 0},
    {"i_string_invalid_lonely_surrogate", "[\"\\ud800\"]", 10, 0},
    {"i_string_invalid_surrogate", "[\"\\ud800abc\"]", 13, 0},
    {"i_string_invalid_utf-8", "[\"\377\"]", 5, 0},
    {"i_string_inverted_surrogates_U+1D11E", "[\"\\uDd1e\\uD834\"]", 16, 0},
    {"i_string_iso_latin_1", "[\"\351\"]", 5, 0},
    {"i_string_lone_second_surrogate", "[\"\\uDFAA\"]", 10, 0},
    {"i_string_lone_utf8_continuation_byte", "[\"\201\"]", 5, 0},
    {"i_string_not_in_unicode_range", "[\"\364\277\277\277\"]", 8, 0},
    {"i_string_overlong_sequence_2_bytes", "[\"\300\257\"]", 6, 0},
    {"i_string_overlong_sequence_6_bytes", "[\"\374\203\277\277\277\277\"]", 10, 0},
    {"i_string_overlong_sequence_6_bytes_null", "[\"\374\200\200\200\200\200\"]", 10, 0},
    {"i_string_truncated-utf-8", "[\"\340\377\"]", 6, 0},
    {"i_string_utf16BE_no_BOM", "\000[\000\"\000\351\000\"\000]", 10, 0},
    {"i_string_utf16LE_no_BOM", "[\000\"\000\351\000\"\000]\000", 10, 0},
    {"i_structure_500_nested_arrays", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 1000, 1},
    {"i_structure_UTF-8_BOM_empty_object", "\357\273\277{}", 5, 0},
};

#define JSON_SUITE_N(a) (sizeof(a) / sizeof((a)[0]))

/* The bytes of a case whose bytes are NULL (malloc'd; caller frees), or
 * NULL for an unknown name. */
static inline char *json_suite_big(const char *name, size_t *len)
{
    const char *unit;
    size_t reps;
    int nl;
    if (!strcmp(name, "n_structure_100000_opening_arrays")) {
        unit = "[";
        reps = 100000;
        nl = 0;
    } else if (!strcmp(name, "n_structure_open_array_object")) {
        unit = "[{\"\":";
        reps = 50000;
        nl = 1;
    } else {
        return NULL;
    }
    size_t u = strlen(unit);
    char *b = malloc(u * reps + 1);
    if (!b)
        return NULL;
    for (size_t i = 0; i < reps; i++)
        memcpy(b + i * u, unit, u);
    if (nl)
        b[u * reps] = '\n';
    *len = u * reps + (size_t)nl;
    return b;
}

#endif /* KK_TEST_JSON_SUITE_VECTORS_H */
