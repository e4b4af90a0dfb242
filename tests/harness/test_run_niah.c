/* Tests of harness/run_niah's synth: model source parser: a knob out of
 * range is refused at the preset parameter (where) with the source's own
 * key in the message, never a command-line flag (synth_check names
 * synth_cfg fields; the parser maps the one key that differs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "run_niah.h"
#include "synth.h"

static void a_bad_synth_source_knob_should_name_the_source_key_not_a_flag(void **state)
{
    (void)state;
    static const struct {
        const char *src, *key;
    } cases[] = {
        {"synth:niah?key_dim=3", "key_dim: 3 is out of range"},
        {"synth:niah?distractors=99", "distractors: 99 is out of range"},
        {"synth:niah?n_outliers=99", "n_outliers: 99 is out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        synth_cfg c;
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(run_niah_parse_synth(cases[i].src, "model", &c, &e), KK_E_RANGE);
        assert_string_equal(e.where, "model");
        assert_non_null(strstr(e.msg, cases[i].src));
        if (!strstr(e.msg, cases[i].key))
            fail_msg("%s: %s", cases[i].src, e.msg);
        assert_null(strstr(e.msg, "--"));
        assert_null(strstr(e.msg, "niah_distractors"));
    }
    synth_cfg c;
    assert_int_equal(run_niah_parse_synth("synth:niah?key_dim=16&distractors=3", "model", &c, NULL),
                     KK_OK);
    assert_int_equal(c.key_dim, 16);
    assert_int_equal(c.niah_distractors, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_synth_source_knob_should_name_the_source_key_not_a_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
