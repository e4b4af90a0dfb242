/* Tests of common/kk_fault: KAKEYA_FAULT items match exactly (no prefix or
 * substring match), empty items are ignored, and an unknown name is refused
 * with where = KAKEYA_FAULT and the allowed names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_fault.h"

static void an_unset_or_empty_variable_should_switch_nothing_on(void **state)
{
    (void)state;
    kk_err e;
    unsetenv(KK_FAULT_ENV);
    assert_false(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    assert_int_equal(kk_fault_active_count(), 0);
    assert_int_equal(kk_fault_check(&e), KK_OK);
    setenv(KK_FAULT_ENV, "", 1);
    assert_false(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    assert_int_equal(kk_fault_check(&e), KK_OK);
    setenv(KK_FAULT_ENV, ",,", 1);
    assert_int_equal(kk_fault_active_count(), 0);
    assert_int_equal(kk_fault_check(&e), KK_OK);
    unsetenv(KK_FAULT_ENV);
}

static void listed_faults_should_match_whole_items_only(void **state)
{
    (void)state;
    setenv(KK_FAULT_ENV, "codec-passthrough", 1);
    assert_true(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    assert_int_equal(kk_fault_active_count(), 1);
    setenv(KK_FAULT_ENV, ",codec-passthrough,", 1);
    assert_true(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    /* Prefixes, suffixes and padding are other names. */
    setenv(KK_FAULT_ENV, "codec-passthroughx,xcodec-passthrough, codec-passthrough", 1);
    assert_false(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    setenv(KK_FAULT_ENV, "codec", 1);
    assert_false(kk_fault_on(KK_FAULT_CODEC_PASSTHROUGH));
    unsetenv(KK_FAULT_ENV);
}

static void an_unknown_fault_should_be_refused_with_its_name_and_the_allowed_ones(void **state)
{
    (void)state;
    kk_err e;
    kk_err_clear(&e);
    setenv(KK_FAULT_ENV, "codec-passthrough,codec-pasthrough", 1);
    assert_int_equal(kk_fault_check(&e), KK_E_RANGE);
    assert_string_equal(e.where, KK_FAULT_ENV);
    assert_non_null(strstr(e.msg, "found \"codec-pasthrough\""));
    assert_non_null(strstr(e.msg, "allowed: codec-passthrough"));
    unsetenv(KK_FAULT_ENV);
}

static void the_table_should_name_and_describe_every_fault(void **state)
{
    (void)state;
    assert_true(kk_fault_count() >= 1);
    for (size_t i = 0; i < kk_fault_count(); i++) {
        assert_non_null(kk_fault_name(i));
        assert_true(strlen(kk_fault_what(i)) > 10);
    }
    assert_null(kk_fault_name(kk_fault_count()));
    assert_string_equal(kk_fault_name(0), KK_FAULT_CODEC_PASSTHROUGH);
    /* The faults the run loop's tests switch on are known and counted. */
    static const char *const run_faults[] = {KK_FAULT_RUN_ALLOC, KK_FAULT_THREAD_START};
    for (size_t i = 0; i < 2; i++) {
        int found = 0;
        for (size_t k = 0; k < kk_fault_count(); k++)
            found |= !strcmp(kk_fault_name(k), run_faults[i]);
        assert_true(found);
        char item[64];
        snprintf(item, sizeof item, "%s:2", run_faults[i]);
        setenv(KK_FAULT_ENV, item, 1);
        kk_err e;
        assert_int_equal(kk_fault_check(&e), KK_OK);
        assert_int_equal(kk_fault_nth(run_faults[i]), 2);
    }
    unsetenv(KK_FAULT_ENV);
}

static void a_counted_fault_should_take_its_occurrence_after_a_colon(void **state)
{
    (void)state;
    kk_err e;
    setenv(KK_FAULT_ENV, KK_FAULT_EVIDENCE_ALLOC, 1);
    assert_int_equal(kk_fault_nth(KK_FAULT_EVIDENCE_ALLOC), 1);
    setenv(KK_FAULT_ENV, "codec-passthrough,evidence-alloc:37", 1);
    assert_int_equal(kk_fault_nth(KK_FAULT_EVIDENCE_ALLOC), 37);
    assert_true(kk_fault_on(KK_FAULT_EVIDENCE_ALLOC));
    assert_int_equal(kk_fault_check(&e), KK_OK);
    assert_int_equal(kk_fault_active_count(), 2);
    /* Not a count, or a fault that takes none: unknown items. */
    static const char *const bad[] = {"evidence-alloc:", "evidence-alloc:0", "evidence-alloc:x",
                                      "evidence-alloc:-1", "codec-passthrough:2", "fsync:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv(KK_FAULT_ENV, bad[i], 1);
        kk_err_clear(&e);
        assert_int_equal(kk_fault_check(&e), KK_E_RANGE);
        assert_int_equal(kk_fault_active_count(), 0);
        assert_non_null(strstr(e.msg, "evidence-alloc[:N]"));
    }
    unsetenv(KK_FAULT_ENV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_unset_or_empty_variable_should_switch_nothing_on),
        cmocka_unit_test(listed_faults_should_match_whole_items_only),
        cmocka_unit_test(an_unknown_fault_should_be_refused_with_its_name_and_the_allowed_ones),
        cmocka_unit_test(the_table_should_name_and_describe_every_fault),
        cmocka_unit_test(a_counted_fault_should_take_its_occurrence_after_a_colon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
