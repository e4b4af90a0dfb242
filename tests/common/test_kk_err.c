/* Tests of common/kk_err and common/kk_args. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kk_args.h"
#include "kk_err.h"

static void exit_codes_should_follow_the_contract_table(void **state)
{
    (void)state;
    assert_int_equal(kk_exit_code(KK_OK), 0);
    assert_int_equal(kk_exit_code(KK_E_CHECK), 1);
    assert_int_equal(kk_exit_code(KK_E_FORMAT), 2);
    assert_int_equal(kk_exit_code(KK_E_RANGE), 2);
    assert_int_equal(kk_exit_code(KK_E_IO), 2);
    assert_int_equal(kk_exit_code(KK_E_USAGE), 3);
}

static void err_print_should_show_file_line_col_and_where(void **state)
{
    (void)state;
    kk_err e;
    kk_err_clear(&e);
    kk_err_set(&e, KK_E_RANGE, "value %d too big", 7);
    kk_err_file(&e, "p.yaml");
    kk_err_linecol(&e, 3, 5);
    kk_err_where(&e, "params.n");
    char buf[1024] = {0};
    FILE *f = fmemopen(buf, sizeof buf, "w");
    kk_err_print(f, "prog", &e);
    fclose(f);
    assert_string_equal(buf, "prog: p.yaml:3:5: at params.n: value 7 too big\n");
}

static void arg_ids_should_parse_lists_and_reject_garbage(void **state)
{
    (void)state;
    int32_t *ids;
    size_t n;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_arg_ids("--tokens", "1,22,333", 511, "token id", &ids, &n, &e), KK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[2], 333);
    free(ids);
    assert_int_equal(kk_arg_ids("--tokens", "1,,2", 511, "token id", &ids, &n, &e), KK_E_FORMAT);
    assert_string_equal(e.where, "--tokens");
    assert_int_equal(kk_arg_ids("--tokens", "1,512", 511, "token id", &ids, &n, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "512"));
    assert_int_equal(kk_arg_ids("--tokens", "", 511, "token id", &ids, &n, &e), KK_E_FORMAT);
    assert_int_equal(kk_arg_ids("--tokens", "-1", 511, "token id", &ids, &n, &e), KK_E_FORMAT);
}

static void arg_i64_should_name_the_flag_and_range(void **state)
{
    (void)state;
    int64_t v;
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_arg_i64("-n", "12", 0, 100, &v, &e), KK_OK);
    assert_int_equal(v, 12);
    assert_int_equal(kk_arg_i64("-n", "101", 0, 100, &v, &e), KK_E_RANGE);
    assert_non_null(strstr(e.msg, "0..100"));
    assert_int_equal(kk_arg_i64("-n", "1x", 0, 100, &v, &e), KK_E_FORMAT);
}

static void rename_should_swap_whole_words_and_where_only(void **state)
{
    (void)state;
    kk_err e;
    kk_err_clear(&e);
    kk_err_set(&e, KK_E_RANGE, "n_kv_heads: 3 is out of range (allowed: 1..4, and dividing n_heads)");
    kk_err_where(&e, "n_kv_heads");
    assert_int_equal(kk_err_rename(&e, "n_heads", "--heads"), 1);
    /* "n_kv_heads" contains "heads" but not the word "n_heads": untouched */
    assert_string_equal(e.msg, "n_kv_heads: 3 is out of range (allowed: 1..4, and dividing --heads)");
    assert_string_equal(e.where, "n_kv_heads");
    assert_int_equal(kk_err_rename(&e, "n_kv_heads", "--kv-heads"), 1);
    assert_string_equal(e.msg, "--kv-heads: 3 is out of range (allowed: 1..4, and dividing --heads)");
    assert_string_equal(e.where, "--kv-heads");
    assert_int_equal(kk_err_rename(&e, "n_layers", "--layers"), 0);
    assert_int_equal(kk_err_rename(NULL, "a", "b"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exit_codes_should_follow_the_contract_table),
        cmocka_unit_test(err_print_should_show_file_line_col_and_where),
        cmocka_unit_test(arg_ids_should_parse_lists_and_reject_garbage),
        cmocka_unit_test(arg_i64_should_name_the_flag_and_range),
        cmocka_unit_test(rename_should_swap_whole_words_and_where_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
